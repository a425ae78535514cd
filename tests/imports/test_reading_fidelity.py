"""Data fidelity in reading, on real files: the encoding fits the whole file, marks of concatenated exports are
removed and said, and the head shows the values the import reads."""

import codecs
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imports.services import reading
from imports.services.reading import (
    FileFormat,
    FileScan,
    ReadError,
    file_chunks_read,
    file_format_detect,
    file_open_head,
    file_records_count,
    file_scan,
)
from imports.services.validation import ColumnRule, chunk_validate, values_check

DATA = Path(__file__).resolve().parent.parent / "data"
ACCENTED_CUSTOMERS = ["PEÑA-01", "JOSÉ-02", "CAFÉ-03", "MUÑOZ-04", "IBÁÑEZ-05"]
BOM_NOTE = "Row {}: a byte-order mark (from concatenated exports) was removed"
# Every delimited sample that is text at all: the encoding settled for each must be the same on both paths.
TEXT_SAMPLES = sorted(
    path.name
    for path in DATA.iterdir()
    if path.suffix in (".csv", ".txt")
    and path.name not in ("empty.csv", "blank_lines_only.csv", "binary_garbage.csv")
)


def _chunks(name: str, **options):
    path = DATA / name
    fmt = file_format_detect(path=path, whole_file=True)
    return list(file_chunks_read(path=path, fmt=fmt, **options))


# --- the encoding is settled for the whole file ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "whole"),
    [
        pytest.param("sales_cp1252_late.csv", "utf-8", "cp1252", id="first-accent-after-70-kib"),
        pytest.param("sales_bad_byte_late.csv", "utf-8", "cp1252", id="one-cp1252-byte-after-64-kib"),
        pytest.param("customers_cp1252.csv", "cp1252", "cp1252", id="cp1252-from-the-head"),
        pytest.param("sales_utf8.csv", "utf-8", "utf-8", id="utf8"),
        pytest.param("sales_utf8_bom.csv", "utf-8-sig", "utf-8-sig", id="utf8-bom"),
        pytest.param("sales_utf16le_bom.csv", "utf-16", "utf-16", id="utf16"),
        pytest.param("sales_concatenated_bom.csv", "utf-8-sig", "utf-8-sig", id="concatenated-utf8-bom"),
        pytest.param("sales_10k_37bad.csv", "utf-8", "utf-8", id="long-ascii"),
    ],
)
def test_file_format_detect_whole_file_settles_the_encoding(name, head, whole):
    path = DATA / name
    assert file_format_detect(path=path).encoding == head
    assert file_format_detect(path=path, whole_file=True) == FileFormat(encoding=whole, delimiter=",")


@pytest.mark.parametrize(
    ("name", "message", "row", "byte"),
    [
        pytest.param(
            "sales_undecodable_late.csv",
            "sales_undecodable_late.csv cannot be decoded as cp1252 at row 963 (byte 71728).",
            963,
            71728,
            id="0x81-in-a-cp1252-file-after-64-kib",
        ),
        pytest.param(
            "sales_mixed_encodings.csv",
            "sales_mixed_encodings.csv cannot be decoded as utf-8 at row 963 (byte 71731).",
            963,
            71731,
            id="utf8-text-then-a-cp1252-byte-is-not-guessed",
        ),
    ],
)
def test_file_format_detect_whole_file_refuses_a_file_no_encoding_fits(name, message, row, byte):
    path = DATA / name
    with pytest.raises(ReadError) as caught:
        file_format_detect(path=path, whole_file=True)
    assert (caught.value.code, str(caught.value), caught.value.details) == (
        "undecodable",
        message,
        {"row": row, "byte": byte},
    )
    # The offset is the first byte that does not decode.
    assert path.read_bytes()[byte] in (0x81, 0xE9)
    with pytest.raises(ReadError) as counted:
        file_scan(path=path, fmt=file_format_detect(path=path), name=name)
    assert (counted.value.code, str(counted.value), counted.value.details) == (
        "undecodable",
        message,
        {"row": row, "byte": byte},
    )


def test_file_format_detect_head_alone_still_looks_at_64_kib_only():
    # Without whole_file the detection stays bounded: the late byte is not seen.
    assert file_format_detect(path=DATA / "sales_undecodable_late.csv").encoding == "cp1252"
    assert file_format_detect(path=DATA / "sales_mixed_encodings.csv").encoding == "utf-8"


@pytest.mark.parametrize("name", TEXT_SAMPLES)
def test_file_scan_and_whole_file_detection_never_choose_different_encodings(name):
    path = DATA / name
    try:
        expected = file_format_detect(path=path, whole_file=True)
    except ReadError as exc:
        with pytest.raises(ReadError) as caught:
            file_scan(path=path, fmt=file_format_detect(path=path), name=name)
        assert (caught.value.code, caught.value.details) == (exc.code, exc.details)
        return
    try:
        scan = file_scan(path=path, fmt=file_format_detect(path=path), name=name)
    except ReadError as exc:
        # The count may refuse a file cut inside a quote, which detection does not look for.
        assert exc.code == "unreadable"
        return
    assert scan.fmt == expected


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 4096], ids=lambda size: f"{size}B")
def test_file_scan_same_answer_in_any_block_size(block_bytes, monkeypatch):
    monkeypatch.setattr(reading, "SCAN_BLOCK_BYTES", block_bytes)
    late = DATA / "sales_cp1252_late.csv"
    assert file_scan(path=late, fmt=file_format_detect(path=late)) == FileScan(
        fmt=FileFormat("cp1252", ","), records=971
    )
    bad = DATA / "sales_undecodable_late.csv"
    with pytest.raises(ReadError) as caught:
        file_scan(path=bad, fmt=file_format_detect(path=bad))
    assert caught.value.details == {"row": 963, "byte": 71728}


def test_file_records_count_of_a_late_cp1252_file():
    path = DATA / "sales_cp1252_late.csv"
    assert file_records_count(path=path, fmt=file_format_detect(path=path)) == 971


def test_file_chunks_read_late_cp1252_values_exactly():
    (chunk,) = _chunks("sales_cp1252_late.csv")
    assert len(chunk.frame) == 971
    assert chunk.frame["custid"].tolist()[961:966] == ACCENTED_CUSTOMERS
    assert chunk.row_numbers[961:966].tolist() == [963, 964, 965, 966, 967]


# --- byte-order marks of concatenated exports --------------------------------------------------------------


def test_file_chunks_read_removes_the_mark_of_a_second_export_and_notes_its_row():
    (chunk,) = _chunks("sales_concatenated_bom.csv")
    assert chunk.notes == [BOM_NOTE.format(5)]
    assert dict(zip(chunk.row_numbers.tolist(), chunk.frame["distid"], strict=True)) == {
        2: "31001",
        3: "31001",
        4: "31001",
        5: "distid",  # the second export's own header, now a row as the file has it, without the mark
        6: "31001",
        7: "31001",
    }
    assert chunk.frame["custid"].tolist()[0] == "ÉLODIE-01"
    assert chunk.frame["custid"].tolist()[4] == "ŽOFIA-04"
    assert not any("\ufeff" in value for value in chunk.frame.to_numpy().ravel())


def test_file_chunks_read_keeps_a_mark_inside_a_quoted_value():
    (chunk,) = _chunks("notes_bom_in_quotes.csv")
    assert chunk.frame.to_dict("records") == [
        {"code": "A1", "note": "plain"},
        {"code": "A2", "note": "first line\n\ufeffsecond line"},
        {"code": "A3", "note": "after a mark"},
    ]
    assert chunk.notes == [BOM_NOTE.format(4)]


def test_file_open_head_shows_the_values_the_import_reads():
    for name in ("sales_concatenated_bom.csv", "notes_bom_in_quotes.csv"):
        _, head = file_open_head(path=DATA / name, sample_rows=10, whole_file=True)
        (chunk,) = _chunks(name)
        assert head.sample == chunk.frame.to_numpy().tolist(), name


def _bom_split_sizes() -> list[int]:
    """Arrow block sizes that end a read inside the second byte-order mark (after 1 and after 2 of its bytes)."""
    data = (DATA / "sales_concatenated_bom.csv").read_bytes()
    start = data.index(b"\n") + 1  # the stream starts after the header
    mark = data.index(codecs.BOM_UTF8, 3)
    return [mark + 1 - start, mark + 2 - start]


@pytest.mark.parametrize("block_bytes", _bom_split_sizes(), ids=["after-1-byte", "after-2-bytes"])
def test_file_chunks_read_removes_a_mark_split_across_reads(block_bytes, monkeypatch):
    monkeypatch.setattr(reading, "ARROW_BLOCK_BYTES", block_bytes)
    chunks = _chunks("sales_concatenated_bom.csv", chunk_rows=2)
    assert [note for chunk in chunks for note in chunk.notes] == [BOM_NOTE.format(5)]
    values = [value for chunk in chunks for value in chunk.frame["distid"]]
    assert values == ["31001", "31001", "31001", "distid", "31001", "31001"]


def test_file_chunks_read_notes_the_first_marks_and_counts_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "BOM_NOTES_KEPT", 2)
    path = tmp_path / "marks.csv"
    path.write_bytes(b"code,note\n" + b"".join(b"\xef\xbb\xbfA%d,x\n" % n for n in range(5)))
    chunks = list(file_chunks_read(path=path, fmt=file_format_detect(path=path)))
    assert [note for chunk in chunks for note in chunk.notes] == [
        BOM_NOTE.format(2),
        BOM_NOTE.format(3),
        "A byte-order mark was also removed from 3 more rows",
    ]
    assert [value for chunk in chunks for value in chunk.frame["code"]] == ["A0", "A1", "A2", "A3", "A4"]


# --- NUL bytes and padded keys ------------------------------------------------------------------------------


def test_file_with_a_nul_byte_is_read_and_the_row_refused_naming_the_column():
    path = DATA / "sales_nul_byte.csv"
    fmt = file_format_detect(path=path, whole_file=True)
    assert fmt == FileFormat("utf-8", ",")
    (chunk,) = list(file_chunks_read(path=path, fmt=fmt))
    rules = [ColumnRule("dono", "str", source="dono"), ColumnRule("qty", "int", source="qty")]

    validated = chunk_validate(frame=chunk.frame, row_numbers=chunk.row_numbers, rules=rules)

    assert [(e.row, e.column, e.code, e.value) for e in validated.errors] == [
        (31, "dono", "nul_byte", "DO00\x000030")
    ]
    assert len(validated.frame) == 59


def test_padded_keys_canonical_the_same_from_the_head_and_from_the_chunks():
    path = DATA / "products_padded_keys.csv"
    fmt, head = file_open_head(path=path, sample_rows=20, whole_file=True)
    rules = [ColumnRule("sku", "str", source="sku")]
    (chunk,) = list(file_chunks_read(path=path, fmt=fmt))

    full = chunk_validate(frame=chunk.frame, row_numbers=chunk.row_numbers, rules=rules)
    quick = values_check(
        records=[dict(zip(head.normalized, row, strict=True)) for row in head.sample],
        row_numbers=list(range(2, 2 + len(head.sample))),
        rules=rules,
    )

    keys = full.frame["sku"].tolist()
    assert keys == quick.frame["sku"].tolist()
    assert keys[:2] == ["P-001", "P-002"]
    # Case, ß and Unicode normalisation make different keys: nothing but the surrounding spaces changed.
    assert keys[2:] == [row[0] for row in head.sample[2:]]
    assert len(set(keys)) == len(keys) == 9
    assert np.array_equal(full.row_numbers, quick.row_numbers)


def test_decimal_comma_file_with_the_table_separator():
    path = DATA / "sales_semicolon.csv"
    fmt = file_format_detect(path=path, whole_file=True)
    (chunk,) = list(file_chunks_read(path=path, fmt=fmt))
    rule = ColumnRule("amount_jual", "decimal", source="amount_jual")

    default = chunk_validate(frame=chunk.frame, row_numbers=chunk.row_numbers, rules=[rule])
    comma = chunk_validate(
        frame=chunk.frame, row_numbers=chunk.row_numbers, rules=[replace(rule, decimal_separator=",")]
    )

    assert {e.code for e in default.errors} == {"invalid_decimal"}
    assert comma.errors == []
    assert comma.frame["amount_jual"].tolist() == [
        "1250000.5000",
        "375000.0000",
        "99000.0000",
        "3125001.2500",
        "0.0000",
    ]
