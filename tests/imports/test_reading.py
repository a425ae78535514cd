"""Reading distributors' files: format detection, the head, record counts and streamed chunks."""

import random
from pathlib import Path

import pandas as pd
import pytest

from imports.services import reading
from imports.services.reading import (
    FileFormat,
    RaggedRow,
    ReadError,
    file_chunks_read,
    file_format_detect,
    file_head_read,
    file_open_head,
    file_records_count,
)

DATA = Path(__file__).resolve().parent.parent / "data"

SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
EXPORTED = "2026-10-31 23:00:00"
FIRST_SALE = ["31001", "DO2610001", "2026-10-01", "C000123", "00123", "10", "1250000.50", EXPORTED]
LAST_SALE = ["31002", "DO2610005", "2026-10-31", "C000126", "00042", "0", "0", EXPORTED]
SALES_FILES = [
    "sales_utf8.csv",
    "sales_utf8_bom.csv",
    "sales_utf16le_bom.csv",
    "sales_tab.txt",
    "sales_pipe.csv",
    "sales_crlf.csv",
    "sales_cr_only.csv",
    "sales_blank_lines.csv",
]


def _read_all(name: str, *, chunk_rows: int = 50_000, fmt: FileFormat | None = None) -> list[reading.Chunk]:
    path = DATA / name
    return list(file_chunks_read(path=path, fmt=fmt or file_format_detect(path=path), chunk_rows=chunk_rows))


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        pytest.param("sales_utf8.csv", "utf-8", ",", id="utf8"),
        pytest.param("sales_utf8_bom.csv", "utf-8-sig", ",", id="utf8-bom"),
        pytest.param("sales_utf16le_bom.csv", "utf-16", ",", id="utf16le-bom"),
        pytest.param("customers_cp1252.csv", "cp1252", ",", id="cp1252-accents"),
        pytest.param("sales_semicolon.csv", "utf-8", ";", id="semicolon-decimal-comma"),
        pytest.param("sales_tab.txt", "utf-8", "\t", id="tab"),
        pytest.param("sales_pipe.csv", "utf-8", "|", id="pipe"),
        pytest.param("sales_crlf.csv", "utf-8", ",", id="crlf"),
        pytest.param("customers_quoted.csv", "utf-8", ",", id="quoted-commas-newlines"),
        pytest.param("sales_bad_byte_late.csv", "utf-8", ",", id="head-is-utf8"),
    ],
)
def test_file_format_detect_finds_encoding_and_delimiter(name, encoding, delimiter):
    assert file_format_detect(path=DATA / name) == FileFormat(encoding=encoding, delimiter=delimiter)


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        pytest.param("empty.csv", "empty_file", "empty.csv is empty.", id="zero-bytes"),
        pytest.param(
            "blank_lines_only.csv", "empty_file", "blank_lines_only.csv is empty.", id="blank-lines"
        ),
        pytest.param(
            "binary_garbage.csv", "binary_file", "binary_garbage.csv is not a text file.", id="binary"
        ),
    ],
)
def test_file_format_detect_rejects_files_without_text(name, code, message):
    with pytest.raises(ReadError) as caught:
        file_format_detect(path=DATA / name)
    assert (caught.value.code, str(caught.value)) == (code, message)


def test_file_format_detect_names_the_file_as_the_user_uploaded_it():
    with pytest.raises(ReadError, match=r"^Sales Oktober\.csv is empty\.$"):
        file_format_detect(path=DATA / "empty.csv", name="Sales Oktober.csv")


@pytest.mark.parametrize("name", SALES_FILES, ids=SALES_FILES)
def test_file_open_head_reads_every_sales_variant_the_same(name):
    fmt, head = file_open_head(path=DATA / name, sample_rows=2)
    assert head.headers == SALES_HEADER
    assert head.normalized == SALES_HEADER
    assert head.sample[0] == FIRST_SALE
    assert len(head.sample) == 2


def test_file_head_read_keeps_accents_of_cp1252_names():
    _, head = file_open_head(path=DATA / "customers_cp1252.csv")
    assert [row[2] for row in head.sample] == ["José Muñoz", "Café Señor", "Peña Ibáñez"]


def test_file_head_read_gives_an_empty_header_cell_a_placeholder():
    _, head = file_open_head(path=DATA / "sales_empty_header_cell.csv")
    assert head.headers[:3] == ["distid", "column_2", "dotanggal"]
    assert head.normalized[:3] == ["distid", "column_2", "dotanggal"]


def test_file_head_read_returns_at_most_the_sample_asked_for():
    path = DATA / "sales_utf8.csv"
    head = file_head_read(path=path, fmt=file_format_detect(path=path), sample_rows=3)
    assert len(head.sample) == 3
    assert head.sample[-1][1] == "DO2610003"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        pytest.param(
            "sales_header_only.csv",
            "empty_file",
            "sales_header_only.csv has a header but no data rows.",
            id="header-only",
        ),
        pytest.param(
            "sales_duplicate_header.csv",
            "duplicate_header",
            "sales_duplicate_header.csv has duplicated headers: 'qty' (columns 6, 7: 'qty', 'QTY').",
            id="duplicate-header",
        ),
        pytest.param(
            "sales_unclosed_quote.csv",
            "unreadable",
            "sales_unclosed_quote.csv: row 7 has a quoted value that is never closed (is the file cut short?).",
            id="unclosed-quote",
        ),
    ],
)
def test_file_open_head_rejects_unusable_files(name, code, message):
    with pytest.raises(ReadError) as caught:
        file_open_head(path=DATA / name)
    assert (caught.value.code, str(caught.value)) == (code, message)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        *[pytest.param(name, 5, id=name) for name in SALES_FILES],
        pytest.param("sales_semicolon.csv", 5, id="semicolon"),
        pytest.param("customers_cp1252.csv", 3, id="cp1252"),
        pytest.param("customers_quoted.csv", 4, id="quoted-newlines"),
        pytest.param("products_inch_quote.csv", 4, id="literal-inch-quotes"),
        pytest.param("sales_ragged_row.csv", 5, id="ragged-row-counts"),
        pytest.param("sales_header_only.csv", 0, id="header-only"),
        pytest.param("sales_bad_byte_late.csv", 1000, id="long-file"),
    ],
)
def test_file_records_count_counts_data_records(name, count):
    path = DATA / name
    assert file_records_count(path=path, fmt=file_format_detect(path=path)) == count


@pytest.mark.parametrize("name", ["customers_quoted.csv", "products_inch_quote.csv", "sales_blank_lines.csv"])
def test_file_records_count_is_the_same_in_tiny_blocks(name, monkeypatch):
    path = DATA / name
    fmt = file_format_detect(path=path)
    expected = file_records_count(path=path, fmt=fmt)
    # Blocks of a few bytes split CRLFs, doubled quotes and quoted newlines across block edges.
    monkeypatch.setattr(reading, "SCAN_BLOCK_BYTES", 3)
    assert file_records_count(path=path, fmt=fmt) == expected
    assert sum(len(chunk.frame) for chunk in file_chunks_read(path=path, fmt=fmt)) == expected


def _tricky_csv(seed: int) -> tuple[bytes, int]:
    """A CSV of quoted values across lines, doubled and literal quotes, blank lines and every line break."""
    rng = random.Random(seed)
    values = [
        "plain",
        "",
        '"a,b"',
        '"two\nlines"',
        '"crlf\r\ninside"',
        '"lone\rcr"',
        '"say ""hi"""',
        'PIPA 1/2"',
        '"\n"',
        '""',
    ]
    breaks = ["\n", "\r\n", "\r"]
    rows = rng.randint(1, 400)
    lines = ["a,b,c" + rng.choice(breaks)]
    for _ in range(rows):
        while rng.random() < 0.15:
            lines.append(rng.choice(breaks))  # a blank line
        lines.append(",".join(rng.choice(values) for _ in range(3)) + rng.choice(breaks))
    if rng.random() < 0.5:
        lines[-1] = lines[-1].rstrip("\r\n")  # no line break after the last record
    return "".join(lines).encode(), rows


@pytest.mark.parametrize("seed", range(12))
def test_file_records_count_matches_the_rows_read_in_any_block_size(seed, tmp_path, monkeypatch):
    content, rows = _tricky_csv(seed)
    path = tmp_path / "tricky.csv"
    path.write_bytes(content)
    fmt = FileFormat("utf-8", ",")
    assert sum(len(chunk.frame) for chunk in file_chunks_read(path=path, fmt=fmt)) == rows
    for block in (1, 2, 5, 64, 4096):
        monkeypatch.setattr(reading, "SCAN_BLOCK_BYTES", block)
        assert file_records_count(path=path, fmt=fmt) == rows, block


def test_file_records_count_refuses_a_file_cut_inside_a_quote():
    with pytest.raises(ReadError) as caught:
        file_records_count(path=DATA / "sales_unclosed_quote.csv", fmt=FileFormat("utf-8", ","))
    assert caught.value.code == "unreadable"
    assert caught.value.details == {"row": 7}


@pytest.mark.parametrize("name", SALES_FILES, ids=SALES_FILES)
def test_file_chunks_read_gives_every_value_as_text(name):
    (chunk,) = _read_all(name)
    assert list(chunk.frame.columns) == SALES_HEADER
    assert chunk.frame.iloc[0].tolist() == FIRST_SALE
    assert chunk.frame.iloc[-1].tolist() == LAST_SALE
    assert chunk.frame["sku"].tolist() == ["00123", "00456", "01789", "00123", "00042"]
    assert all(isinstance(value, str) for value in chunk.frame.to_numpy().ravel())
    assert chunk.row_numbers.tolist() == [2, 3, 4, 5, 6]
    assert chunk.ragged == []


def test_file_chunks_read_keeps_decimal_commas_of_semicolon_files():
    (chunk,) = _read_all("sales_semicolon.csv")
    assert chunk.frame["amount_jual"].tolist()[:2] == ["1250000,50", "375000,00"]


def test_file_chunks_read_blank_lines_take_no_row_number():
    (chunk,) = _read_all("sales_blank_lines.csv")
    # The record after the blank line is the third data record: row 4, as file_records_count counts it.
    assert dict(zip(chunk.row_numbers.tolist(), chunk.frame["dono"], strict=True)) == {
        2: "DO2610001",
        3: "DO2610002",
        4: "DO2610003",
        5: "DO2610004",
        6: "DO2610005",
    }


def test_file_chunks_read_unquotes_commas_newlines_and_doubled_quotes():
    (chunk,) = _read_all("customers_quoted.csv")
    frame = chunk.frame
    assert frame["custname"].tolist() == ["Toko Maju, Jaya", 'Toko "Sinar" Baru', "", "Apotek Sehat"]
    assert frame["address"].tolist() == [
        "Jl. Sudirman 5, Jakarta",
        "Jl. Thamrin 10\nLantai 2\nJakarta",
        "",
        "Jl. Gatot Subroto 1",
    ]
    assert frame["note"].tolist() == ["plain", 'say "hi"', "line one\r\nline two", "last"]
    assert not frame.isna().any().any()
    assert chunk.row_numbers.tolist() == [2, 3, 4, 5]


def test_file_chunks_read_keeps_quotes_inside_unquoted_values():
    (chunk,) = _read_all("products_inch_quote.csv")
    assert chunk.frame["description"].tolist() == [
        'PIPA 1/2" PVC',
        'Kabel "NYM" 2x1.5',
        "Lem, pipa\nbesar",
        'KRAN 3/4"',
    ]


def test_file_chunks_read_keeps_cp1252_accents():
    (chunk,) = _read_all("customers_cp1252.csv")
    assert chunk.frame["custname"].tolist() == ["José Muñoz", "Café Señor", "Peña Ibáñez"]


@pytest.mark.parametrize(
    ("chunk_rows", "numbers"),
    [
        pytest.param(2, [[2, 3], [4, 5], [6]], id="two"),
        pytest.param(5, [[2, 3, 4, 5, 6]], id="exact"),
        pytest.param(1000, [[2, 3, 4, 5, 6]], id="larger"),
    ],
)
def test_file_chunks_read_streams_chunks_of_the_size_asked(chunk_rows, numbers):
    chunks = _read_all("sales_utf8.csv", chunk_rows=chunk_rows)
    assert [chunk.row_numbers.tolist() for chunk in chunks] == numbers
    assert [len(chunk.frame) for chunk in chunks] == [len(rows) for rows in numbers]


def test_file_chunks_read_reports_a_ragged_row_and_numbers_the_rest():
    chunks = _read_all("sales_ragged_row.csv")
    frame = pd.concat([chunk.frame for chunk in chunks])
    assert [n for chunk in chunks for n in chunk.row_numbers.tolist()] == [2, 3, 5, 6]
    assert frame["dono"].tolist() == ["DO2610001", "DO2610002", "DO2610004", "DO2610005"]
    assert [row for chunk in chunks for row in chunk.ragged] == [
        RaggedRow(
            row=4,
            expected=8,
            found=9,
            values=["31001", "DO2610003", "2026-10-02", "C000125", "01789", "1", "99000", EXPORTED, "EXTRA"],
        )
    ]


@pytest.mark.parametrize("block_bytes", [90, 200, 1000], ids=["90B", "200B", "1000B"])
def test_file_chunks_read_numbers_rows_across_arrow_blocks(block_bytes, monkeypatch):
    monkeypatch.setattr(reading, "ARROW_BLOCK_BYTES", block_bytes)
    chunks = _read_all("sales_ragged_row.csv", chunk_rows=2)
    assert [n for chunk in chunks for n in chunk.row_numbers.tolist()] == [2, 3, 5, 6]
    assert [row.row for chunk in chunks for row in chunk.ragged] == [4]


@pytest.mark.parametrize(
    ("name", "fmt", "code", "message", "row"),
    [
        pytest.param(
            "sales_bad_byte_late.csv",
            FileFormat("utf-8", ","),
            "undecodable",
            "sales_bad_byte_late.csv cannot be decoded as utf-8 at row 951 (byte 67472).",
            951,
            id="bad-byte-after-the-head-read-as-the-head-said",
        ),
        pytest.param(
            "sales_unclosed_quote.csv",
            FileFormat("utf-8", ","),
            "unreadable",
            "sales_unclosed_quote.csv: row 7 has a quoted value that is never closed (is the file cut short?).",
            7,
            id="cut-inside-a-quote",
        ),
    ],
)
def test_file_chunks_read_stops_where_the_file_becomes_unreadable(name, fmt, code, message, row):
    with pytest.raises(ReadError) as caught:
        _read_all(name, fmt=fmt)
    assert (caught.value.code, str(caught.value), caught.value.details["row"]) == (code, message, row)


def _long_record_file(path: Path, *, encoding: str, newline: str, long_value: str) -> list[list[str]]:
    rows = [
        ["31001", "DO1", "short é"],
        ["31001", "DO2", long_value],
        ["31001", "DO3", "after the long one"],
    ]
    text = newline.join(["distid,dono,note", *(f'{a},{b},"{c}"' for a, b, c in rows)]) + newline
    path.write_bytes(text.encode(encoding))
    return rows


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8", "\n"), ("utf-8", "\r\n"), ("utf-8", "\r"), ("cp1252", "\r\n"), ("utf-16", "\n")],
    ids=["utf8-lf", "utf8-crlf", "utf8-cr", "cp1252-crlf", "utf16-lf"],
)
def test_file_chunks_read_reads_a_record_longer_than_the_read_block_whole(
    encoding, newline, tmp_path, monkeypatch
):
    monkeypatch.setattr(reading, "ARROW_BLOCK_BYTES", 64)
    # 5,000 bytes with quoted line breaks of every kind, 78 blocks of 64 bytes: each read goes on to a record end.
    long_value = ("é\nline\r\nnext\rx" * 400)[:5000]
    path = tmp_path / "long.csv"
    rows = _long_record_file(path, encoding=encoding, newline=newline, long_value=long_value)
    fmt = FileFormat(encoding, ",")
    chunks = list(file_chunks_read(path=path, fmt=fmt, chunk_rows=2))
    assert [chunk.frame.to_numpy().tolist() for chunk in chunks] == [rows[:2], rows[2:]]
    assert [n for chunk in chunks for n in chunk.row_numbers.tolist()] == [2, 3, 4]


def test_file_chunks_read_refuses_a_record_past_import_max_record_bytes_with_its_row(
    tmp_path, monkeypatch, settings
):
    monkeypatch.setattr(reading, "ARROW_BLOCK_BYTES", 256)
    settings.IMPORT_MAX_RECORD_BYTES = 4_000
    near = tmp_path / "near.csv"
    rows = _long_record_file(near, encoding="utf-8", newline="\n", long_value="n" * 3_900)
    chunks = list(file_chunks_read(path=near, fmt=FileFormat("utf-8", ","), chunk_rows=10))
    assert chunks[0].frame.to_numpy().tolist() == rows  # just under the limit: read whole
    over = tmp_path / "over.csv"
    _long_record_file(over, encoding="utf-8", newline="\n", long_value="x" * 9_000)
    with pytest.raises(ReadError) as caught:
        list(file_chunks_read(path=over, fmt=FileFormat("utf-8", ","), chunk_rows=10))
    assert caught.value.code == "record_too_long"
    assert caught.value.details == {"row": 3}
    assert caught.value.message == (
        "over.csv: row 3 is longer than 4,000 bytes (IMPORT_MAX_RECORD_BYTES) without ending: a value that "
        "long, or a quote that is never closed? Nothing was imported."
    )
