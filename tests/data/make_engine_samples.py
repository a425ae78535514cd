"""Regenerate the import-engine sample files in this folder: `python tests/data/make_engine_samples.py`.

The files are committed; this script documents exactly what is in them (and which rows are bad).
"""

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]

# (row number as a spreadsheet shows it, column to spoil, bad value) for sales_10k_37bad.csv.
BAD_VALUES = ["12.7", "abc", "", "31/02/2026", "2026-13-01", "1,000", "x" * 300]


def _bad_rows() -> dict[int, tuple[str, str]]:
    rng = random.Random(37)
    rows = sorted(rng.sample(range(2, 10_002), 37))
    spoil = {}
    for i, row in enumerate(rows):
        kind = i % 6
        if kind == 0:
            spoil[row] = ("qty", BAD_VALUES[i % 2])  # 12.7 / abc
        elif kind == 1:
            spoil[row] = ("custid", "")  # mandatory value missing
        elif kind == 2:
            spoil[row] = ("dotanggal", "31/02/2026")
        elif kind == 3:
            spoil[row] = ("amount_jual", "1,000")
        elif kind == 4:
            spoil[row] = ("sku", "x" * 300)
        else:
            spoil[row] = ("qty", "")
    return spoil


def sales_row(n: int) -> dict[str, str]:
    day = 1 + n % 28
    return {
        "distid": "31001",
        "dono": f"DO{n:07d}",
        "dotanggal": f"2026-10-{day:02d}" if n % 2 else f"{day:02d}/10/2026",
        "custid": f"C{n % 500:05d}",
        "sku": f"{n % 900:05d}",
        "qty": str(1 + n % 17),
        "amount_jual": f"{(n % 1000) * 1250 + 0.5:.2f}",
        "exportdate": "2026-10-31 23:00:00",
    }


def write_sales_10k() -> None:
    spoil = _bad_rows()
    with (HERE / "sales_10k_37bad.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, SALES_HEADER, lineterminator="\n")
        writer.writeheader()
        for row_number in range(2, 10_002):
            row = sales_row(row_number)
            if row_number in spoil:
                column, value = spoil[row_number]
                row[column] = value
            writer.writerow(row)
    (HERE / "sales_10k_37bad.bad_rows.txt").write_text(
        "\n".join(f"{row} {column}" for row, (column, _) in sorted(spoil.items())) + "\n"
    )


def write_small_files() -> None:
    files = {
        "sales_small.csv": [SALES_HEADER] + [list(sales_row(n).values()) for n in range(2, 12)],
        # Aliases for every column, a distributor mismatch is not here (distid 31...).
        "sales_aliases.csv": [
            [
                "Dist ID",
                "DO No",
                "DO Date",
                "Customer ID",
                "Item Code",
                "Quantity",
                "Sales Amount",
                "Export Date",
                "Remark",
            ]
        ]
        + [list(sales_row(n).values()) + ["note"] for n in range(2, 7)],
        "sales_dist42.csv": [SALES_HEADER]
        + [["42001"] + list(sales_row(n).values())[1:] for n in range(2, 8)],
        "sales_missing_cols.csv": [["distid", "dono", "sku"], ["31001", "DO1", "00001"]],
        "sales_bad_sample.csv": [
            SALES_HEADER,
            list(sales_row(2).values()),
            ["31001", "DO2", "2026-10-02", "C1", "00002", "12.7", "10.00", ""],
        ],
        "stock_jan.csv": [["item_code", "gudang", "qty_pcs", "stock_box", "stock_cs", "date"]]
        + [[f"{n:05d}", "WH1", str(n * 10), str(n), "", "2026-01-31"] for n in range(1, 21)],
        "products.csv": [["sku", "product_name", "price"]]
        + [[f"P{n:03d}", f"Product {n}", f"{n * 1000}.00"] for n in range(1, 11)],
        # Updates P001-P005 (new names and prices), repeats P006 twice (the last one wins), adds P011.
        "products_update.csv": [["sku", "product_name", "price"]]
        + [[f"P{n:03d}", f"Product {n} v2", f"{n * 1100}.00"] for n in range(1, 6)]
        + [["P006", "first P006", "1.00"], ["P006", "last P006", "2.00"], ["P011", "Product 11", "11000.00"]],
        "unknown_name.csv": [SALES_HEADER, list(sales_row(2).values())],
        "product_list_bad_price.csv": [
            ["sku", "product_name", "price"],
            ["P100", "Good", "1.00"],
            ["P101", "Good", "2.00"],
            ["P102", "Bad", "abc"],
            ["P103", "Good too", "3.00"],
        ],
    }
    for name, rows in files.items():
        with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    write_sales_10k()
    write_small_files()
