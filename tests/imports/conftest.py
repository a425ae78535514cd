"""Fixtures for the import engine: the demo tables, uploads from tests/data, reading physical tables back."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection

from tests.compliance_scenario import three_distributors_make

DATA = Path(__file__).resolve().parent.parent / "data"

ON_MYSQL = django_settings.DATABASES["default"]["ENGINE"].endswith("mysql")
# On MySQL the loader tests run through LOAD DATA LOCAL INFILE ("on") and multi-row INSERT ("off").
LOAD_MODES = (
    [pytest.param("on", id="load-data"), pytest.param("off", id="insert")]
    if ON_MYSQL
    else [pytest.param("auto", id="sqlite")]
)


@pytest.fixture(params=LOAD_MODES)
def load_mode(request, settings):
    """Every loader test once per load path the database has."""
    settings.IMPORT_LOAD_DATA_LOCAL = request.param
    return request.param


@pytest.fixture
def demo_tables(db):
    call_command("load_demo_config", verbosity=0)


@pytest.fixture
def three_distributors(demo_tables):
    """Three distributors, three months of real imports: see tests/compliance_scenario.py."""
    return three_distributors_make()


def upload(name: str, *, as_name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(as_name or name, (DATA / name).read_bytes())


def table_rows(table: str, columns: str = "*", order: str = "id") -> list[tuple]:
    quote = connection.ops.quote_name
    cols = columns if columns == "*" else ", ".join(quote(c.strip()) for c in columns.split(","))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cols} FROM {quote(table)} ORDER BY {quote(order)}")
        return [tuple(row) for row in cursor.fetchall()]


def table_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]
