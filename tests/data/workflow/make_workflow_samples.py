"""Regenerate the staff-workflow sample files in this folder: `python tests/data/workflow/make_workflow_samples.py`.

The files are committed; this script documents exactly what is in them (and which rows are bad).
"""

import csv
from pathlib import Path

HERE = Path(__file__).parent
SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]
# Spreadsheet row numbers (the header is row 1) whose qty is not a whole number.
BAD_ROWS = {2: "ten", 26: "2.5"}
ROWS = 30  # data rows: rows 2 to 31


def _sales_rows(count: int, *, start: int = 1) -> list[list[str]]:
    return [
        [
            "31001",
            f"DO{start + i:07d}",
            f"2026-10-{1 + i % 28:02d}",
            f"C{start + i:05d}",
            f"{start + i:05d}",
            str(1 + i % 9),
            f"{1000 + i}.50",
            "2026-10-31 23:00:00",
        ]
        for i in range(count)
    ]


def _write(name: str, header: list[str], rows: list[list[str]]) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rows = _sales_rows(ROWS)
    for row_number, value in BAD_ROWS.items():
        rows[row_number - 2][5] = value
    _write("sales_bad_rows_2_26.csv", SALES_HEADER, rows)
    # The date column under a header no column or alias knows ("tgl_kirim"): refused for a missing column.
    _write(
        "sales_unknown_date_header.csv", [*SALES_HEADER[:2], "tgl_kirim", *SALES_HEADER[3:]], _sales_rows(5)
    )
    # The products table has a unique sku (on_duplicate=update); P001 and P002 are in products.csv too.
    _write(
        "products_repeat_key.csv",
        ["sku", "product_name", "price"],
        [["P001", "Product 1 new", "1100.00"], ["P900", "Product 900", "9.00"], ["P900", "Again", "9.50"]],
    )


if __name__ == "__main__":
    main()
