"""What lands in the table is exactly what the file said: a property test over generated configurations and
rows inside the validated domain, through the whole engine (upload, validation, load), then read back from
the table and from the CSV export. Runs on SQLite and on MariaDB."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imports.models import ImportJob, JobStatus
from imports.services.export import RowFilter, table_csv_stream
from tableconfig.models import ImportTable
from tableconfig.services import import_table_create

pytestmark = pytest.mark.django_db(transaction=True)

# Text a real file carries: accents (NFC and NFD), ß, scripts, emoji, CSV's own specials inside a value.
ALPHABET = st.sampled_from(
    list('aAzZ09 ,"-_.') + ["é", "e\u0301", "ß", "ẞ", "Ö", "ı", "İ", "中", "日", "😀", "€", "\u00a0x"]
)
# Keys that a case- or accent-insensitive collation would take for one.
KEY_LOOKALIKES = [
    "abc",
    "ABC",
    "Abc",
    "straße",
    "strasse",
    "STRASSE",
    "résumé",
    "resume",
    "\u00e9",
    "e\u0301",
]

_counter = itertools.count(1)


def _text(max_length: int):
    # Surrounding whitespace is stripped by validation, so values inside the domain have none.
    return (
        st.lists(ALPHABET, min_size=1, max_size=max_length)
        .map("".join)
        .map(str.strip)
        .filter(lambda v: v and len(v) <= max_length)
    )


def _decimal(digits: int, places: int):
    top = 10**digits - 1  # all nines: the widest value the column holds, every digit significant
    boundary = st.sampled_from([top, -top, 0, 1, -1, 10 ** (digits - 1), -(10 ** (digits - 1))])
    # Built from text, so no Decimal context rounds the 38 digits.
    return st.one_of(boundary, st.integers(-top, top)).map(lambda n: Decimal(f"{n}e-{places}"))


def _date():
    return st.one_of(
        st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(999, 12, 31), dt.date(1000, 1, 1)]),
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    )


def _datetime():
    return st.one_of(
        st.sampled_from([dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)]),
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)),
    )


COLUMN_KINDS = ["str", "int", "decimal", "date", "datetime", "bool"]


@st.composite
def configurations(draw):
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=5))
    columns = [{"column_name": "k", "data_type": "str", "is_unique": True, "max_length": 20}]
    for index, kind in enumerate(kinds):
        column = {"column_name": f"c{index}", "data_type": kind}
        if kind == "str":
            column["max_length"] = draw(st.integers(1, 40))
        if kind == "decimal":
            digits = draw(st.sampled_from([1, 5, 18, 30, 38]))
            column["decimal_digits"] = digits
            column["decimal_places"] = draw(st.integers(0, min(digits, 12)))
        columns.append(column)
    return columns


def _value_strategy(column: dict):
    kind = column["data_type"]
    if kind == "str":
        return _text(column["max_length"])
    if kind == "int":
        return st.one_of(st.sampled_from([-(2**63), 2**63 - 1, 0]), st.integers(-(2**63), 2**63 - 1))
    if kind == "decimal":
        return _decimal(column["decimal_digits"], column["decimal_places"])
    if kind == "date":
        return _date()
    if kind == "datetime":
        return _datetime()
    return st.booleans()


@st.composite
def files(draw):
    columns = draw(configurations())
    count = draw(st.integers(1, 12))
    keys = draw(
        st.lists(
            st.one_of(st.sampled_from(KEY_LOOKALIKES), _text(20)), min_size=count, max_size=count, unique=True
        )
    )
    rows = []
    for key in keys:
        row = [key]
        for column in columns[1:]:
            row.append(draw(st.one_of(st.none(), _value_strategy(column))))
        rows.append(row)
    return columns, rows


def _file_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        return f"{value.year:04d}-{value:%m-%d %H:%M:%S}" + (
            f".{value.microsecond:06d}" if value.microsecond else ""
        )
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return str(value)


def _stored(kind: str, value):
    """The database's value as the Python value it stands for (SQLite keeps text, MySQL typed values)."""
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(int(value))
    if kind == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if kind == "datetime":
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return value


def _exported(kind: str, text: str):
    if text == "":
        return None
    if kind == "bool":
        return text == "true"
    if kind == "str":
        # The export neutralises formula-like text with a leading quote (the alphabet has no quote of its own).
        return text[1:] if text.startswith("'") else text
    return _stored(kind, text)


@settings(
    max_examples=int(os.environ.get("FIDELITY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(example=files())
def test_every_value_round_trips_exactly_through_import_table_and_export(admin_api, example):
    columns, rows = example
    name = f"fidelity_{next(_counter)}"
    table = import_table_create(table_name=name, allowed_filename=name, columns=columns)
    try:
        body = io.StringIO()
        writer = csv.writer(body)
        writer.writerow([c["column_name"] for c in columns])
        writer.writerows([[_file_text(v) for v in row] for row in rows])
        upload = SimpleUploadedFile(f"{name}.csv", body.getvalue().encode("utf-8"))

        response = admin_api.post(
            "/api/import", {"files": [upload], "mode": "full", "table_name": name}, format="multipart"
        )

        assert response.status_code == 202, response.content
        job = ImportJob.objects.get(table_name=name)
        assert job.status == JobStatus.COMPLETE, (job.error_message, job.errors)
        assert (job.error_count, job.inserted_count, job.updated_count) == (0, len(rows), 0), job.errors
        kinds = [c["data_type"] for c in columns]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(quote(c['column_name']) for c in columns)} FROM {quote(name)} ORDER BY id"
            )
            stored = [[_stored(k, v) for k, v in zip(kinds, row, strict=True)] for row in cursor.fetchall()]
        assert stored == rows

        exported = b"".join(table_csv_stream(table=ImportTable.objects.get(pk=table.pk), filters=RowFilter()))
        reader = csv.reader(io.StringIO(exported.decode("utf-8-sig")))
        header = next(reader)
        positions = [header.index(c["column_name"]) for c in columns]
        assert [
            [_exported(k, line[p]) for k, p in zip(kinds, positions, strict=True)] for line in reader
        ] == rows
    finally:
        table.delete()
        with connection.schema_editor() as editor:
            editor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")
