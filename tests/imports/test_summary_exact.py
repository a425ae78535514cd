"""Amount totals are exact on both databases, also past 64 bits and for columns wider than 18 digits."""

from decimal import Context, Decimal, localcontext

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imports.models import ImportJob, JobPeriodTotal, JobStatus
from imports.services.matching import table_columns
from imports.services.summary import SummaryTally, job_summary_compute, job_summary_with_days
from tableconfig.services import import_table_create

from .conftest import upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("digits", "places", "values", "total"),
    [
        pytest.param(18, 4, ["12345678901234.5678", "-0.0001"], "12345678901234.5677", id="fits-64-bits"),
        pytest.param(18, 4, ["99999999999999.9999"] * 1000, "99999999999999999.9000", id="sum-past-64-bits"),
        pytest.param(
            38,
            4,
            ["1234567890123456789012345678901234.5678"] * 2,
            "2469135780246913578024691357802469.1356",
            id="38-digits",
        ),
    ],
)
def test_amount_total_adds_every_digit(digits, places, values, total):
    table = import_table_create(
        table_name="amounts",
        columns=[
            {
                "column_name": "amount",
                "data_type": "decimal",
                "decimal_digits": digits,
                "decimal_places": places,
                "role": "amount",
            }
        ],
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO amounts (amount, import_job_id) VALUES (%s, 7)", [[v] for v in values]
        )

    summary = job_summary_compute(table_name="amounts", columns=table_columns(table), job_id=7)

    assert summary["amount_total"] == total
    with localcontext(Context(prec=100)):
        assert Decimal(total) == sum(map(Decimal, values))


# --- The summary added up while loading (append-only tables) is the one the table gives -------------------

TALLY_COLUMNS = [
    {"column_name": "day", "data_type": "date", "role": "period"},
    {
        "column_name": "amount",
        "data_type": "decimal",
        "decimal_digits": 18,
        "decimal_places": 4,
        "role": "amount",
    },
    {"column_name": "exported", "data_type": "datetime", "role": "export_date"},
]
# Canonical text, as validation hands rows to the writers: years 1 and 9999, all 18 digits, three of them
# on one day, NULLs in every column, a day whose amounts are all NULL, microseconds on the latest export.
TALLY_ROWS = [
    ("0001-01-01", "99999999999999.9999", "0001-01-01 00:00:00"),
    ("9999-12-31", "-0.0001", "2026-10-31 23:59:59.999999"),
    ("2026-10-01", "99999999999999.9999", None),
    ("2026-10-01", "99999999999999.9999", "2026-10-31 23:59:59"),
    ("2026-10-01", None, "2026-10-31 23:59:59.5"),
    ("2026-10-02", None, None),
    (None, "12345678901234.5678", "2026-01-01 00:00:00"),
    (None, None, None),
]


def _tally_and_query(columns: list[dict], rows: list[tuple], *, chunk_rows: int = 3):
    table = import_table_create(table_name="tallied", columns=columns)
    configured = table_columns(table)
    names = [c["column_name"] for c in columns]
    tally = SummaryTally(columns=configured, chunk_rows=chunk_rows)
    for start in range(0, len(rows), chunk_rows):
        tally.add(pd.DataFrame(rows[start : start + chunk_rows], columns=names, dtype=object))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO tallied ({', '.join(names)}, import_job_id) VALUES ({', '.join(['%s'] * len(names))}, 7)",
            [list(row) for row in rows],
        )
    return tally.result(), job_summary_with_days(table_name="tallied", columns=configured, job_id=7)


def test_the_summary_added_up_while_loading_is_the_tables_own():
    tallied, queried = _tally_and_query(TALLY_COLUMNS, TALLY_ROWS)
    assert tallied == queried
    summary, days = tallied
    assert summary["amount_total"] == "312345678901234.5674"  # every digit
    assert (summary["period_start"], summary["period_end"]) == ("0001-01-01", "9999-12-31")
    assert summary["export_date"] == "2026-10-31 23:59:59.999999"
    assert [(d.day.isoformat(), d.rows, d.amount) for d in days] == [
        ("0001-01-01", 1, "99999999999999.9999"),
        ("2026-10-01", 3, "199999999999999.9998"),
        ("2026-10-02", 1, None),
        ("9999-12-31", 1, "-0.0001"),
    ]


@pytest.mark.parametrize(
    "columns, rows",
    [
        pytest.param(
            [
                {"column_name": "stamp", "data_type": "datetime", "role": "period"},
                {"column_name": "qty", "data_type": "int", "role": "amount"},
            ],
            [("2026-10-01 23:59:59", "9223372036854775807"), ("2026-10-01 00:00:00", "9223372036854775807"),
             ("2026-10-02 12:00:00.000001", "-5"), (None, "1")],
            id="datetime-period-int-amount-past-64-bits",
        ),
        pytest.param(
            [{"column_name": "amount", "data_type": "decimal", "decimal_digits": 65, "decimal_places": 30,
              "role": "amount"}],
            [("12345678901234567890123456789012345.123456789012345678901234567890",)] * 5,
            id="65-digits-no-period",
        ),
        pytest.param(
            [{"column_name": "note", "data_type": "str"}], [("a",), (None,)], id="no-roles"
        ),
    ],
)  # fmt: skip
def test_the_tally_matches_the_query_for_every_kind_of_role_column(columns, rows):
    tallied, queried = _tally_and_query(columns, rows, chunk_rows=2)
    assert tallied == queried


@pytest.mark.parametrize("sample", ["sales_summary.csv", "sales_10k_37bad.csv"])
def test_a_real_imports_summary_is_what_its_rows_in_the_table_add_up_to(admin_api, demo_tables, sample):
    """Added up in the reader thread from the rows it handed over (its rejected rows left out), the job's
    summary and its days are what the table gives for the job's rows afterwards."""
    with CaptureQueriesContext(connection) as queries:
        response = admin_api.post(
            "/api/import", {"files": [upload(sample)], "mode": "full"}, format="multipart"
        )
    assert response.status_code == 202, response.json()
    read_back = [q["sql"] for q in queries if 'FROM "sales"' in q["sql"] or "FROM `sales`" in q["sql"]]
    selects = [sql for sql in read_back if sql.lstrip().upper().startswith("SELECT")]
    assert not selects, selects  # no query read its rows back for the summary
    job = ImportJob.objects.get(batch_id=response.json()["data"]["batch_id"], original_filename=sample)
    assert job.status == JobStatus.COMPLETE and job.error_count > 0
    summary, days = job_summary_with_days(table_name="sales", columns=table_columns(job.table), job_id=job.id)
    assert {k: v for k, v in job.summary.items() if k != "timings"} == summary
    stored = list(
        JobPeriodTotal.objects.filter(job_id=job.id).order_by("day").values_list("day", "rows", "amount")
    )
    assert stored == [(d.day, d.rows, d.amount or "") for d in days]
    assert sum(d.rows for d in days) == job.success_count
