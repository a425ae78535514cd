"""Regenerate the data-fidelity sample files in this folder: `python tests/data/make_fidelity_samples.py`.

The files are committed; this script documents exactly what is in them: where the late accented byte, the
undecodable byte, the second byte-order mark and the NUL byte are, and which keys differ only in spacing,
case or Unicode normalisation.
"""

import logging
import unicodedata
from pathlib import Path

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
EXPORTED = "2026-10-31 23:00:00"
# How far into the file the first non-ASCII byte comes: past the 64 KiB the head detection looks at.
LATE_BYTES = 70 * 1024
# Customer names with the accents cp1252 exports carry, stored exactly after the import.
ACCENTED_CUSTOMERS = ["PEÑA-01", "JOSÉ-02", "CAFÉ-03", "MUÑOZ-04", "IBÁÑEZ-05"]


def sales_line(n: int, *, custid: str | None = None, distid: str = "31001") -> str:
    return ",".join(
        [
            distid,
            f"DO{n:07d}",
            f"2026-10-{1 + n % 28:02d}",
            custid or f"C{n:06d}",
            f"{n % 900:05d}",
            str(1 + n % 17),
            f"{(n % 1000) * 1250 + 0.5:.2f}",
            EXPORTED,
        ]
    )


def _rows_past(limit: int, lines: list[str]) -> list[str]:
    """`lines` followed by plain sales lines (numbered on) until the CRLF-joined bytes pass `limit`."""
    lines = list(lines)
    size = sum(len(line.encode("cp1252")) + 2 for line in lines)
    while size <= limit:
        line = sales_line(len(lines))
        lines.append(line)
        size += len(line) + 2
    return lines


def _crlf(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def cp1252_late() -> bytes:
    """cp1252 sales, CRLF: ASCII for the first 70 KiB, then five rows whose custid has an accent."""
    lines = _rows_past(LATE_BYTES, [",".join(SALES_HEADER)])
    for name in ACCENTED_CUSTOMERS:
        lines.append(sales_line(len(lines), custid=name))
    for _ in range(5):
        lines.append(sales_line(len(lines)))
    data = _crlf(lines)
    assert data.index(b"\xd1") > LATE_BYTES  # the Ñ of the first accented row
    return data


def undecodable_late() -> bytes:
    """cp1252 sales with an accent in row 2 (so the head is cp1252) and, past 70 KiB, a custid with 0x81: a byte
    that is no character in cp1252, nor in UTF-8."""
    lines = _rows_past(LATE_BYTES, [",".join(SALES_HEADER), sales_line(1, custid="PEÑA-01")])
    bad = _crlf(lines)
    lines = [sales_line(len(lines) + n) for n in range(4)]
    tail = _crlf(lines).replace(b"C00", b"C\x81", 1)
    assert len(bad) > LATE_BYTES
    return bad + tail


def mixed_encodings() -> bytes:
    """UTF-8 sales with an accent in row 2 (C3 A9), and past 70 KiB a cp1252 "é" (E9): neither UTF-8 nor, read
    as cp1252, what the first part says (it would turn row 2's é into Ã©), so the file is refused."""
    lines = _rows_past(LATE_BYTES, [",".join(SALES_HEADER), sales_line(1, custid="JOSÉ-01")])
    head = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    tail = _crlf([sales_line(len(lines), custid="Café-02")])
    return head + tail


def concatenated_bom() -> bytes:
    """Two UTF-8 exports with a byte-order mark each, joined as `cat a.csv b.csv` joins them (LF lines).

    The second export starts at row 5 with its BOM and its own header line; its rows are 6 and 7.
    """
    first = [",".join(SALES_HEADER), sales_line(1, custid="ÉLODIE-01"), sales_line(2), sales_line(3)]
    second = [",".join(SALES_HEADER), sales_line(4, custid="ŽOFIA-04"), sales_line(5)]
    return b"".join(b"\xef\xbb\xbf" + ("\n".join(part) + "\n").encode("utf-8") for part in (first, second))


def bom_inside_quotes() -> bytes:
    """A U+FEFF that starts a line inside a quoted value (text, kept) and one that starts record 4 (removed)."""
    text = 'code,note\nA1,plain\nA2,"first line\n\ufeffsecond line"\n\ufeffA3,after a mark\n'
    return text.encode("utf-8")


def nul_byte() -> bytes:
    """Sixty sales rows; row 31 has a NUL byte inside its dono (a broken export), the rest are fine."""
    lines = [",".join(SALES_HEADER)] + [sales_line(n) for n in range(1, 61)]
    lines[30] = lines[30].replace("DO0000030", "DO00\x000030")
    return ("\n".join(lines) + "\n").encode("utf-8")


def padded_keys() -> bytes:
    """Product keys as spreadsheets write them: padded with spaces or no-break spaces, differing only in case,
    accents, ß or Unicode normalisation (NFC and NFD of the same word are different keys)."""
    rows = [
        ("sku", "product_name", "price"),
        ("  P-001  ", "padded with spaces", "1.00"),
        ("\u00a0P-002\u00a0", "padded with no-break spaces", "2.00"),
        ("abc", "lower case", "3.00"),
        ("ABC", "upper case", "4.00"),
        ("straße", "sharp s", "5.00"),
        ("strasse", "double s", "6.00"),
        (unicodedata.normalize("NFC", "résumé"), "NFC", "7.00"),
        (unicodedata.normalize("NFD", "résumé"), "NFD", "8.00"),
        ("resume", "no accents", "9.00"),
    ]
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


def dist_mixed() -> bytes:
    """Sales of distributor 31001, except row 8 (31002: the same first 2 characters) and row 9 (3200123). The
    first 5 values (rows 2-6, what quick validation looks at) are all 31001."""
    distids = {8: "31002", 9: "3200123"}
    lines = [",".join(SALES_HEADER)]
    lines += [sales_line(row - 1, distid=distids.get(row, "31001")) for row in range(2, 12)]
    return ("\n".join(lines) + "\n").encode("utf-8")


# (dotanggal, exportdate) for sales_dates_edge.csv, rows 2 to 9; the comment says what the import does. The first
# two rows are valid: quick validation checks them before the import.
DATES_EDGE = [
    ("0001-01-01", "0001-01-01 00:00:00"),  # stored: the first day
    ("9999-12-31", "9999-12-31 23:59:59.999999"),  # stored: the last microsecond
    ("0000-01-01", "2026-10-31 23:00:00"),  # rejected: there is no year 0
    ("03/04/2026 00:00", "2026-10-31 10:15:00.999"),  # stored: midnight is the date; milliseconds kept
    ("03/04/2026 23:59", "2026-10-31 23:00:00"),  # rejected: a time of day in a date column
    ("31/11/2026", "2026-10-31 23:00:00"),  # rejected: November has 30 days
    ("2026-10-05", "2026-10-31 10:15:00.1234567"),  # rejected: more than microseconds
    ("1677-01-01", "2263-01-01 00:00:00.5"),  # stored: outside pandas' nanosecond range
]


def dates_edge() -> bytes:
    lines = [",".join(SALES_HEADER)]
    for n, (day, exported) in enumerate(DATES_EDGE, start=1):
        line = sales_line(n).split(",")
        line[2], line[7] = day, exported
        lines.append(",".join(line))
    return ("\n".join(lines) + "\n").encode("utf-8")


# (sku, price) for products_long_decimals.csv into price decimal(18,4), rows 2 to 7 (the first two valid).
LONG_DECIMALS = [
    ("P2", "1.50000"),  # stored 1.5000: trailing zeros are not more places
    ("P3", "99999999999999.9999"),  # stored with all 18 digits
    ("P1", "1.23456"),  # too_many_decimals (rounded to 1.2346 when the column rounds)
    ("P4", "-0.0001"),
    ("P5", "12345678901234.5678"),
    ("P6", "2.00005"),  # too_many_decimals (2.0001 when the column rounds)
]


def long_decimals() -> bytes:
    rows = [("sku", "product_name", "price")] + [
        (sku, f"Product {sku}", price) for sku, price in LONG_DECIMALS
    ]
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


def fidelity_files() -> dict[str, bytes]:
    return {
        "sales_cp1252_late.csv": cp1252_late(),
        "sales_undecodable_late.csv": undecodable_late(),
        "sales_mixed_encodings.csv": mixed_encodings(),
        "sales_concatenated_bom.csv": concatenated_bom(),
        "notes_bom_in_quotes.csv": bom_inside_quotes(),
        "sales_nul_byte.csv": nul_byte(),
        "products_padded_keys.csv": padded_keys(),
        "sales_dist_mixed.csv": dist_mixed(),
        "sales_dates_edge.csv": dates_edge(),
        "products_long_decimals.csv": long_decimals(),
    }


def samples_write(*, folder: Path = HERE) -> list[Path]:
    """Write every data-fidelity sample into `folder`; return their paths."""
    written = []
    for name, data in fidelity_files().items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in samples_write():
        logger.info("%-32s %8d bytes", path.name, path.stat().st_size)
