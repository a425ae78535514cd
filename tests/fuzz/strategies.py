"""Hypothesis strategies for distributors' files: random bytes, CSV of every dialect and encoding the
reader accepts (and some it must refuse), random headers, ragged rows, and damaged copies of a real file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.imports.conftest import DATA

# Modest, repeatable runs: the same examples on every machine and in CI, no example database.
# FUZZ_EXAMPLES=5000 runs a longer search with fresh random examples, by hand.
_DEEP_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 0)


def fuzz_examples(default: int) -> int:
    """How many examples a fuzz test runs: its modest default, or FUZZ_EXAMPLES for a deep search."""
    return _DEEP_EXAMPLES or default


FUZZ_SETTINGS = settings(
    max_examples=fuzz_examples(100),
    deadline=None,
    derandomize=not _DEEP_EXAMPLES,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

SALES_COLUMNS = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
SALES_ALIASES = ["DIST_ID", "Do No", "do-date", "tanggal", "Customer ID", "item_code", "Quantity", "amount"]
DELIMITERS = [",", ";", "\t", "|", " ", ":"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]
LINE_ENDINGS = ["\n", "\r\n", "\r"]
QUOTING = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE]

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=12,
)
_tricky = st.sampled_from(
    [
        "",
        " ",
        '"',
        '""',
        "'",
        ",",
        ";",
        "\t",
        "|",
        "\n",
        "\r\n",
        "\\",
        "\x00",
        "\ufeff",
        "NULL",
        "nan",
        "-",
        "é",
        "日本",
    ]
)

header_names = st.one_of(
    st.sampled_from(SALES_COLUMNS),
    st.sampled_from(SALES_ALIASES),
    _tricky,
    _text,
)
headers = st.one_of(
    # The real header, shuffled, with some columns missing or repeated.
    st.permutations(SALES_COLUMNS).flatmap(
        lambda cols: st.lists(st.sampled_from(cols), min_size=1, max_size=10)
    ),
    st.lists(header_names, min_size=0, max_size=10),
    st.just(SALES_COLUMNS),
)

# Values at the edges of what the columns hold: bigint, decimal(18,4), varchar(255) (in characters, not
# bytes), dates MySQL and SQLite see differently, and what LOAD DATA's escaping must get right.
edge_values = st.sampled_from(
    [
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999.9999",
        "100000000000000",
        "0.00001",
        "1e3",
        "NaN",
        "-Infinity",
        "x" * 255,
        "x" * 256,
        "é" * 255,
        "😀" * 255,
        "\U0010ffff",
        "\\N",
        "a\tb",
        "line\nbreak",
        "0000-00-00",
        "2026-02-29",
        "2024-02-29",
        "10000-01-01",
        "2026-10-31 24:00:00",
        "2026-10-31T23:00:00",
        "31/12/9999 23:59:59",
    ]
)
values = st.one_of(
    st.sampled_from(["31001", "42001", "DO0001", "C001", "00002", "3", "-1", "2500.50", "1,234.50", "1e400"]),
    st.sampled_from(["2026-10-04", "03/10/2026", "31/02/2026", "2026-10-31 23:00:00", "99/99/9999 25:61"]),
    edge_values,
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    _tricky,
    _text,
)


def _encoded(draw, rows: list[list[str]]) -> bytes:
    """`rows` written by csv.writer in a random dialect, line ending and encoding, maybe with a junk tail."""
    quoting = draw(st.sampled_from(QUOTING))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=draw(st.sampled_from(DELIMITERS)),
        quoting=quoting,
        escapechar="\\" if quoting == csv.QUOTE_NONE or draw(st.booleans()) else None,
        lineterminator=draw(st.sampled_from(LINE_ENDINGS)),
    )
    for row in rows:
        try:
            writer.writerow(row)
        except csv.Error:
            continue  # QUOTE_NONE with a character it cannot escape: leave that row out
    text = buffer.getvalue()
    if draw(st.booleans()):
        text += draw(st.sampled_from(["", "\n", "\n\n\n", '"', "\x1a", "garbage,\n", ",,,,,,,\n"]))
    return text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")


@st.composite
def csv_files(draw) -> bytes:
    """Random headers (empty, repeated, unicode, aliases) over random values, rows of any length."""
    head = draw(headers)
    width = max(len(head), 1)
    row_lengths = st.one_of(st.just(width), st.integers(min_value=0, max_value=width + 3))
    rows = draw(
        st.lists(
            row_lengths.flatmap(lambda n: st.lists(values, min_size=n, max_size=n)), min_size=0, max_size=12
        )
    )
    return _encoded(draw, [head, *rows] if head or draw(st.booleans()) else rows)


_dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))
_datetimes = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31))
VALID_VALUES = {
    "distid": st.sampled_from(["31001", "31002"]),
    "dono": st.integers(min_value=1, max_value=10**6).map(lambda n: f"DO{n:07d}"),
    "dotanggal": st.tuples(_dates, st.sampled_from(["%Y-%m-%d", "%d/%m/%Y"])).map(
        lambda p: p[0].strftime(p[1])
    ),
    "custid": st.integers(min_value=0, max_value=99999).map(lambda n: f"C{n:05d}"),
    "sku": st.text(alphabet="0123456789ABCDEFXYZ", min_size=1, max_size=10),
    "qty": st.integers(min_value=-(10**6), max_value=10**6).map(str),
    "amount_jual": st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(str),
    "exportdate": st.one_of(
        st.just(""),
        st.tuples(_datetimes, st.sampled_from(["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"])).map(
            lambda p: p[0].strftime(p[1])
        ),
    ),
}
_RENAMES = {
    "distid": ["distid", "DISTID", "dist_id", "Dist ID", "distributor"],
    "dono": ["dono", "DO No", "do-no", "no_do"],
    "dotanggal": ["dotanggal", "DO Date", "tanggal"],
    "custid": ["custid", "Customer ID", "cust_id"],
    "sku": ["sku", "SKU", "Item Code", "kode_barang"],
    "qty": ["qty", "Quantity", "QTY"],
    "amount_jual": ["amount_jual", "Amount", "sales_amount"],
    "exportdate": ["exportdate", "Export Date", "export_date"],
}


@st.composite
def sales_files(draw) -> bytes:
    """Files that pass quick validation (a real header, two good rows) and go wrong further down: bad values,
    ragged rows, quoted delimiters and newlines, extra columns, blank lines."""
    columns = draw(st.permutations(SALES_COLUMNS))
    if draw(st.booleans()):
        columns.remove("exportdate")  # the one optional column
    header = [draw(st.sampled_from(_RENAMES[c])) for c in columns]
    extra = draw(st.lists(st.sampled_from(["note", "Keterangan", "x y z"]), max_size=2, unique=True))

    def good_row() -> list[str]:
        return [draw(VALID_VALUES[c]) for c in columns] + ["" for _ in extra]

    rows = [good_row(), good_row()]
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        row = good_row()
        kind = draw(st.sampled_from(["good", "good", "bad value", "ragged", "blank"]))
        if kind == "bad value":
            row[draw(st.integers(min_value=0, max_value=len(row) - 1))] = draw(values)
        elif kind == "ragged":
            row = row[: draw(st.integers(min_value=0, max_value=len(row) + 2))] or [""]
        elif kind == "blank":
            row = []
        rows.append(row)
    return _encoded(draw, [header + extra, *rows])


@st.composite
def damaged_files(draw) -> bytes:
    """A real sales file with bytes flipped, inserted, removed or cut off."""
    data = bytearray(
        (
            DATA / draw(st.sampled_from(["sales_small.csv", "sales_semicolon.csv", "sales_utf16le_bom.csv"]))
        ).read_bytes()
    )
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=16))]
        else:
            del data[at:]
    return bytes(data)


file_bytes = st.one_of(st.binary(max_size=600), csv_files(), sales_files(), sales_files(), damaged_files())
file_names = st.sampled_from(["sales_fuzz.csv", "sales_fuzz.txt", "SALES_Fuzz.CSV"])
dist_ids = st.sampled_from(["", "31001", "42", "x"])


# Values of query parameters: dates and date-times that may not exist (day 30 of February, hour 25, month 13,
# offsets of days), numbers of any size and sign, ids, choices, and random or over-long text.
@st.composite
def date_texts(draw) -> str:
    year, month, day = draw(st.integers(0, 10000)), draw(st.integers(0, 99)), draw(st.integers(0, 40))
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if draw(st.booleans()):
        hour, minute = draw(st.integers(0, 99)), draw(st.integers(0, 99))
        text += f"{draw(st.sampled_from(['T', ' ']))}{hour:02d}:{minute:02d}:{draw(st.integers(0, 99)):02d}"
        offset = draw(st.sampled_from(["", "Z", "+{:02d}:00", "-{:02d}:30", "+{:02d}{:02d}"]))
        text += offset.format(draw(st.integers(0, 99)), draw(st.integers(0, 99)))
    return text


_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=-2, max_value=2),
).map(str)
# The parsers' hard cases weigh most: dates and numbers come first and twice.
query_values = st.one_of(
    date_texts(),
    _numbers,
    date_texts(),
    _numbers,
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-0",
            "1e3",
            "1.5",
            "NaN",
            "٣",
            "9223372036854775807",
            "9223372036854775808",
            "auto",
            "sales",
            "pending",
            "completed_with_errors",
            "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e",
            "0001-01-01",
            "9999-12-31T23:59:59-23:59",
        ]
    ),
    st.uuids().map(str),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
    st.text(alphabet="aZ9_-", min_size=49, max_size=300),
)
