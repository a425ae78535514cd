"""`make run`'s own script, started for real: it ends with one block (URL, admin login, where the logs go) that
stays the last thing on the terminal, the printed URL answers, the printed login logs in, each request then
gets one short line, and stopping it (a SIGTERM to its process group, as `timeout` sends) stops the server and
the whole worker, no qcluster process left behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.slow

RULE = "-" * 78


class Terminal:
    """What the script prints, line by line, with the time each line arrived."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(self.lines)
            if found is not None:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout} s; the terminal showed:\n{self.text()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (pid -> command line), from /proc."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands.get(child, "")
                todo.append(child)
    return found


def _alive(pid: int, command: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        now = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and now == command


def _block(lines) -> tuple[int, list[str]] | None:
    """The index of the block's closing rule and the block's lines, once it is complete."""
    texts = [line for _, line in lines]
    rules = [i for i, line in enumerate(texts) if line == RULE]
    if len(rules) >= 2:
        return rules[1], texts[rules[0] + 1 : rules[1]]
    return None


def test_make_run_ends_with_one_block_whose_url_and_login_work_and_stops_every_process(tmp_path):
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD", "DEBUG"}
    }
    environment.update(
        {
            # A database and log folder of this test's own; the ORM broker, as a new user's `make run` has.
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
            "RUN_ADDR": f"127.0.0.1:{port}",
            "RUN_LOG_DIR": str(tmp_path / "log"),
            "ADMIN_USERNAME": "admin",
            "CACHE_DIR": str(tmp_path / "cache"),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    process = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    terminal = Terminal(process)
    started: dict[int, str] = {}
    try:
        end, block = terminal.wait_for(_block, timeout=240, what="closing line of the block")
        started = _descendants(process.pid)
        assert any("qcluster" in c for c in started.values()), started
        assert any("runserver" in c for c in started.values()), started

        # The block: where to go, the login to use, where the logs are.
        fields = {m[1]: m[2] for line in block if (m := re.match(r"\s+(Open|Admin login|Logs)\s+(.*)", line))}
        assert fields["Open"] == f"http://127.0.0.1:{port}/"
        login = re.match(r"admin / (\S+)\s+\(generated, shown this once", fields["Admin login"])
        assert login, fields
        for name in ("web.log", "worker.log", "setup.log"):
            assert str(tmp_path / "log" / name) in fields["Logs"]
            assert (tmp_path / "log" / name).exists()
        assert "Ctrl-C stops the server and the worker" in "\n".join(block)
        # Nothing before the block repeats the password: it is said once, in the block.
        assert terminal.text().count(login[1]) == 1

        # The block stays the last thing on the terminal: the start-up chatter went to the log files.
        time.sleep(4)
        assert len(terminal.lines) == end + 1, terminal.text()
        assert "Starting development server" in (tmp_path / "log" / "web.log").read_text()
        assert " running." in (tmp_path / "log" / "worker.log").read_text()

        # The printed URL answers with the login page; the printed login logs in.
        browser = requests.Session()
        page = browser.get(fields["Open"], timeout=30)
        assert page.status_code == 200 and page.url.endswith("/accounts/login/?next=/"), page.url
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        answer = browser.post(
            page.url,
            data={"username": "admin", "password": login[1], "csrfmiddlewaretoken": token},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.url == fields["Open"], answer.url
        admin = browser.get(f"{fields['Open']}admin/", timeout=30)
        assert admin.status_code == 200 and "Site administration" in admin.text

        # One short line per request (static files left out), after the block.
        terminal.wait_for(
            lambda lines: (
                True
                if any(re.fullmatch(r"[\d:]+  POST /accounts/login/\S*  302", t) for _, t in lines)
                else None
            ),
            timeout=10,
            what="request line for the login",
        )
        after = [t for _, t in terminal.lines[end + 1 :]]
        assert all(re.fullmatch(r"[\d:]+  (GET|POST) \S+  \d{3}", t) for t in after), after
        assert not any("/static/" in t for t in after)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # what `timeout` (and a closed terminal) sends
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            left = {pid: c for pid, c in (started or {}).items() if _alive(pid, c)}
            for pid in left:
                os.kill(pid, signal.SIGKILL)
    assert process.returncode == 0, terminal.text()
    assert terminal.text().endswith("[run] Stopped."), terminal.text()
    assert not left, f"still running after the stop: {left}"
    assert "has stopped." in (tmp_path / "log" / "worker.log").read_text()
