"""Regenerate the re-sent file samples in this folder: `python tests/data/resent/make_resent_samples.py`.

The files are committed; this script documents exactly what is in them:
- sales_oct.csv: 6 sales rows of distributor 31001 (October 2026).
- sales_oct_resent.csv: the same bytes under another name (a distributor sending October again).
- sales_oct_fixed.csv: the same rows with one amount corrected (different bytes).
- resent_oct.zip: sales_oct.csv again, as a ZIP member in a folder (october/sales_oct.csv).
- products_resent.csv: 4 product rows (a table with a unique key, on_duplicate=update).
- stock_and_sales.csv: headers of both the sales and the stocks table (each ignores the other's), 3 rows.
"""

import csv
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
SALES_HEADER = ["distid", "dono", "dotanggal", "custid", "sku", "qty", "amount_jual", "exportdate"]


def _sales_rows(*, fixed: bool = False) -> list[list[str]]:
    rows = [
        [
            "31001",
            f"DO{n:07d}",
            f"2026-10-{n:02d}",
            f"C{n:05d}",
            f"{n:05d}",
            str(n),
            f"{1000 * n}.50",
            "2026-10-31 23:00:00",
        ]
        for n in range(1, 7)
    ]
    if fixed:
        rows[2][6] = "3000.75"
    return rows


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def main() -> None:
    sales = _csv(SALES_HEADER, _sales_rows())
    (HERE / "sales_oct.csv").write_bytes(sales)
    (HERE / "sales_oct_resent.csv").write_bytes(sales)
    (HERE / "sales_oct_fixed.csv").write_bytes(_csv(SALES_HEADER, _sales_rows(fixed=True)))
    with zipfile.ZipFile(HERE / "resent_oct.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("october/sales_oct.csv", date_time=(2026, 11, 1, 9, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, sales)
    products = [[f"R{n:03d}", f"Resent product {n}", f"{n * 100}.00"] for n in range(1, 5)]
    (HERE / "products_resent.csv").write_bytes(_csv(["sku", "product_name", "price"], products))
    both = [
        [
            "31001",
            f"DO{n:07d}",
            f"2026-10-{n:02d}",
            f"C{n:05d}",
            f"{n:05d}",
            str(n),
            f"{n}0.00",
            "WH1",
            str(10 * n),
        ]
        for n in range(1, 4)
    ]
    header = [
        "distid",
        "dono",
        "dotanggal",
        "custid",
        "sku",
        "qty",
        "amount_jual",
        "warehouse_code",
        "stock_pcs",
    ]
    (HERE / "stock_and_sales.csv").write_bytes(_csv(header, both))


if __name__ == "__main__":
    main()
