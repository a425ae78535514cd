"""Amount totals are exact on both databases, also past 64 bits and for columns wider than 18 digits."""

from decimal import Context, Decimal, localcontext

import pytest
from django.db import connection

from imports.services.matching import table_columns
from imports.services.summary import job_summary_compute
from tableconfig.services import import_table_create

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
