"""Read distributors' delimited text files: detect the format, peek at the head, count and stream records."""

import codecs
import csv
import functools
import io
import logging
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from charset_normalizer import from_bytes
from django.conf import settings

from importhub.errors import FileRejected
from tableconfig.naming import normalize_name

from .workbooks import WorkbookSource, workbook_chunks, workbook_convert, workbook_is, workbook_release

logger = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")
# Detection and the head only ever look at this much of a file, so their cost does not grow with it.
HEAD_BYTES = 64 * 1024
HEAD_MAX_BYTES = 8 * 1024 * 1024
SNIFF_RECORDS = 50
# The whole-file scan's block: small enough that the scanner's masks and positions stay in the CPU's cache
# (16 MiB blocks counted 1 GB in 1.9 s, 512 KiB ones in 1.4 s on the benchmark machine).
SCAN_BLOCK_BYTES = 512 * 1024
# What the import's reader hands Arrow per read, at least: small, because Arrow keeps the blocks its batches
# came from while they live (8 MiB blocks cost 400 MB at 4M rows, 1 MiB ones 200 MB, at the same speed). A read
# goes on past a block until it holds the end of a record, so a record longer than a block is still read
# whole, up to IMPORT_MAX_RECORD_BYTES (a plain error past it).
ARROW_BLOCK_BYTES = 1024 * 1024

# charset-normalizer cannot tell the Latin code pages apart on short samples (it reads cp1252 "Muñoz"
# as cp1250 "Muńoz", "Ç" as cp852 "Ă"); distributors' legacy exports are Windows-1252, so a guess that
# only yields Latin letters means cp1252. A guess that finds another script (Cyrillic, CJK...) stands.
_SCRIPT_NEUTRAL_BLOCKS = frozenset(
    {
        "Control character",
        "General Punctuation",
        "Currency Symbols",
        "Letterlike Symbols",
        "Number Forms",
        "Spacing Modifier Letters",
        "Superscripts and Subscripts",
        "Combining Diacritical Marks",
        "Box Drawing",
        "Block Elements",
        "Geometric Shapes",
        "Mathematical Operators",
    }
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.01

_LF, _CR, _QUOTE = 0x0A, 0x0D, 0x22
_OUT, _IN, _PENDING = 0, 1, 2  # outside quotes, inside, just after a quote that closes unless doubled
_NO_POSITIONS = np.empty(0, dtype=np.intp)
_BOM = codecs.BOM_UTF8
# Concatenated exports: the first byte-order marks removed are each noted with their row, the rest counted.
BOM_NOTES_KEPT = 20
# The encoding a UTF-8-looking file falls back to when a later byte is not UTF-8 (and all before it was ASCII).
FALLBACK_ENCODING = "cp1252"


class ReadError(FileRejected):
    """A file that cannot be read as delimited text; `code` says why, `details["row"]` where, if known."""

    code = "unreadable"


@dataclass(frozen=True)
class FileFormat:
    encoding: str
    delimiter: str
    # A workbook's sheet, converted to a CSV working file (workbooks.py); None for a text file.
    workbook: WorkbookSource | None = None


@dataclass
class FileHead:
    headers: list[str]
    normalized: list[str]
    sample: list[list[str]]


@dataclass
class RaggedRow:
    row: int
    expected: int
    found: int
    values: list[str]


@dataclass
class Chunk:
    frame: pd.DataFrame
    row_numbers: np.ndarray
    ragged: list[RaggedRow]
    # What the reader changed in these rows and must say (a byte-order mark removed, with its row).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileScan:
    """What one streaming pass over a whole file found: the encoding every byte decodes in, and the count."""

    fmt: FileFormat
    records: int | None  # data records (header and blank lines excluded); None when not counted


# Row numbers are what a spreadsheet shows for a file without blank lines: the header is row 1 and
# the n-th data record is row n + 1. Blank lines are not records and do not take a number, so a
# quoted value spanning several lines is still one row. file_records_count counts the same records.


def file_format_detect(*, path: Path, name: str | None = None, whole_file: bool = False) -> FileFormat:
    """Detect the encoding and delimiter of a delimited text file from a bounded head sample.

    With `whole_file`, the encoding is then checked against every byte of the file (one streaming pass,
    bounded memory, the same check as quick validation's count): a file whose head is ASCII and whose later
    bytes are not UTF-8 is read as cp1252; a file that fits no supported encoding raises ReadError
    "undecodable" naming the byte offset and the row.
    """
    name = name or path.name
    with path.open("rb") as raw:
        head = raw.read(HEAD_BYTES)
        at_eof = not raw.read(1)
    if not head:
        raise ReadError(f"{name} is empty.", code="empty_file")
    encoding = _encoding_detect(head=head, at_eof=at_eof, name=name)
    text = _head_decode(head=head, encoding=encoding, at_eof=at_eof, name=name)
    if not text.strip():
        raise ReadError(f"{name} is empty.", code="empty_file")
    fmt = FileFormat(encoding=encoding, delimiter=_delimiter_sniff(text=text, at_eof=at_eof))
    if whole_file and not at_eof:
        fmt = file_scan(path=path, fmt=fmt, name=name, count=False).fmt
    logger.debug("Detected %s in %s", fmt, name)
    return fmt


def file_head_read(*, path: Path, fmt: FileFormat, sample_rows: int = 5, name: str | None = None) -> FileHead:
    """Read the header and the first `sample_rows` data records, looking only at the file's head."""
    head, _ = _head_parse(path=path, fmt=fmt, sample_rows=sample_rows, name=name or path.name)
    return head


def file_open_head(
    *,
    path: Path,
    sample_rows: int = 5,
    name: str | None = None,
    whole_file: bool = False,
    sheet: str | None = None,
) -> tuple[FileFormat, FileHead]:
    """Detect a file's format (checked against the whole file with `whole_file`) and read its head.

    A workbook (by its name's extension) is read from `sheet`, or its first sheet, through its CSV working
    file (workbooks.py); the returned format carries it to file_scan and file_chunks_read."""
    if workbook_is(name or path.name):
        source = workbook_convert(path=path, name=name or path.name, sheet=sheet)
        fmt = FileFormat(encoding="utf-8", delimiter=",", workbook=source)
        return fmt, file_head_read(path=Path(source.working), fmt=fmt, sample_rows=sample_rows, name=name)
    fmt = file_format_detect(path=path, name=name, whole_file=whole_file)
    return fmt, file_head_read(path=path, fmt=fmt, sample_rows=sample_rows, name=name)


def file_records_count(*, path: Path, fmt: FileFormat, name: str | None = None) -> int:
    """Count the data records (header and blank lines excluded) with a streaming, quote-aware byte scan."""
    return file_scan(path=path, fmt=fmt, name=name).records


def file_scan(*, path: Path, fmt: FileFormat, name: str | None = None, count: bool = True) -> FileScan:
    """One streaming pass over the whole file: check every byte decodes, settle the encoding, count records.

    The encoding is the head's (`fmt`), except that a file detected as UTF-8 (no byte-order mark) whose bytes
    before the first non-UTF-8 byte are all ASCII is cp1252 (legacy exports); anything else that does not
    decode raises ReadError "undecodable" with the byte offset and the row. file_format_detect(whole_file=True)
    and quick validation both decide here, so they cannot choose different encodings for one file.
    """
    name = name or path.name
    if fmt.workbook is not None:
        text = FileFormat(encoding=fmt.encoding, delimiter=fmt.delimiter)
        scan = file_scan(path=Path(fmt.workbook.working), fmt=text, name=name, count=count)
        return FileScan(fmt=fmt, records=scan.records)
    bom, body = _encoding_layout(path=path, encoding=fmt.encoding)
    if not _ascii_transparent(body):
        with _Utf8Source(path=path, fmt=fmt, offset=0, records_before=0, name=name) as source:
            while source.read(SCAN_BLOCK_BYTES):
                pass
        return FileScan(fmt=fmt, records=max(source.scanner.records - 1, 0) if count else None)
    # In UTF-8 and the single-byte code pages, quotes and line breaks are their ASCII bytes: the count needs
    # no decoding, and the decoding check needs no text (ASCII blocks are skipped, others only validated).
    check = _DecodeCheck(encoding=fmt.encoding, body=body)
    scanner = _RecordScanner(delimiter=fmt.delimiter) if count else None
    feed = _RecordFeed(scanner) if scanner is not None and check.utf8 else None
    block = bytearray(SCAN_BLOCK_BYTES)
    offset = bom
    with path.open("rb") as raw:
        raw.seek(bom)
        while size := raw.readinto(block):
            data = block if size == len(block) else bytes(block[:size])
            bad = check.feed(data, offset=offset)
            if feed is not None and not check.utf8:
                feed.drop = False  # a cp1252 file has no byte-order marks: those bytes are text
            if bad is not None:
                raise _undecodable_error(
                    path=path,
                    fmt=fmt,
                    name=name,
                    check=check,
                    bad=bad,
                    data=data,
                    offset=offset,
                    scanner=scanner,
                    start=bom,
                )
            if feed is not None:
                feed.feed(data)
            elif scanner is not None:
                scanner.feed(data)
            offset += size
        bad = check.finish(offset=offset)
        if bad is not None:
            raise _undecodable_error(
                path=path,
                fmt=fmt,
                name=name,
                check=check,
                bad=bad,
                data=b"",
                offset=offset,
                scanner=scanner,
                start=bom,
            )
    settled = FileFormat(encoding=check.encoding, delimiter=fmt.delimiter)
    if settled != fmt:
        logger.info(
            "%s: byte %s is not UTF-8 and all before it is ASCII: read as %s",
            name,
            check.switched_at,
            settled.encoding,
        )
    if scanner is None:
        return FileScan(fmt=settled, records=None)
    if feed is not None:
        feed.feed(b"", final=True)
    scanner.finish()
    if scanner.state == _IN:
        raise _unclosed_quote_error(name=name, row=scanner.records)
    return FileScan(fmt=settled, records=max(scanner.records - 1, 0))


def file_chunks_read(
    *, path: Path, fmt: FileFormat, chunk_rows: int = 50_000, name: str | None = None
) -> Iterator[Chunk]:
    """Stream every data record as text in chunks of `chunk_rows`; rows with the wrong field count go to `ragged`."""
    name = name or path.name
    if fmt.workbook is not None:
        working = Path(fmt.workbook.working)
        text = FileFormat(encoding=fmt.encoding, delimiter=fmt.delimiter)
        head, _ = _head_parse(path=working, fmt=text, sample_rows=0, name=name)
        chunks = file_chunks_read(path=working, fmt=text, chunk_rows=chunk_rows, name=name)
        yield from workbook_chunks(source=fmt.workbook, chunks=chunks, columns=head.normalized)
        workbook_release(fmt.workbook)
        return
    head, data_offset = _head_parse(path=path, fmt=fmt, sample_rows=0, name=name)
    columns = head.normalized
    # Arrow may call the handler from its read-ahead thread while a batch is being handled here:
    # a deque's append and popleft are atomic, so no report is lost between the two.
    reported: deque[RaggedRow] = deque()

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        # Arrow numbers records from 1 after the header it was not shown, skipping blank lines.
        reported.append(
            RaggedRow(
                row=(row.number or 0) + 1,
                expected=row.expected_columns,
                found=row.actual_columns,
                values=_record_split(text=row.text, delimiter=fmt.delimiter),
            )
        )
        return "skip"

    longest = max(int(settings.IMPORT_MAX_RECORD_BYTES), 1)
    source = _Utf8Source(
        path=path, fmt=fmt, offset=data_offset, records_before=1, name=name, record_limit=longest
    )
    numbering = _RowNumbering()
    buffer = _ChunkBuffer(columns=columns)
    with source:
        try:
            reader = pa_csv.open_csv(
                source,
                read_options=pa_csv.ReadOptions(
                    use_threads=False,  # serial parsing is what gives the invalid-row handler row numbers
                    # What Arrow asks for; each read gives it about ARROW_BLOCK_BYTES (see records_read).
                    block_size=longest + 2 * ARROW_BLOCK_BYTES,
                    column_names=columns,
                    encoding="utf8",
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=fmt.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                    invalid_row_handler=on_invalid_row,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(columns, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                # Every ragged row of this batch was reported before the batch was made.
                ragged = _drain(reported)
                numbering.exclude([row.row for row in ragged])
                buffer.add(
                    batch=batch,
                    row_numbers=numbering.assign(batch.num_rows),
                    ragged=ragged,
                    marks=_drain(source.feed.rows),
                )
                yield from buffer.full_chunks(chunk_rows=chunk_rows)
        except pa.ArrowInvalid as exc:
            raise ReadError(
                f"{name} could not be read after row {numbering.next_row - 1}: {exc}",
                code="unreadable",
                details={"row": numbering.next_row},
            ) from exc
    buffer.add(batch=None, row_numbers=None, ragged=_drain(reported), marks=_drain(source.feed.rows))
    yield from buffer.rest(more_marks=source.feed.dropped - BOM_NOTES_KEPT)


def _drain(reported: deque) -> list:
    drained = []
    while reported:
        drained.append(reported.popleft())
    return drained


class _RowNumbering:
    """Gives each batch's valid rows their record numbers, stepping over the ragged rows Arrow skipped."""

    def __init__(self) -> None:
        self.next_row = 2
        self._skipped = np.empty(0, dtype=np.int64)

    def exclude(self, rows: list[int]) -> None:
        if rows:
            self._skipped = np.union1d(self._skipped, np.asarray(rows, dtype=np.int64))

    def assign(self, count: int) -> np.ndarray:
        skipped = self._skipped[self._skipped >= self.next_row]
        # The i-th valid row is next_row + i plus the number of skipped rows at or before it.
        thresholds = skipped - np.arange(len(skipped)) - self.next_row
        index = np.arange(count, dtype=np.int64)
        numbers = self.next_row + index + np.searchsorted(thresholds, index, side="right")
        if count:
            self.next_row = int(numbers[-1]) + 1
        self._skipped = skipped
        return numbers


class _ChunkBuffer:
    """Regroups Arrow's byte-sized batches into chunks of a fixed number of rows."""

    def __init__(self, *, columns: list[str]) -> None:
        self.columns = columns
        self.batches: list[pa.RecordBatch] = []
        self.numbers: list[np.ndarray] = []
        self.ragged: list[RaggedRow] = []
        self.marks: list[int] = []  # rows whose byte-order mark was removed
        self.size = 0

    def add(
        self,
        *,
        batch: pa.RecordBatch | None,
        row_numbers: np.ndarray | None,
        ragged: list[RaggedRow],
        marks: list[int] = (),
    ) -> None:
        self.ragged.extend(ragged)
        self.marks.extend(marks)
        if batch is not None and batch.num_rows:
            self.batches.append(batch)
            self.numbers.append(row_numbers)
            self.size += batch.num_rows

    def full_chunks(self, *, chunk_rows: int) -> Iterator[Chunk]:
        while self.size >= chunk_rows:
            yield self._take(chunk_rows)
        # A file where almost every row is ragged must not pile them all up in memory.
        if len(self.ragged) >= chunk_rows:
            yield self._take(self.size, all_ragged=True)

    def rest(self, *, more_marks: int = 0) -> Iterator[Chunk]:
        if self.size or self.ragged or self.marks or more_marks > 0:
            chunk = self._take(self.size, all_ragged=True)
            if more_marks > 0:
                chunk.notes.append(f"A byte-order mark was also removed from {more_marks:,} more rows")
            yield chunk

    def _take(self, count: int, *, all_ragged: bool = False) -> Chunk:
        if self.batches:
            table = pa.Table.from_batches(self.batches)
            numbers = np.concatenate(self.numbers)
        else:
            table = pa.table({column: pa.array([], type=pa.string()) for column in self.columns})
            numbers = np.empty(0, dtype=np.int64)
        rest = table.slice(count)
        self.batches = rest.to_batches()
        self.numbers = [numbers[count:]] if rest.num_rows else []
        self.size = rest.num_rows
        taken = numbers[:count]
        if all_ragged or not len(taken):
            ragged, self.ragged = self.ragged, []
            marks, self.marks = self.marks, []
        else:
            # Arrow reads ahead: ragged rows past this chunk's last row belong to a later chunk.
            last = int(taken[-1])
            ragged = [row for row in self.ragged if row.row <= last]
            self.ragged = [row for row in self.ragged if row.row > last]
            marks = [row for row in self.marks if row <= last]
            self.marks = [row for row in self.marks if row > last]
        return Chunk(
            frame=table.slice(0, count).to_pandas(),
            row_numbers=taken,
            ragged=ragged,
            notes=[
                f"Row {row:,}: a byte-order mark (from concatenated exports) was removed" for row in marks
            ],
        )


class _RecordScanner:
    """Follows quoting and line breaks over UTF-8 bytes fed block by block, the way Arrow's parser does.

    A quote opens a quoted value only at the start of a field; inside, a doubled quote is a literal
    quote and any other quote closes it. Line breaks are LF, CRLF and a lone CR.
    """

    def __init__(self, *, delimiter: str, records_before: int = 0) -> None:
        self._field_start = np.zeros(256, dtype=bool)
        self._field_start[[ord(delimiter), _LF, _CR]] = True
        self.records = records_before  # non-blank records whose line break has been seen
        self.state = _OUT
        self.offset = 0
        self.line_start = 0
        self.prev = _LF  # the byte before the data: its start is a field start
        self._held = b""

    def feed(self, data: bytes, *, final: bool = False) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        # A CR at the end of a block may be the first half of a CRLF: decide with the next block.
        if not final and data.endswith(b"\r"):
            data, self._held = data[:-1], data[-1:]
        if data:
            self._scan(data)

    def finish(self) -> None:
        self.feed(b"", final=True)
        if self.state == _PENDING:
            self.state = _OUT
        if self.offset > self.line_start:
            self.records += 1
            self.line_start = self.offset

    def _scan(self, data: bytes | bytearray) -> None:
        base = self.offset
        arr = np.frombuffer(data, dtype=np.uint8)
        if self.state == _PENDING and arr[0] != _QUOTE:
            self.state = _OUT
        entering = self.state
        has_quote = data.find(b'"') != -1
        quotes = np.flatnonzero(arr == _QUOTE) if has_quote else _NO_POSITIONS
        kept, phase = self._quotes_follow(arr, quotes)
        breaks = np.flatnonzero(arr == _LF)
        has_cr = data.find(b"\r") != -1
        if has_cr:
            breaks = self._lone_cr_add(arr, breaks)
        if len(breaks) and (has_quote or entering != _OUT):
            breaks = self._unquoted(breaks, kept, phase=phase)
        if len(breaks):
            first_start = self.line_start - base
            if has_cr:
                starts = np.empty(len(breaks), dtype=np.int64)
                starts[0] = first_start
                starts[1:] = breaks[:-1] + 1
                before = np.where(breaks > 0, arr[np.maximum(breaks - 1, 0)], self.prev)
                ends = breaks - ((arr[breaks] == _LF) & (before == _CR))
                self.records += int(np.count_nonzero(ends > starts))
            else:
                # LF only: a line is blank when its break directly follows the previous one.
                self.records += int(breaks[0] > first_start) + int(np.count_nonzero(np.diff(breaks) > 1))
            self.line_start = base + int(breaks[-1]) + 1
        self.prev = int(arr[-1])
        self.offset = base + len(arr)

    @staticmethod
    def _lone_cr_add(arr: np.ndarray, breaks: np.ndarray) -> np.ndarray:
        """Add the positions of CRs that are line breaks on their own (not the first half of a CRLF)."""
        paired = breaks[breaks > 0]
        if np.count_nonzero(arr == _CR) == np.count_nonzero(arr[paired - 1] == _CR):
            return breaks
        crs = np.flatnonzero(arr == _CR)
        after = np.minimum(crs + 1, len(arr) - 1)
        lone = crs[(crs + 1 >= len(arr)) | (arr[after] != _LF)]
        return np.union1d(breaks, lone)

    def _quotes_follow(self, arr: np.ndarray, quotes: np.ndarray) -> tuple[np.ndarray, int]:
        """Advance the quote state over a block; return the positions of the quotes that open or close a value,
        and 1 when the block starts inside a quoted value (else 0)."""
        phase = 1 if self.state == _IN else 0
        # Once literal quotes are set aside, every quote alternately opens and closes a quoted value.
        kept = self._literal_quotes_drop(arr, quotes, phase=phase)
        if (len(kept) + phase) % 2:
            self.state = _IN
        elif len(kept) and kept[-1] == len(arr) - 1:
            self.state = _PENDING
        else:
            self.state = _OUT
        return kept, phase

    @staticmethod
    def _unquoted(breaks: np.ndarray, kept: np.ndarray, *, phase: int) -> np.ndarray:
        """The line breaks outside quoted values, given the block's opening and closing quotes.

        Quoted values are few and short beside the lines, so the quotes are placed among the breaks (not the
        breaks among the quotes): the edges of the quoted spans, as break indexes, pair up; a pair that is
        equal holds no break, and when all are, every break stands (the usual case: no value spans lines).
        """
        at = np.searchsorted(breaks, kept)
        edges = np.concatenate(
            (
                np.zeros(phase, dtype=np.int64),
                at,
                np.full((len(kept) + phase) % 2, len(breaks), dtype=np.int64),
            )
        )
        opened, closed = edges[0::2], edges[1::2]
        spanning = closed > opened
        if not spanning.any():
            return breaks
        depth = np.zeros(len(breaks) + 1, dtype=np.int32)
        depth[opened[spanning]] += 1
        depth[closed[spanning]] -= 1
        return breaks[np.cumsum(depth[:-1]) == 0]

    def _literal_quotes_drop(self, arr: np.ndarray, quotes: np.ndarray, *, phase: int) -> np.ndarray:
        """Drop the quotes Arrow reads as plain characters: outside a quoted value and not at a field start.

        A quote that would open by parity must follow a delimiter or line break, or be the second half
        of a doubled quote (the previous kept quote is right before it). The first that does not is a
        literal (as in an unquoted `PIPA 1/2"`); drop it and carry on from there, window by window so a
        file full of such quotes stays linear.
        """
        if not len(quotes):
            return quotes
        kept: list[np.ndarray] = []
        last_kept = -1 if self.state == _PENDING else -2
        start, window = 0, len(quotes)
        while start < len(quotes):
            part = quotes[start : start + window]
            opener_index = np.arange(phase, len(part), 2)
            openers = part[opener_index]
            before = arr[np.maximum(openers - 1, 0)]
            previous_quote = part[np.maximum(opener_index - 1, 0)]
            if len(openers) and opener_index[0] == 0:
                previous_quote[0] = last_kept
                if openers[0] == 0:
                    before[0] = self.prev
            literal = np.flatnonzero(~(self._field_start[before] | (previous_quote == openers - 1)))
            cut = int(opener_index[literal[0]]) if len(literal) else len(part)
            kept.append(part[:cut])
            phase ^= cut & 1
            if cut:
                last_kept = int(part[cut - 1])
            if len(literal):
                start += cut + 1
                window = max(256, 2 * (cut + 1))
            else:
                start += len(part)
                window *= 4
        return np.concatenate(kept)


class _Utf8Source:
    """A file-like object giving Arrow the file's bytes from `offset` as UTF-8, checked and scanned.

    Decoding here (rather than in Arrow) lets a bad byte or a never-closed quote be reported with the
    row it is on, which the scanner knows because it sees every byte Arrow sees.
    """

    def __init__(
        self,
        *,
        path: Path,
        fmt: FileFormat,
        offset: int,
        records_before: int,
        name: str,
        record_limit: int = 0,
    ) -> None:
        self.name = name
        self.record_limit = record_limit  # when set, each read ends a record (see records_read)
        bom, body = _encoding_layout(path=path, encoding=fmt.encoding)
        self._raw = path.open("rb")
        self._raw.seek(max(offset, bom))
        self._position = self._raw.tell()
        self._decoder = codecs.getincrementaldecoder(body)(errors="strict")
        self._passthrough = codecs.lookup(body).name == "utf-8"
        self._body = body
        self._out = b""
        self._eof = False
        self.scanner = _RecordScanner(delimiter=fmt.delimiter, records_before=records_before)
        self.feed = _RecordFeed(self.scanner)
        self.closed = False

    def __enter__(self) -> "_Utf8Source":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._raw.close()
        self.closed = True

    def read(self, size: int = -1) -> bytes:
        if self.record_limit:
            block = ARROW_BLOCK_BYTES if size is None or size < 0 else min(size, ARROW_BLOCK_BYTES)
            return self.records_read(block=block, longest=self.record_limit)
        return self._piece_read(size)

    def _piece_read(self, size: int) -> bytes:
        size = SCAN_BLOCK_BYTES if size is None or size < 0 else size
        while not self._out and not self._eof:
            self._out = self._next_piece(size)
        piece, self._out = self._out[:size], self._out[size:]
        return piece

    def records_read(self, *, block: int, longest: int) -> bytes:
        """The next bytes for Arrow: whole blocks of about `block` bytes, as many as it takes to hold the end of
        a record (Arrow needs each read to end the record the previous one left open). A record that is still
        open after `longest` bytes is refused by name and row, the row's bytes never piling up further."""
        parts: list[bytes] = []
        total = 0
        record_start = self.scanner.line_start
        while not self._eof or self._out:
            parts.append(self._piece_read(block))
            total += len(parts[-1])
            if self.scanner.line_start != record_start or self._eof and not self._out:
                break
            if total > longest:
                row = self.scanner.records + 1
                raise ReadError(
                    f"{self.name}: row {row:,} is longer than {longest:,} bytes (IMPORT_MAX_RECORD_BYTES) "
                    "without ending: a value that long, or a quote that is never closed? Nothing was imported.",
                    code="record_too_long",
                    details={"row": row},
                )
        return b"".join(parts)

    def _next_piece(self, size: int) -> bytes:
        raw = self._raw.read(size)
        final = not raw
        pending = len(self._decoder.getstate()[0])
        try:
            # ASCII is valid UTF-8: skip building a string Arrow does not need.
            text = (
                ""
                if self._passthrough and raw.isascii() and not pending
                else self._decoder.decode(raw, final)
            )
        except UnicodeDecodeError as exc:
            valid = exc.object[: exc.start]
            if self._passthrough:
                self.scanner.feed(valid[pending:])
            else:
                self.scanner.feed(valid.decode(self._body).encode("utf-8"))
            row = self.scanner.records + 1
            byte = self._position - pending + exc.start
            raise ReadError(
                f"{self.name} cannot be decoded as {self._body} at row {row} (byte {byte}).",
                code="undecodable",
                details={"row": row, "byte": byte},
            ) from exc
        self._position += len(raw)
        piece = raw if self._passthrough else text.encode("utf-8")
        if final:
            self._eof = True
            piece = self.feed.feed(piece, final=True)
            self.scanner.finish()
            if self.scanner.state == _IN:
                raise _unclosed_quote_error(name=self.name, row=self.scanner.records)
        else:
            piece = self.feed.feed(piece)
        return piece


class _RecordFeed:
    """Feeds UTF-8 bytes to a scanner, removing a byte-order mark that starts a record after the header.

    Concatenated exports carry one at the start of each part. Only a mark at the very start of a record
    (outside quotes) goes; a U+FEFF anywhere else is text and stays. The first BOM_NOTES_KEPT rows are kept
    in `rows` for the notes (a deque: Arrow may read from its read-ahead thread), all are counted.
    """

    def __init__(self, scanner: _RecordScanner) -> None:
        self.scanner = scanner
        self.drop = True
        self.rows: deque[int] = deque()
        self.dropped = 0
        self._carry = b""

    def feed(self, data: bytes, *, final: bool = False) -> bytes:
        """Scan `data` and return it without the marks; a mark's first bytes at the end wait for the rest."""
        if self._carry:
            data, self._carry = self._carry + data, b""
        # An ASCII block holds no mark (0xEF is not ASCII), and isascii() is many times faster than the search.
        if not self.drop or data.isascii() or (_BOM not in data and not data.endswith((_BOM[:1], _BOM[:2]))):
            self.scanner.feed(data, final=final)
            return data
        if not final:
            for size in (2, 1):
                if data.endswith(_BOM[:size]):
                    data, self._carry = data[:-size], data[-size:]
                    break
        kept, start = [], 0
        while (at := data.find(_BOM, start)) != -1:
            # The byte after is the mark's, not LF: a CR just before it is a line break on its own.
            self.scanner.feed(data[start:at], final=True)
            scanner = self.scanner
            if scanner.offset == scanner.line_start and scanner.records >= 1:
                kept.append(data[start:at])
                self.dropped += 1
                if self.dropped <= BOM_NOTES_KEPT:
                    self.rows.append(scanner.records + 1)
            else:
                scanner.feed(_BOM)
                kept.append(data[start : at + len(_BOM)])
            start = at + len(_BOM)
        rest = data[start:]
        self.scanner.feed(rest, final=final)
        kept.append(rest)
        return b"".join(kept)


class _DecodeCheck:
    """Checks, block by block, that a file's bytes decode in its encoding; UTF-8 may fall back to cp1252 once.

    Only a file detected as UTF-8 without a byte-order mark falls back (a mark says UTF-8), and only when
    every byte before the first bad one is ASCII: a file that already held UTF-8 text is mixed, not cp1252.
    """

    def __init__(self, *, encoding: str, body: str) -> None:
        self.encoding = encoding
        self.tried = [encoding]
        self.switched_at: int | None = None
        self._may_fall_back = codecs.lookup(encoding).name == "utf-8"
        self._ascii_so_far = True
        self._use(body)

    def _use(self, body: str) -> None:
        self.utf8 = codecs.lookup(body).name == "utf-8"
        self._decoder = codecs.getincrementaldecoder("utf-8")() if self.utf8 else None
        self._undefined = () if self.utf8 else _undefined_bytes(codecs.lookup(body).name)
        self._defined = bytes(value for value in range(256) if bytes([value]) not in self._undefined)

    def feed(self, data: bytes, *, offset: int) -> int | None:
        """None, or the file offset of the first byte that decodes in no supported encoding."""
        if self.utf8:
            return self._utf8_feed(data, offset=offset, final=False)
        return self._table_feed(data, offset=offset)

    def finish(self, *, offset: int) -> int | None:
        return self._utf8_feed(b"", offset=offset, final=True) if self.utf8 else None

    def _utf8_feed(self, data: bytes, *, offset: int, final: bool) -> int | None:
        pending = len(self._decoder.getstate()[0])
        if not pending and data.isascii():
            return None
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # exc.object is what the decoder held from the last block followed by `data`.
            bad = offset - pending + exc.start
            if self._may_fall_back and self._ascii_so_far and exc.object[: exc.start].isascii():
                self._may_fall_back = False
                self.encoding = FALLBACK_ENCODING
                self.tried.append(FALLBACK_ENCODING)
                self.switched_at = bad
                self._use(FALLBACK_ENCODING)
                return self._table_feed(exc.object[exc.start :], offset=bad)
            return bad
        if not text.isascii():
            self._ascii_so_far = False
        return None

    def _table_feed(self, data: bytes, *, offset: int) -> int | None:
        # Deleting every defined byte leaves the undefined ones: nothing left is the common, fast answer.
        if not data.translate(None, self._defined):
            return None
        return offset + min(at for value in self._undefined if (at := data.find(value)) != -1)


@functools.cache
def _undefined_bytes(encoding: str) -> tuple[bytes, ...]:
    """For a single-byte code page: the byte values that decode to nothing (cp1252: 0x81, 0x8D, 0x8F...)."""
    undefined = []
    for value in range(256):
        try:
            bytes([value]).decode(encoding)
        except UnicodeDecodeError:
            undefined.append(bytes([value]))
    return tuple(undefined)


def _undecodable_error(
    *,
    path: Path,
    fmt: FileFormat,
    name: str,
    check: _DecodeCheck,
    bad: int,
    data: bytes,
    offset: int,
    scanner: _RecordScanner | None,
    start: int,
) -> ReadError:
    """The refusal of a file with a byte no supported encoding reads: its offset, and the row it is on."""
    if scanner is not None:
        # The next byte is the bad one, not LF: a CR just before it is a line break on its own.
        scanner.feed(bytes(data[: max(bad - offset, 0)]), final=True)
        row = scanner.records + 1
    else:
        row = _row_at(path=path, fmt=fmt, start=start, end=bad)
    return ReadError(
        f"{name} cannot be decoded as {' or '.join(check.tried)} at row {row} (byte {bad}).",
        code="undecodable",
        details={"row": row, "byte": bad},
    )


def _row_at(*, path: Path, fmt: FileFormat, start: int, end: int) -> int:
    """The row (header = 1) that the byte at `end` is on, scanning from `start`."""
    scanner = _RecordScanner(delimiter=fmt.delimiter)
    with path.open("rb") as raw:
        raw.seek(start)
        remaining = end - start
        while remaining > 0 and (data := raw.read(min(SCAN_BLOCK_BYTES, remaining))):
            remaining -= len(data)
            scanner.feed(data, final=remaining <= 0)
    return scanner.records + 1


def _encoding_layout(*, path: Path, encoding: str) -> tuple[int, str]:
    """Return the length of the byte-order mark to skip and the codec for the bytes after it."""
    name = codecs.lookup(encoding).name
    if name == "utf-8-sig":
        with path.open("rb") as raw:
            return (3 if raw.read(3) == codecs.BOM_UTF8 else 0), "utf-8"
    if name in ("utf-16", "utf-32"):
        width = 2 if name == "utf-16" else 4
        with path.open("rb") as raw:
            mark = raw.read(width)
        little = codecs.BOM_UTF16_LE if width == 2 else codecs.BOM_UTF32_LE
        big = codecs.BOM_UTF16_BE if width == 2 else codecs.BOM_UTF32_BE
        if mark == big:
            return width, f"{name}-be"
        return (width if mark == little else 0), f"{name}-le"
    return 0, name


def _ascii_transparent(encoding: str) -> bool:
    """True when every ASCII character is its own single byte and no byte is part of another character."""
    if codecs.lookup(encoding).name == "utf-8":
        return True
    decoded = bytes(range(256)).decode(encoding, errors="replace")
    return len(decoded) == 256 and decoded[:128] == "".join(map(chr, range(128)))


def _encoding_detect(*, head: bytes, at_eof: bool, name: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, at_eof)
        # A rare NUL in UTF-8 text is a row error (nul_byte); many of them make it binary (_head_decode).
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in head:
        raise ReadError(f"{name} is not a text file.", code="binary_file")
    best = from_bytes(head).best()
    guess = codecs.lookup(best.encoding).name if best else None
    latin = best is not None and all(
        "Latin" in block or block in _SCRIPT_NEUTRAL_BLOCKS for block in best.alphabets
    )
    if guess is not None and not latin:
        return guess
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        if guess is None:
            raise ReadError(f"{name} is not a text file.", code="binary_file") from None
        return guess
    return "cp1252"


def _head_decode(*, head: bytes, encoding: str, at_eof: bool, name: str) -> str:
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, at_eof)
    except UnicodeDecodeError:
        raise ReadError(f"{name} is not a text file.", code="binary_file") from None
    if len(_CONTROL_RE.findall(text)) > _MAX_CONTROL_SHARE * max(len(text), 1):
        raise ReadError(f"{name} is not a text file.", code="binary_file")
    return text


def _delimiter_sniff(*, text: str, at_eof: bool) -> str:
    """Pick the delimiter that splits the header into most fields, consistently across the first records."""
    if not at_eof:
        # The head may stop mid-record: keep whole lines only.
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut > 0 else text
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        records = []
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if record:
                records.append(len(record))
            if len(records) > SNIFF_RECORDS:
                break
        if not records or records[0] < 2:
            continue
        rest = records[1:]
        consistency = sum(count == records[0] for count in rest) / len(rest) if rest else 1.0
        score = (consistency, records[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _head_parse(*, path: Path, fmt: FileFormat, sample_rows: int, name: str) -> tuple[FileHead, int]:
    """Parse the header and a sample from the head; also return the byte offset where data starts."""
    bom, body = _encoding_layout(path=path, encoding=fmt.encoding)
    budget = HEAD_BYTES
    while True:
        with path.open("rb") as raw:
            raw.seek(bom)
            head = raw.read(budget)
            at_eof = not raw.read(1)
        text = _text_decode(head=head, encoding=body, at_eof=at_eof, fmt=fmt, name=name)
        if "\ufeff" in text:
            # The same byte-order marks the stream removes, so the head shows the values the import reads.
            feed = _RecordFeed(_RecordScanner(delimiter=fmt.delimiter))
            text = feed.feed(text.encode("utf-8"), final=True).decode("utf-8")
        records, ends = _records_parse(text=text, delimiter=fmt.delimiter, wanted=sample_rows + 2, name=name)
        if not at_eof and records and ends[-1] >= len(text):
            # The last record may continue past the head.
            records, ends = records[:-1], ends[:-1]
        if at_eof or len(records) > sample_rows or budget >= HEAD_MAX_BYTES:
            break
        budget *= 4
    if not records or (at_eof and not text.strip()):
        raise ReadError(f"{name} is empty.", code="empty_file")
    if at_eof:
        scanner = _RecordScanner(delimiter=fmt.delimiter)
        scanner.feed(text.encode("utf-8"), final=True)
        scanner.finish()
        if scanner.state == _IN:
            raise _unclosed_quote_error(name=name, row=scanner.records)
    if len(records) == 1 and at_eof:
        raise ReadError(f"{name} has a header but no data rows.", code="empty_file")
    headers, normalized = _headers_name(cells=records[0], name=name)
    data_offset = bom + len(text[: ends[0]].encode(body))
    return FileHead(headers=headers, normalized=normalized, sample=records[1 : sample_rows + 1]), data_offset


def _text_decode(*, head: bytes, encoding: str, at_eof: bool, fmt: FileFormat, name: str) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, at_eof)
    except UnicodeDecodeError as exc:
        scanner = _RecordScanner(delimiter=fmt.delimiter)
        scanner.feed(head[: exc.start].decode(encoding).encode("utf-8"))
        row = scanner.records + 1
        raise ReadError(
            f"{name} cannot be decoded as {fmt.encoding} at row {row}.",
            code="unreadable",
            details={"row": row},
        ) from exc


def _records_parse(*, text: str, delimiter: str, wanted: int, name: str) -> tuple[list[list[str]], list[int]]:
    """Split the head into records, noting where each ends (in characters) and skipping blank lines."""
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(text, newline=""):
            consumed += len(line)
            yield line

    records: list[list[str]] = []
    ends: list[int] = []
    try:
        for record in csv.reader(lines(), delimiter=delimiter):
            if record:
                records.append(record)
                ends.append(consumed)
            if len(records) >= wanted:
                break
    except csv.Error as exc:
        row = len(records) + 1
        raise ReadError(
            f"{name}: row {row} cannot be read: {exc}.", code="unreadable", details={"row": row}
        ) from exc
    return records, ends


def _headers_name(*, cells: list[str], name: str) -> tuple[list[str], list[str]]:
    headers = [cell.strip() or f"column_{index}" for index, cell in enumerate(cells, start=1)]
    normalized = [
        normalize_name(header) or f"column_{index}" for index, header in enumerate(headers, start=1)
    ]
    positions: dict[str, list[int]] = {}
    for index, column in enumerate(normalized, start=1):
        positions.setdefault(column, []).append(index)
    duplicates = {column: found for column, found in positions.items() if len(found) > 1}
    if duplicates:
        described = "; ".join(
            f"'{column}' (columns {', '.join(str(i) for i in found)}: "
            f"{', '.join(repr(headers[i - 1]) for i in found)})"
            for column, found in duplicates.items()
        )
        raise ReadError(
            f"{name} has duplicated headers: {described}.",
            code="duplicate_header",
            details={"duplicates": duplicates},
        )
    return headers, normalized


def _record_split(*, text: str | None, delimiter: str) -> list[str]:
    if not text:
        return []
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def _unclosed_quote_error(*, name: str, row: int) -> ReadError:
    return ReadError(
        f"{name}: row {row} has a quoted value that is never closed (is the file cut short?).",
        code="unreadable",
        details={"row": row},
    )
