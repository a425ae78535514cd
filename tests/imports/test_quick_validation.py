"""Quick validation: each of the seven steps fails with its own plain message, one file each."""

import shutil

import pytest

from imports.services.quick import file_quick_validate
from tableconfig.models import ImportTable
from tableconfig.services import import_table_create

from .conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)


def validate(tmp_path, name: str, *, as_name: str | None = None, **options):
    path = tmp_path / "stored.bin"
    shutil.copy(DATA / name, path)
    return file_quick_validate(path=path, original_name=as_name or name, **options)


def test_quick_valid_file_counts_its_records(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_10k_37bad.csv")
    assert result.as_dict() == {
        "filename": "sales_10k_37bad.csv",
        "table_name": "sales",
        "valid": True,
        "rows": 10_000,
        "error": None,
    }


def test_quick_step1_extension(tmp_path, demo_tables):
    result = validate(tmp_path, "products.csv", as_name="products.xls")
    assert not result.valid
    assert result.error == "products.xls: Unsupported file type '.xls'. Expected .csv or .txt."


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"as_name": "unknown_name.csv"}, "Filename not recognized: unknown_name.csv. Expected one of: "),
        ({"as_name": "sales.csv", "table_name": "nope"}, "Table 'nope' does not exist."),
    ],
    ids=["auto-unknown-name", "explicit-unknown-table"],
)
def test_quick_step4_table(tmp_path, demo_tables, options, message):
    result = validate(tmp_path, "sales_small.csv", **options)
    assert not result.valid and result.error.startswith(message)


def test_quick_step4_several_tables_match(tmp_path, demo_tables):
    import_table_create(
        table_name="sales_archive",
        allowed_filename="sales_*",
        columns=[{"column_name": "dono", "data_type": "str"}],
    )
    result = validate(tmp_path, "sales_small.csv")
    assert result.error == "Filename matches several tables: sales, sales_archive"


def test_quick_step5_no_columns(tmp_path, demo_tables):
    ImportTable.objects.create(table_name="empty_table", allowed_filename="empty_table")
    result = validate(tmp_path, "products.csv", as_name="empty_table.csv")
    assert result.error == "No column config found for empty_table"


def test_quick_step6_missing_mandatory_columns(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_missing_cols.csv", as_name="sales.csv")
    assert result.error.startswith(
        "Missing mandatory columns: dotanggal, custid, qty, amount_jual (accepted headers: "
    )
    assert "custid: custid, cust_id, customer_id" in result.error


def test_quick_step7a_distributor_prefix(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_dist42.csv", dist_id="31001")
    assert result.error == "DistID prefix mismatch: expected 31.., found 42.. (row 2)"


def test_quick_step7a_table_without_distributor_column_says_so(tmp_path, demo_tables):
    result = validate(tmp_path, "stock_jan.csv", dist_id="31001")
    assert result.valid
    assert result.warnings[0] == "dist_id 31001 was not checked: table stocks has no distributor column."


def test_quick_step7b_sample_rows(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_bad_sample.csv", as_name="sales_oct.csv")
    assert result.error == "Row 3, qty: '12.7' is not a whole number"


def test_quick_headers_by_alias_are_accepted(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_aliases.csv")
    assert result.valid, result.error
    assert result.warnings == ["Columns not in the configuration are ignored: remark"]
