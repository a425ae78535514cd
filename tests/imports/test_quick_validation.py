"""Quick validation: each of the seven steps fails with its own plain message, one file each."""

import shutil

import pytest

from imports.services.quick import file_quick_validate
from imports.services.reading import FileFormat, file_format_detect
from imports.services.validation import DistributorRule
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
    result = validate(tmp_path, "products.csv", as_name="products.pdf")
    assert not result.valid
    assert result.error == (
        "products.pdf: Unsupported file type '.pdf'. Expected .csv, .txt, .xlsx, .xlsm, .xls or .ods."
    )


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


def test_quick_step7b_sample_rows_are_row_errors_not_a_refusal(tmp_path, demo_tables):
    # A bad value in the first rows is a row error, as the same value at row 26 is: the file stays valid.
    result = validate(tmp_path, "sales_bad_sample.csv", as_name="sales_oct.csv")
    assert result.valid and result.error is None
    assert [(e["row"], e["column"], e["value"], e["message"]) for e in result.row_errors] == [
        (3, "qty", "12.7", "qty: '12.7' is not a whole number")
    ]
    assert result.as_dict()["row_errors"][0]["row"] == 3


def test_quick_headers_by_alias_are_accepted(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_aliases.csv")
    assert result.valid, result.error
    assert result.warnings == ["Columns not in the configuration are ignored: remark"]


# --- data fidelity: the whole file's encoding, and the distributor rule -------------------------------------


def test_quick_late_cp1252_file_is_valid_with_the_encoding_the_import_uses(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_cp1252_late.csv")
    assert result.as_dict() == {
        "filename": "sales_cp1252_late.csv",
        "table_name": "sales",
        "valid": True,
        "rows": 971,
        "error": None,
    }
    assert result.file_format == FileFormat("cp1252", ",")
    assert result.file_format == file_format_detect(path=tmp_path / "stored.bin", whole_file=True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "sales_undecodable_late.csv",
            "sales_undecodable_late.csv cannot be decoded as cp1252 at row 963 (byte 71728).",
            id="0x81-after-64-kib",
        ),
        pytest.param(
            "sales_mixed_encodings.csv",
            "sales_mixed_encodings.csv cannot be decoded as utf-8 at row 963 (byte 71731).",
            id="utf8-then-cp1252",
        ),
    ],
)
def test_quick_file_no_encoding_fits_is_refused_with_the_offset(tmp_path, demo_tables, name, message):
    result = validate(tmp_path, name)
    assert (result.valid, result.error, result.error_code) == (False, message, "undecodable")


@pytest.mark.parametrize(
    ("settings", "name", "dist_id", "error"),
    [
        pytest.param({}, "sales_dist_mixed.csv", "31001", None, id="prefix-2-first-5-values-match"),
        pytest.param(
            {"distributor_match": "exact"}, "sales_dist_mixed.csv", "31001", None, id="exact-first-5-values"
        ),
        pytest.param(
            {"distributor_match": "exact"},
            "sales_dist42.csv",
            "31001",
            "DistID mismatch: expected 31001, found 42001 (row 2)",
            id="exact-mismatch",
        ),
        pytest.param(
            {"distributor_prefix_length": 5},
            "sales_dist42.csv",
            "31001",
            "DistID prefix mismatch: expected 31001.., found 42001.. (row 2)",
            id="prefix-5",
        ),
        pytest.param(
            {},
            "sales_dist_mixed.csv",
            "  42001 ",
            "DistID prefix mismatch: expected 42.., found 31.. (row 2)",
            id="dist-id-stripped",
        ),
    ],
)
def test_quick_distributor_head_check_uses_the_table_rule(
    tmp_path, demo_tables, settings, name, dist_id, error
):
    ImportTable.objects.filter(table_name="sales").update(**settings)
    result = validate(tmp_path, name, as_name="sales.csv", dist_id=dist_id)
    assert (result.valid, result.error) == (error is None, error)
    if error:
        assert result.error_code == "dist_prefix_mismatch"


def test_quick_distributor_head_check_looks_at_the_first_5_values_only(tmp_path, demo_tables):
    # Rows 8 (31002) and 9 (3200123) come after the first 5 values: the full import checks them.
    ImportTable.objects.filter(table_name="sales").update(distributor_match="exact")
    result = validate(tmp_path, "sales_dist_mixed.csv", dist_id="31001")
    assert result.valid and result.rows == 10
    rule = result.mapping.rules[0]
    assert (rule.name, rule.distributor) == ("distid", DistributorRule("31001", "exact", 2))


def test_quick_rules_carry_the_table_separators(tmp_path, demo_tables):
    ImportTable.objects.filter(table_name="sales").update(decimal_separator=",", thousands_separator=".")
    result = validate(tmp_path, "sales_semicolon.csv", as_name="sales.csv")
    assert result.valid, result.error
    separators = {r.name: (r.decimal_separator, r.thousands_separator) for r in result.mapping.rules}
    assert separators["amount_jual"] == separators["qty"] == (",", ".")
    assert separators["custid"] == (".", "")


def test_quick_sample_rows_with_the_default_separators_refuse_decimal_commas(tmp_path, demo_tables):
    result = validate(tmp_path, "sales_semicolon.csv", as_name="sales.csv")
    assert [(e["row"], e["column"]) for e in result.row_errors] == [(2, "amount_jual"), (3, "amount_jual")]
    assert result.row_errors[0]["message"] == (
        "amount_jual: '1250000,50' is not a number (digits with an optional '.', no thousands separators)"
    )
