"""Regenerate the rejected-rows sample files in tests/data: `python tests/data/make_errors_samples.py`.

The files are committed; this script documents exactly what is in them (deterministic output).

sales_formula_rejects.csv: the sales table's columns under the headers a distributor's system writes
(`DO No`, `DO Date`, `Quantity`, ...: aliases of dono, dotanggal, qty). Rows 2 and 3 are valid (quick
validation reads them); rows 4-10 are rejected
(qty `x`) and hold, in their DO No, the cells a spreadsheet would run as formulas or mangle: `=cmd|' /C calc'!A0`,
`@SUM(1+1)`, `+1`, `-2` (a number), `-x`, a leading tab and a leading CR.
"""

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent

SALES_FILE_HEADER = ["DistID", "DO No", "DO Date", "Cust ID", "SKU", "Quantity", "Amount", "Export Date"]
FORMULA_CELLS = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "-2", "-x", "\tTAB", "\rCR"]


def _sales_row(dono: str, qty: str) -> list[str]:
    return ["31001", dono, "2026-10-01", "C000123", "00123", qty, "1250.50", "2026-10-31 23:00:00"]


def formula_rejects() -> None:
    with (HERE / "sales_formula_rejects.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(SALES_FILE_HEADER)
        writer.writerow(_sales_row("DO2610001", "10"))
        writer.writerow(_sales_row("DO2610002", "3"))
        for cell in FORMULA_CELLS:
            writer.writerow(_sales_row(cell, "x"))


if __name__ == "__main__":
    formula_rejects()
