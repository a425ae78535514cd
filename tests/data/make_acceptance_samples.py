"""Regenerate the acceptance sample files in tests/data: `python tests/data/make_acceptance_samples.py`.

The files are committed; this script documents exactly what is in them (deterministic output).
"""

import csv
import io
import logging
import stat
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# A fixed timestamp keeps the ZIP bytes identical from one run to the next.
STAMP = (2026, 10, 31, 23, 0, 0)

SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
SALES_ROWS = [
    ["31001", "DO2610001", "2026-10-01", "C000123", "00123", "10", "1250000.50", "2026-10-31 23:00:00"],
    ["31001", "DO2610002", "2026-10-01", "C000124", "00456", "3", "375000.00", "2026-10-31 23:00:00"],
    ["31001", "DO2610003", "2026-10-02", "C000125", "01789", "1", "99000", "2026-10-31 23:00:00"],
    ["31002", "DO2610004", "2026-10-15", "C000123", "00123", "25", "3125001.25", "2026-10-31 23:00:00"],
    ["31002", "DO2610005", "2026-10-31", "C000126", "00042", "0", "0", "2026-10-31 23:00:00"],
]

# sales_summary.csv: period 28/09/2026 to 31/10/2026 (both date formats), amounts 100.10 - 20.05 + 1000.00
# + 0.5 = 1,080.55, latest export 2026-10-31 23:59:59 (both datetime formats, one left empty). Row 5 is
# rejected (qty 'abc'): its later date, amount and export date must not count.
SUMMARY_ROWS = [
    ["31001", "DS001", "2026-09-28", "C1", "00123", "2", "100.10", "2026-10-01 08:00:00"],
    ["31001", "DS002", "15/10/2026", "C2", "00456", "1", "-20.05", "30/10/2026 17:45"],
    ["31001", "DS003", "2026-10-03", "C3", "00789", "5", "1000.00", "2026-10-31 23:59:59"],
    ["31001", "DS004", "2026-11-02", "C4", "00001", "abc", "5.00", "2026-11-05 10:00:00"],
    ["31001", "DS005", "31/10/2026", "C5", "00002", "3", "0.5", ""],
]

# typed_rows.csv, for a table with: label str(40), code str(5), whole int, money decimal(10,2), flag bool,
# day date with the formats %d/%m/%Y and %m/%d/%Y. One row per case; the label names it.
TYPED_HEADER = ["label", "code", "whole", "money", "flag", "day"]
TYPED_ROWS = [
    ["all_valid", "00123", "42", "1234.50", "yes", "31/10/2026"],
    ["int_negative", "", "-7", "", "", ""],
    ["int_decimal_point", "", "12.7", "", "", ""],
    ["int_text", "", "abc", "", "", ""],
    ["decimal_rounded", "", "", "10.555", "", ""],
    ["decimal_thousands", "", "", "1,000", "", ""],
    ["decimal_too_big", "", "", "123456789.00", "", ""],
    ["bool_no", "", "", "", "N", ""],
    ["bool_other", "", "", "", "maybe", ""],
    ["date_day_first", "", "", "", "", "25/12/2026"],
    ["date_month_first", "", "", "", "", "12/25/2026"],
    ["date_ambiguous", "", "", "", "", "03/04/2026"],
    ["date_iso_not_configured", "", "", "", "", "2026-10-31"],
    ["date_impossible", "", "", "", "", "31/02/2026"],
    ["str_max_length", "ABCDE", "", "", "", ""],
    ["str_too_long", "ABCDEF", "", "", "", ""],
]

# Rows for the stocks table (tab-delimited inside the nested ZIP), dates in both of its formats.
STOCK_ROWS = [
    ["item_code", "gudang", "qty_pcs", "stock_box", "stock_cs", "date"],
    ["00123", "WH1", "120", "12", "", "2026-10-31"],
    ["00456", "WH1", "30", "3", "1", "2026-10-31"],
    ["01789", "WH2", "0", "", "", "31/10/2026"],
]
PRODUCT_ROWS = [
    ["sku", "product_name", "price"],
    ["P001", "Pipa 1/2 inch", "15000.00"],
    ["P002", "Kran", "27500.50"],
    ["P003", "Lem", "8000"],
]


def delimited(rows: list[list[str]], *, delimiter: str = ",") -> bytes:
    """Rows as a spreadsheet writes them: quoted only where a value holds the delimiter or a quote."""
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def _info(name: str, *, mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry, data in entries:
            archive.writestr(_info(entry) if isinstance(entry, str) else entry, data, compresslevel=9)
    return buffer.getvalue()


def nested_folders_zip() -> bytes:
    """One file per demo table at three depths, plus the metadata a Mac or a tool leaves behind."""
    folder = zipfile.ZipInfo("2026/", date_time=STAMP)
    folder.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
    sales = delimited([SALES_HEADER, *SALES_ROWS])
    return _zip(
        [
            (folder, b""),
            ("2026/10/sales_oct.csv", sales),
            ("2026/10/stock/stock_oct.txt", delimited(STOCK_ROWS, delimiter="\t")),
            ("products.csv", delimited(PRODUCT_ROWS)),
            ("__MACOSX/2026/10/._sales_oct.csv", b"\x00\x05\x16\x07mac metadata"),
            ("2026/10/._stock_oct.txt", b"\x00\x05\x16\x07mac metadata"),
            (".DS_Store", b"\x00\x00\x00\x01Bud1"),
            # Would match the sales table if it were not hidden.
            ("2026/.cache/sales_hidden.csv", sales),
        ]
    )


def acceptance_files() -> dict[str, bytes]:
    return {
        "sales_semicolon_dot.csv": delimited([SALES_HEADER, *SALES_ROWS], delimiter=";"),
        "sales_summary.csv": delimited([SALES_HEADER, *SUMMARY_ROWS]),
        "typed_rows.csv": delimited([TYPED_HEADER, *TYPED_ROWS]),
        "nested_folders.zip": nested_folders_zip(),
    }


def samples_write(*, folder: Path = HERE) -> list[Path]:
    """Write every acceptance sample into `folder`; return their paths."""
    written = []
    for name, data in acceptance_files().items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in samples_write():
        logger.info("%-32s %8d bytes", path.name, path.stat().st_size)
