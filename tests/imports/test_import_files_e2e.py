"""Real sample files through POST /api/import: encodings and delimiters, ZIP archives, and upload limits."""

from decimal import Decimal

import pytest

from imports.models import ImportJob, JobStatus
from tableconfig.services import import_table_create

from .conftest import table_count, table_rows, upload

pytestmark = pytest.mark.django_db(transaction=True)

SALES_COLUMNS = "distid, dono, dotanggal, custid, sku, qty, amount_jual, exportdate"
EXPORTED = "2026-10-31 23:00:00"
# The rows of every sales-shaped sample, as the table gives them back (amounts to 2 places).
SALES_ROWS = [
    ("31001", "DO2610001", "2026-10-01", "C000123", "00123", "10", "1250000.50", EXPORTED),
    ("31001", "DO2610002", "2026-10-01", "C000124", "00456", "3", "375000.00", EXPORTED),
    ("31001", "DO2610003", "2026-10-02", "C000125", "01789", "1", "99000.00", EXPORTED),
    ("31002", "DO2610004", "2026-10-15", "C000123", "00123", "25", "3125001.25", EXPORTED),
    ("31002", "DO2610005", "2026-10-31", "C000126", "00042", "0", "0.00", EXPORTED),
]


def post_import(client, *files, **fields):
    return client.post("/api/import", {"files": list(files), **fields}, format="multipart")


def _text(value) -> str | None:
    """A cell as text, the same on SQLite and MariaDB (which return dates, Decimals... as such)."""
    return None if value is None else str(value)


def money(value) -> str:
    """An amount to 2 places: SQLite gives back 375000.00 as the integer 375000."""
    return f"{Decimal(str(value)):.2f}"


def rows_text(table: str, columns: str, order: str = "id") -> list[tuple]:
    return [tuple(_text(v) for v in row) for row in table_rows(table, columns, order=order)]


def sales_rows() -> list[tuple]:
    return [(*row[:6], money(row[6]), row[7]) for row in rows_text("sales", SALES_COLUMNS, order="dono")]


def batch_jobs(batch_id: str) -> dict[str, ImportJob]:
    """The batch's jobs for uploaded files (not the 'file not uploaded' ones), by file name."""
    jobs = ImportJob.objects.filter(batch_id=batch_id).exclude(status=JobStatus.SKIPPED).order_by("id")
    return {job.original_filename: job for job in jobs}


def files_under(folder) -> list:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def customers_table(demo_tables):
    return import_table_create(
        table_name="customers",
        allowed_filename="customers_*",
        columns=[
            {"column_name": "distid", "data_type": "str", "is_mandatory": True},
            {"column_name": "custid", "data_type": "str", "is_mandatory": True},
            {"column_name": "custname", "data_type": "str"},
            {"column_name": "city", "data_type": "str"},
            {"column_name": "address", "data_type": "str"},
            {"column_name": "note", "data_type": "str"},
        ],
    )


@pytest.fixture
def upload_dir(settings, tmp_path):
    """UPLOAD_DIR of this test alone, to see what a request leaves there."""
    settings.UPLOAD_DIR = tmp_path / "uploads"
    return settings.UPLOAD_DIR


# --- Reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param("sales_utf8.csv", id="utf8"),
        pytest.param("sales_utf8_bom.csv", id="utf8-bom"),
        pytest.param("sales_utf16le_bom.csv", id="utf16le-bom-crlf"),
        pytest.param("sales_semicolon_dot.csv", id="semicolon"),
        pytest.param("sales_tab.txt", id="tab-txt"),
        pytest.param("sales_pipe.csv", id="pipe"),
        pytest.param("sales_crlf.csv", id="crlf"),
        pytest.param("sales_cr_only.csv", id="cr-only"),
        pytest.param("sales_blank_lines.csv", id="blank-lines-inside-and-trailing"),
    ],
)
def test_import_reads_each_sales_sample_into_the_same_rows(admin_api, demo_tables, sample):
    response = post_import(admin_api, upload(sample), mode="full")
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    assert data["validation"] == [
        {"filename": sample, "table_name": "sales", "valid": True, "rows": 5, "error": None}
    ]
    job = batch_jobs(data["batch_id"])[sample]
    assert (job.status, job.total_rows, job.success_count, job.error_count) == (JobStatus.COMPLETE, 5, 5, 0)
    # Leading zeros stay: sku is a text column.
    assert sales_rows() == SALES_ROWS


def test_import_semicolon_file_with_decimal_commas_rejects_those_rows_naming_the_value(
    admin_api, demo_tables
):
    # Bad values in the first rows are row errors (as further down), not a refusal of the whole file.
    response = post_import(admin_api, upload("sales_semicolon.csv"), mode="full")
    assert response.status_code == 202
    [result] = response.json()["data"]["validation"]
    assert result["valid"] and result["row_errors"][0]["message"] == (
        "amount_jual: '1250000,50' is not a number (digits with an optional '.', no thousands separators)"
    )
    job = batch_jobs(response.json()["data"]["batch_id"])["sales_semicolon.csv"]
    assert job.status == JobStatus.COMPLETE
    rejected = {e["row"]: e["value"] for e in job.errors}
    assert rejected[2] == "1250000,50" and rejected[3] == "375000,00"
    assert table_count("sales") == job.success_count == 5 - job.error_count


def test_import_cp1252_accents_arrive_intact(admin_api, customers_table):
    data = post_import(admin_api, upload("customers_cp1252.csv"), mode="full").json()["data"]
    assert batch_jobs(data["batch_id"])["customers_cp1252.csv"].status == JobStatus.COMPLETE
    assert table_rows("customers", "custid, custname, city") == [
        ("C000123", "José Muñoz", "Jakarta"),
        ("C000124", "Café Señor", "Bandung"),
        ("C000125", "Peña Ibáñez", "Surabaya"),
    ]


def test_import_quoted_commas_quotes_and_newlines_arrive_intact(admin_api, customers_table):
    data = post_import(admin_api, upload("customers_quoted.csv"), mode="full").json()["data"]
    assert data["validation"][0]["rows"] == 4
    job = batch_jobs(data["batch_id"])["customers_quoted.csv"]
    assert (job.status, job.success_count) == (JobStatus.COMPLETE, 4)
    assert table_rows("customers", "custid, custname, address, note") == [
        ("C000123", "Toko Maju, Jaya", "Jl. Sudirman 5, Jakarta", "plain"),
        ("C000124", 'Toko "Sinar" Baru', "Jl. Thamrin 10\nLantai 2\nJakarta", 'say "hi"'),
        ("C000125", None, None, "line one\r\nline two"),
        ("C000126", "Apotek Sehat", "Jl. Gatot Subroto 1", "last"),
    ]


@pytest.mark.parametrize(
    ("sample", "error"),
    [
        pytest.param(
            "sales_header_only.csv", "sales_header_only.csv has a header but no data rows.", id="header-only"
        ),
        pytest.param("empty.csv", "empty.csv is empty.", id="zero-bytes"),
        pytest.param("blank_lines_only.csv", "blank_lines_only.csv is empty.", id="blank-lines-only"),
        pytest.param("binary_garbage.csv", "binary_garbage.csv is not a text file.", id="binary-named-csv"),
        pytest.param(
            "sales_unclosed_quote.csv",
            "sales_unclosed_quote.csv: row 7 has a quoted value that is never closed (is the file cut short?).",
            id="unclosed-quote",
        ),
    ],
)
def test_import_unreadable_file_fails_validation_naming_the_file(admin_api, demo_tables, sample, error):
    response = post_import(admin_api, upload(sample), mode="full")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "All files failed validation."
    assert body["data"]["validation"] == [
        {"filename": sample, "table_name": None, "valid": False, "rows": 0, "error": error}
    ]
    job = batch_jobs(body["data"]["batch_id"])[sample]
    assert (job.status, job.error_message) == (JobStatus.VALIDATION_FAILED, error)
    assert table_count("sales") == 0


# --- ZIP archives -----------------------------------------------------------------------------


def test_import_zip_members_at_any_depth_are_matched_by_their_own_names(admin_api, demo_tables):
    response = post_import(admin_api, upload("nested_folders.zip"), mode="full")
    assert response.status_code == 202
    data = response.json()["data"]
    # __MACOSX, ._ files, .DS_Store and hidden folders are skipped without a word.
    assert data["warnings"] == []
    assert data["files"] == ["sales_oct.csv", "stock_oct.txt", "products.csv"]
    jobs = batch_jobs(data["batch_id"])
    assert {
        name: (job.source_name, job.table_name, job.status, job.success_count) for name, job in jobs.items()
    } == {
        "sales_oct.csv": ("nested_folders.zip:2026/10/sales_oct.csv", "sales", JobStatus.COMPLETE, 5),
        "stock_oct.txt": ("nested_folders.zip:2026/10/stock/stock_oct.txt", "stocks", JobStatus.COMPLETE, 3),
        "products.csv": ("nested_folders.zip:products.csv", "products", JobStatus.COMPLETE, 3),
    }
    # Every demo table got its file: no "file not uploaded" jobs.
    assert not ImportJob.objects.filter(batch_id=data["batch_id"], status=JobStatus.SKIPPED).exists()
    assert sales_rows() == SALES_ROWS
    assert rows_text("stocks", "sku, warehouse_code, stock_pcs, stock_box, stock_cs, date") == [
        ("00123", "WH1", "120", "12", None, "2026-10-31"),
        ("00456", "WH1", "30", "3", "1", "2026-10-31"),
        ("01789", "WH2", "0", None, None, "2026-10-31"),
    ]
    assert [row[0] for row in table_rows("products", "sku")] == ["P001", "P002", "P003"]


@pytest.mark.parametrize(
    ("sample", "limits", "warnings", "members"),
    [
        pytest.param(
            "zip_slip.zip",
            {},
            [
                "zip_slip.zip: ../evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: /etc/evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: C:\\temp\\evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: reports/../../evil2.csv: unsafe path (absolute or outside the archive). Skipped.",
            ],
            ["ok.csv"],
            id="dot-dot-and-absolute-paths",
        ),
        pytest.param(
            "symlink.zip",
            {},
            ["symlink.zip: link.csv: symbolic links are not extracted. Skipped."],
            ["data.csv"],
            id="symlink",
        ),
        pytest.param(
            "encrypted.zip",
            {},
            ["encrypted.zip: secret.csv: encrypted members are not extracted. Skipped."],
            ["open.csv"],
            id="encrypted-member",
        ),
        pytest.param(
            "bomb.zip",
            {},
            [
                "bomb.zip: zeros.csv: compression ratio of 1029:1 is over the limit of 200:1 "
                "(possible ZIP bomb). Skipped."
            ],
            ["small.csv"],
            id="high-ratio-bomb",
        ),
        pytest.param(
            "too_many_members.zip",
            {"ZIP_MAX_MEMBERS": 5},
            ["too_many_members.zip: has 12 entries, over the limit of 5. Skipped."],
            [],
            id="too-many-members",
        ),
        pytest.param(
            "nested.zip",
            {},
            ["nested.zip: inner.zip: nested ZIP archives are not extracted. Skipped."],
            ["outer.csv"],
            id="zip-in-a-zip",
        ),
        pytest.param(
            "corrupt.zip",
            {},
            ["corrupt.zip: Invalid ZIP or no data files found inside."],
            [],
            id="invalid-zip",
        ),
    ],
)
def test_import_zip_refusals_are_warnings_and_the_rest_imports(
    admin_api, demo_tables, settings, sample, limits, warnings, members
):
    for name, value in limits.items():
        setattr(settings, name, value)
    # The members' names (ok.csv, data.csv...) match no table: the table is named instead.
    response = post_import(
        admin_api, upload(sample), upload("sales_small.csv"), mode="full", table_name="sales"
    )
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["warnings"] == warnings
    assert data["files"] == [*members, "sales_small.csv"]
    jobs = batch_jobs(data["batch_id"])
    assert {name: job.status for name, job in jobs.items()} == dict.fromkeys(
        [*members, "sales_small.csv"], JobStatus.COMPLETE
    )
    assert table_count("sales") == 5 * len(members) + 10


# --- Limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "samples", "code", "message"),
    [
        pytest.param(
            {"UPLOAD_MAX_FILE_BYTES": 400},
            ["products.csv", "sales_utf8.csv"],
            "file_too_large",
            "sales_utf8.csv is 417 bytes, over the limit of 400 bytes per file (UPLOAD_MAX_FILE_BYTES).",
            id="bytes-per-file",
        ),
        pytest.param(
            {"UPLOAD_MAX_REQUEST_BYTES": 1000},
            ["sales_utf8.csv", "sales_crlf.csv", "sales_pipe.csv"],
            "request_too_large",
            "over the limit of 1,000 bytes per request (UPLOAD_MAX_REQUEST_BYTES).",
            id="bytes-per-request",
        ),
        pytest.param(
            {"UPLOAD_MAX_FILES": 2},
            ["sales_utf8.csv", "sales_crlf.csv", "sales_pipe.csv"],
            "too_many_files",
            "Too many files: 3 sent, at most 2 per request (UPLOAD_MAX_FILES).",
            id="files-per-request",
        ),
        pytest.param(
            # As the settings have them: Django's own limit is UPLOAD_MAX_FILES, and it stops parsing first.
            {"UPLOAD_MAX_FILES": 2, "DATA_UPLOAD_MAX_NUMBER_FILES": 2},
            ["sales_utf8.csv", "sales_crlf.csv", "sales_pipe.csv"],
            "too_many_files",
            "Too many files: more than 2 sent, at most 2 per request (UPLOAD_MAX_FILES).",
            id="files-per-request-django-limit",
        ),
    ],
)
def test_import_over_a_limit_is_413_naming_it_and_stores_nothing(
    admin_api, demo_tables, settings, upload_dir, limits, samples, code, message
):
    for name, value in limits.items():
        setattr(settings, name, value)
    response = post_import(admin_api, *[upload(s) for s in samples], mode="full")
    assert response.status_code == 413
    body = response.json()
    assert (body["success"], body["code"]) == (False, code)
    assert body["error"].endswith(message)
    assert not ImportJob.objects.exists()
    assert files_under(upload_dir) == []
    assert table_count("sales") == 0
