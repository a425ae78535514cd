"""`manage.py import_files`: folders of real files, one line per file, and an exit status scripts can use."""

import io
import re
import shutil

import pytest
from django.core.management import CommandError, call_command

from imports.models import ImportJob, JobStatus

from .conftest import DATA, table_count

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_FILES = ["products.csv", "sales_small.csv", "stock_jan.csv"]
GOOD_LINES = [
    "products.csv: Processing complete, 10 rows imported into products",
    "sales_small.csv: Processing complete, 10 rows imported into sales",
    "stock_jan.csv: Processing complete, 20 rows imported into stocks",
]


@pytest.fixture
def folder(tmp_path):
    """A distributor's folder: the three demo tables' files, plus what a folder walk must pass over."""
    path = tmp_path / "october"
    path.mkdir()
    for name in GOOD_FILES:
        shutil.copy(DATA / name, path / name)
    shutil.copy(DATA / "report.pdf", path / "report.pdf")
    shutil.copy(DATA / "sales_small.csv", path / ".sales_backup.csv")
    for hidden in (".cache", "__MACOSX"):
        (path / hidden).mkdir()
        shutil.copy(DATA / "sales_small.csv", path / hidden / "sales_copy.csv")
    return path


def run(*args: str) -> tuple[list[str], int]:
    """Run the command; return its output lines (after the batch line) and its exit status."""
    out = io.StringIO()
    try:
        call_command("import_files", *args, stdout=out, stderr=io.StringIO())
        status = 0
    except SystemExit as exc:
        status = exc.code
    first, *lines = out.getvalue().splitlines()
    assert re.fullmatch(r"Batch [0-9a-f-]{36} \((quick|full|both)\)", first)
    return lines, status


def test_cli_imports_a_folder_one_line_per_file(folder, demo_tables):
    lines, status = run(str(folder), "--wait")
    assert (lines, status) == (GOOD_LINES, 0)
    assert [j.status for j in ImportJob.objects.order_by("id")] == [JobStatus.COMPLETE] * 3
    assert (table_count("products"), table_count("sales"), table_count("stocks")) == (10, 10, 20)


def test_cli_one_bad_file_exits_1_and_the_others_import(folder, demo_tables):
    shutil.copy(DATA / "sales_undecodable_late.csv", folder / "sales_undecodable_late.csv")
    lines, status = run(str(folder), "--mode", "both", "--wait")
    assert status == 1
    bad = [line for line in lines if line.startswith("sales_undecodable_late.csv")]
    assert bad == [
        "sales_undecodable_late.csv: Validation failed: sales_undecodable_late.csv cannot be decoded as "
        "cp1252 at row 963 (byte 71728)."
    ]
    assert [line for line in lines if line not in bad] == GOOD_LINES
    assert table_count("sales") == 10


def test_cli_quick_mode_prints_validity_without_jobs(folder, demo_tables):
    lines, status = run(str(folder), "--mode", "quick")
    assert (lines, status) == (
        [
            "products.csv: valid, 10 rows -> products",
            "sales_small.csv: valid, 10 rows -> sales",
            "stock_jan.csv: valid, 20 rows -> stocks",
        ],
        0,
    )
    assert not ImportJob.objects.exists()
    assert table_count("sales") == 0


def test_cli_quick_mode_with_an_invalid_file_exits_1(folder, demo_tables):
    shutil.copy(DATA / "sales_header_only.csv", folder / "sales_header_only.csv")
    lines, status = run(
        str(folder / "sales_header_only.csv"), str(folder / "sales_small.csv"), "--mode", "quick"
    )
    assert (lines, status) == (
        [
            "sales_header_only.csv: INVALID: sales_header_only.csv has a header but no data rows.",
            "sales_small.csv: valid, 10 rows -> sales",
        ],
        1,
    )


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        pytest.param(lambda tmp: tmp / "nowhere", "{path}: no such file or folder.", id="missing-path"),
        pytest.param(
            lambda tmp: tmp,
            "No .csv, .txt, .xlsx, .xlsm, .xls, .ods or .zip files found.",
            id="folder-without-data-files",
        ),
    ],
)
def test_cli_refuses_a_path_without_files(tmp_path, demo_tables, make_path, message):
    path = make_path(tmp_path)
    with pytest.raises(CommandError) as caught:
        call_command("import_files", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert str(caught.value) == message.format(path=path)
    assert not ImportJob.objects.exists()
