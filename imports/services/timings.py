"""Where an import's time goes: busy seconds per stage, per thread, beside the run's wall time.

The engine reads and validates in a reader thread while the main thread writes, so stages of the two
threads overlap: each thread's stages are counted apart. The main thread's stages add up to the wall time
(`other` is what no stage covers: loading the job, the re-sent checks, the heartbeats, the progress), its `wait` being the time
it waited for the reader's next chunk; the reader's add up to at most the wall time. A stage timed inside
another (a writer's load file inside the chunk's write) is taken out of the outer one, so nothing counts
twice. Cheap: one perf_counter pair per chunk and stage, nothing per row.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

# Main thread: the checks before any row is read (the whole-file encoding check, headers, the table
# against its configuration), waiting for the reader, the rows made ready for the database (the job's own
# rows file on SQLite, LOAD DATA's file on MySQL, the parameter rows of executemany), the database's load
# (LOAD DATA, executemany into the table, the copy from the job's own file), the rejected rows recorded,
# the summary query.
MAIN_STAGES = ("checks", "wait", "load_file", "server_load", "rejects", "summary")
# Reader thread: parsing the file's chunks, validating them, and, for an append-only table, what the writes
# can do ahead: LOAD DATA's file (MySQL) and the summary added up from the rows. `load_file` and `summary`
# count to the thread that does them; `read` and `validate` are always the reader's.
READER_STAGES = ("read", "validate", "load_file", "summary")
_READER_ONLY = ("read", "validate")

_active = threading.local()


class StageTimes:
    """The stage clock of one import run (see the module's docstring)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ended: float | None = None
        self.main = dict.fromkeys(MAIN_STAGES, 0.0)
        self.reader = dict.fromkeys(READER_STAGES, 0.0)
        self._lock = threading.Lock()
        self._main_thread = threading.get_ident()  # the thread that runs the import

    def add(self, stage: str, seconds: float) -> None:
        in_main = threading.get_ident() == self._main_thread
        table = (
            self.reader if stage in _READER_ONLY or (stage in READER_STAGES and not in_main) else self.main
        )
        if stage not in table:
            raise ValueError(f"Unknown import stage {stage!r}.")
        with self._lock:
            table[stage] += seconds

    def stop(self) -> None:
        self.ended = time.perf_counter()

    def as_dict(self) -> dict:
        """{"wall": s, "main": {stage: s, ..., "other": s}, "reader": {stage: s}}, seconds to 4 places."""
        wall = (self.ended if self.ended is not None else time.perf_counter()) - self.started
        main = dict(self.main)
        main["other"] = max(0.0, wall - sum(main.values()))
        return {
            "wall": round(wall, 4),
            "main": {k: round(v, 4) for k, v in main.items()},
            "reader": {k: round(v, 4) for k, v in self.reader.items()},
        }

    @contextlib.contextmanager
    def active(self) -> Iterator[StageTimes]:
        """Make this clock the one `stage_timed` adds to, in this thread, for the block."""
        previous = getattr(_active, "clock", None), getattr(_active, "stack", None)
        _active.clock, _active.stack = self, []
        try:
            yield self
        finally:
            _active.clock, _active.stack = previous


@contextlib.contextmanager
def stage_timed(stage: str, clock: StageTimes | None = None) -> Iterator[None]:
    """Count the block's wall time to `stage` of `clock` (default: this thread's active clock; none: not
    counted). Time spent in stages timed inside the block is counted to them, not to this one."""
    if clock is None:
        clock = getattr(_active, "clock", None)
    if clock is None:
        yield
        return
    stack = getattr(_active, "stack", None) if clock is getattr(_active, "clock", None) else None
    if stack is None:
        stack = []
    inner = [0.0]
    stack.append(inner)
    started = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - started
        stack.pop()
        clock.add(stage, spent - inner[0])
        if stack:
            stack[-1][0] += spent
