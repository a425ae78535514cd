"""Regenerate the sample files in tests/data: `python tests/data/make_samples.py` (deterministic output)."""

import io
import logging
import random
import stat
import struct
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# Fixed timestamps keep the ZIP bytes identical from one run to the next.
STAMP = (2026, 10, 31, 23, 0, 0)

SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
SALES_ROWS = [
    ["31001", "DO2610001", "2026-10-01", "C000123", "00123", "10", "1250000.50", "2026-10-31 23:00:00"],
    ["31001", "DO2610002", "2026-10-01", "C000124", "00456", "3", "375000.00", "2026-10-31 23:00:00"],
    ["31001", "DO2610003", "2026-10-02", "C000125", "01789", "1", "99000", "2026-10-31 23:00:00"],
    ["31002", "DO2610004", "2026-10-15", "C000123", "00123", "25", "3125001.25", "2026-10-31 23:00:00"],
    ["31002", "DO2610005", "2026-10-31", "C000126", "00042", "0", "0", "2026-10-31 23:00:00"],
]
CUSTOMERS_CP1252 = [
    ["distid", "custid", "custname", "city"],
    ["31001", "C000123", "José Muñoz", "Jakarta"],
    ["31001", "C000124", "Café Señor", "Bandung"],
    ["31002", "C000125", "Peña Ibáñez", "Surabaya"],
]


def sales_text(*, delimiter: str = ",", newline: str = "\n", rows: list[list[str]] | None = None) -> str:
    lines = [delimiter.join(SALES_HEADER)] + [delimiter.join(row) for row in rows or SALES_ROWS]
    return newline.join(lines) + newline


def text_files() -> dict[str, bytes]:
    semicolon_rows = [[*row[:6], row[6].replace(".", ","), row[7]] for row in SALES_ROWS]
    ragged_rows = [list(row) for row in SALES_ROWS]
    ragged_rows[2] = [*ragged_rows[2], "EXTRA"]
    duplicate = sales_text().replace("amount_jual,exportdate", "QTY,exportdate", 1)
    empty_cell = sales_text().replace("distid,dono,", "distid,,", 1)
    late_bad = [
        [
            "31001",
            f"DO26{n:05d}",
            "2026-10-01",
            f"C{n:06d}",
            f"{n % 1000:05d}",
            "1",
            "1000.00",
            SALES_ROWS[0][7],
        ]
        for n in range(1, 1001)
    ]
    late_bad_text = sales_text(rows=late_bad).encode("utf-8")
    # Row 951 (data record 950) carries a cp1252 "é": valid for the first 64 KiB, then not UTF-8.
    marker = b"C000950"
    late_bad_text = late_bad_text.replace(marker, b"C00095\xe9", 1)
    quoted = (
        "distid,custid,custname,address,note\n"
        '31001,C000123,"Toko Maju, Jaya","Jl. Sudirman 5, Jakarta",plain\n'
        '31001,C000124,"Toko ""Sinar"" Baru","Jl. Thamrin 10\nLantai 2\nJakarta","say ""hi"""\n'
        '31002,C000125,"",,"line one\r\nline two"\n'
        '31002,C000126,Apotek Sehat,"Jl. Gatot Subroto 1",last\n'
    )
    inch = (
        "distid,sku,description,qty\n"
        '31001,00123,PIPA 1/2" PVC,10\n'
        '31001,00124,"Kabel ""NYM"" 2x1.5",5\n'
        '31001,00125,"Lem, pipa\nbesar",2\n'
        '31001,00126,KRAN 3/4",7\n'
    )
    # A blank line before the third record, and blank lines (LF, CRLF, LF) after the last.
    blank_lines = sales_text().replace("\n31001,DO2610003", "\n\n31001,DO2610003") + "\n\r\n\n"
    unclosed = sales_text() + '31002,DO2610006,2026-10-31,C000127,"00042,1,'
    return {
        "sales_utf8.csv": sales_text().encode("utf-8"),
        "sales_utf8_bom.csv": b"\xef\xbb\xbf" + sales_text().encode("utf-8"),
        "sales_utf16le_bom.csv": b"\xff\xfe" + sales_text(newline="\r\n").encode("utf-16-le"),
        "customers_cp1252.csv": "".join(",".join(row) + "\r\n" for row in CUSTOMERS_CP1252).encode("cp1252"),
        "sales_semicolon.csv": sales_text(delimiter=";", rows=semicolon_rows).encode("utf-8"),
        "sales_tab.txt": sales_text(delimiter="\t").encode("utf-8"),
        "sales_pipe.csv": sales_text(delimiter="|").encode("utf-8"),
        "sales_crlf.csv": sales_text(newline="\r\n").encode("utf-8"),
        "sales_cr_only.csv": sales_text(newline="\r").encode("utf-8"),
        "customers_quoted.csv": quoted.encode("utf-8"),
        "products_inch_quote.csv": inch.encode("utf-8"),
        "sales_blank_lines.csv": blank_lines.encode("utf-8"),
        "sales_header_only.csv": (",".join(SALES_HEADER) + "\n").encode("utf-8"),
        "blank_lines_only.csv": b"\n\r\n\n",
        "empty.csv": b"",
        "binary_garbage.csv": b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(2048),
        "sales_duplicate_header.csv": duplicate.encode("utf-8"),
        "sales_empty_header_cell.csv": empty_cell.encode("utf-8"),
        "sales_ragged_row.csv": sales_text(rows=ragged_rows).encode("utf-8"),
        "sales_unclosed_quote.csv": unclosed.encode("utf-8"),
        "sales_bad_byte_late.csv": late_bad_text,
        "report.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        "notes_without_extension": b"not a data file\n",
    }


def _info(name: str, *, mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry, data in entries:
            info = _info(entry) if isinstance(entry, str) else entry
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _central_records(data: bytes) -> list[tuple[int, str]]:
    """(offset, name) of each central directory record."""
    end = data.rindex(b"PK\x05\x06")
    count, _size, start = struct.unpack("<HIL", data[end + 10 : end + 20])
    records, offset = [], start
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[offset + 28 : offset + 34])
        records.append((offset, data[offset + 46 : offset + 46 + name_len].decode("utf-8")))
        offset += 46 + name_len + extra_len + comment_len
    return records


def _patch(data: bytearray, offset: int, fmt: str, value: int) -> None:
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)


def _encrypted_zip() -> bytes:
    data = bytearray(_zip([("secret.csv", sales_text().encode()), ("open.csv", sales_text().encode())]))
    # zipfile cannot write encrypted members: set bit 0 of the general-purpose flags in both headers.
    for offset, name in _central_records(bytes(data)):
        if name == "secret.csv":
            local = struct.unpack("<L", data[offset + 42 : offset + 46])[0]
            _patch(data, offset + 8, "<H", struct.unpack("<H", data[offset + 8 : offset + 10])[0] | 0x1)
            _patch(data, local + 6, "<H", struct.unpack("<H", data[local + 6 : local + 8])[0] | 0x1)
    return bytes(data)


def _lying_size_zip() -> bytes:
    data = bytearray(_zip([("liar.csv", sales_text().encode() * 20), ("honest.csv", sales_text().encode())]))
    # The headers claim 100 bytes; the compressed stream really holds far more.
    for offset, name in _central_records(bytes(data)):
        if name == "liar.csv":
            local = struct.unpack("<L", data[offset + 42 : offset + 46])[0]
            _patch(data, offset + 24, "<L", 100)
            _patch(data, local + 22, "<L", 100)
    return bytes(data)


def _overlapping_zip() -> bytes:
    data = _zip([("one.csv", sales_text().encode())])
    (offset, _), *_ = _central_records(data)
    end = data.rindex(b"PK\x05\x06")
    record = data[offset:end]
    name_len = struct.unpack("<H", record[28:30])[0]
    # A second directory entry pointing at the same local header and data.
    twin = record[:46] + b"two.csv" + record[46 + name_len :]
    directory = record + twin
    eocd = bytearray(data[end:])
    _patch(eocd, 8, "<H", 2)
    _patch(eocd, 10, "<H", 2)
    _patch(eocd, 12, "<L", len(directory))
    return data[:offset] + directory + bytes(eocd)


def zip_files() -> dict[str, bytes]:
    sales = sales_text().encode("utf-8")
    symlink = _info("link.csv", mode=0o777)
    symlink.external_attr = (stat.S_IFLNK | 0o777) << 16
    folder = zipfile.ZipInfo("2026/", date_time=STAMP)
    folder.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
    inner = _zip([("inner.csv", sales)])
    valid = _zip([("sales.csv", sales), ("more.csv", sales)])
    return {
        "batch_nested.zip": _zip(
            [
                (folder, b""),
                ("2026/10/sales_jan.csv", sales),
                ("2026/10/stock/stock_jan.txt", sales_text(delimiter="\t").encode()),
                ("TOP_LEVEL.CSV", sales),
                ("__MACOSX/2026/10/._sales_jan.csv", b"\x00\x05\x16\x07mac metadata"),
                (".DS_Store", b"\x00\x00\x00\x01Bud1"),
                ("2026/.cache/hidden.csv", sales),
            ]
        ),
        "zip_slip.zip": _zip(
            [
                ("../evil.csv", sales),
                ("/etc/evil.csv", sales),
                ("C:\\temp\\evil.csv", sales),
                ("reports/../../evil2.csv", sales),
                ("ok.csv", sales),
            ]
        ),
        "symlink.zip": _zip([(symlink, b"/etc/passwd"), ("data.csv", sales)]),
        "encrypted.zip": _encrypted_zip(),
        "bomb.zip": _zip([("zeros.csv", bytes(50 * 1024 * 1024)), ("small.csv", sales)]),
        "too_many_members.zip": _zip([(f"part_{n:02d}.csv", sales) for n in range(1, 13)]),
        "nested.zip": _zip([("inner.zip", inner), ("outer.csv", sales)]),
        "corrupt.zip": valid[: len(valid) * 2 // 3],
        "with_pdf.zip": _zip([("docs/report.pdf", b"%PDF-1.4\n%%EOF\n"), ("sales.csv", sales)]),
        "only_pdf.zip": _zip([("report.pdf", b"%PDF-1.4\n%%EOF\n")]),
        "lying_size.zip": _lying_size_zip(),
        "overlapping.zip": _overlapping_zip(),
    }


def samples_write(*, folder: Path = HERE) -> list[Path]:
    """Write every sample file into `folder`; return their paths."""
    written = []
    for name, data in {**text_files(), **zip_files()}.items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in samples_write():
        logger.info("%-32s %8d bytes", path.name, path.stat().st_size)
