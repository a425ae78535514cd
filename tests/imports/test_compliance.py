"""The compliance rules: periods and due dates, and the grid of three distributors over three months of real
imports (one late, one with rejected rows, one missing), computed from the jobs the engine recorded."""

import datetime as dt
from decimal import Decimal

import pytest

from imports.models import Distributor, ImportJob, JobPeriodTotal, JobStatus
from imports.services.compliance import (
    ComplianceRequestInvalid,
    compliance_grid,
    month_parse,
    period_before_upload,
    period_of,
    periods_between,
)
from imports.services.revert import import_job_revert
from tableconfig.models import ImportTable
from tests.compliance_scenario import at, sales_file, send

D = dt.date


@pytest.mark.parametrize(
    ("cadence", "day", "due_day", "key", "start", "end", "due"),
    [
        pytest.param(
            "monthly",
            D(2026, 10, 17),
            10,
            "2026-10",
            D(2026, 10, 1),
            D(2026, 10, 31),
            D(2026, 11, 10),
            id="month",
        ),
        pytest.param(
            "monthly",
            D(2026, 12, 31),
            28,
            "2026-12",
            D(2026, 12, 1),
            D(2026, 12, 31),
            D(2027, 1, 28),
            id="december",
        ),
        pytest.param(
            "monthly",
            D(2028, 2, 29),
            1,
            "2028-02",
            D(2028, 2, 1),
            D(2028, 2, 29),
            D(2028, 3, 1),
            id="leap-feb",
        ),
        pytest.param(
            "weekly",
            D(2026, 10, 21),
            1,
            "2026-W43",
            D(2026, 10, 19),
            D(2026, 10, 25),
            D(2026, 10, 26),
            id="week-monday-due",
        ),
        pytest.param(
            "weekly",
            D(2026, 10, 25),
            7,
            "2026-W43",
            D(2026, 10, 19),
            D(2026, 10, 25),
            D(2026, 11, 1),
            id="week-sunday-due",
        ),
        pytest.param(
            "weekly",
            D(2027, 1, 1),
            3,
            "2026-W53",
            D(2026, 12, 28),
            D(2027, 1, 3),
            D(2027, 1, 6),
            id="iso-week-53",
        ),
        pytest.param(
            "daily",
            D(2026, 12, 31),
            1,
            "2026-12-31",
            D(2026, 12, 31),
            D(2026, 12, 31),
            D(2027, 1, 1),
            id="day",
        ),
    ],
)
def test_period_of_gives_key_bounds_and_due_date(cadence, day, due_day, key, start, end, due):
    period = period_of(cadence=cadence, day=day, due_day=due_day)
    assert (period.key, period.start, period.end, period.due) == (key, start, end, due)


def test_periods_between_and_period_before_upload():
    keys = [p.key for p in periods_between(cadence="monthly", start=D(2026, 11, 20), end=D(2027, 1, 31))]
    assert keys == ["2026-11", "2026-12", "2027-01"]
    assert [p.key for p in periods_between(cadence="weekly", start=D(2026, 10, 1), end=D(2026, 10, 12))] == [
        "2026-W40",
        "2026-W41",
        "2026-W42",
    ]
    assert period_before_upload(cadence="monthly", day=D(2026, 11, 5)).key == "2026-10"
    assert period_before_upload(cadence="monthly", day=D(2027, 1, 1)).key == "2026-12"
    assert period_before_upload(cadence="weekly", day=D(2026, 10, 19)).key == "2026-W42"
    assert period_before_upload(cadence="daily", day=D(2026, 3, 1)).key == "2026-02-28"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-10", "October", "2026-10-01", ""])
def test_month_parse_refuses_what_is_not_a_month(text):
    with pytest.raises(ComplianceRequestInvalid) as caught:
        month_parse(text, name="from")
    assert caught.value.code == "invalid_period"
    assert "from:" in caught.value.message


def states(grid, table=None):
    return {
        (line.distributor.code, line.table_name): [c.state for c in line.cells]
        for line in grid.lines
        if table is None or line.table_name == table
    }


@pytest.mark.django_db(transaction=True)
def test_compliance_grid_of_three_distributors_over_three_months(three_distributors):
    grid = compliance_grid(month_from=D(2026, 8, 1), month_to=D(2026, 11, 1), today=D(2026, 11, 20))

    assert [c.period.key for c in grid.lines[0].cells] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert states(grid) == {
        ("31001", "sales"): ["received", "received", "received", "due"],
        ("31001", "stocks"): ["received", "received", "received", "due"],
        ("31002", "sales"): ["received", "late", "received_with_errors", "due"],
        ("31002", "stocks"): ["received", "received", "received", "due"],
        ("31003", "sales"): ["received", "received", "received", "due"],
        ("31003", "stocks"): ["received", "received", "missing", "due"],
    }
    south_sales = next(
        line for line in grid.lines if line.distributor.code == "31002" and line.table_name == "sales"
    )
    late, with_errors = south_sales.cells[1], south_sales.cells[2]
    assert late.late and late.received_at == at(10, 14) and late.period.due == D(2026, 10, 10)
    assert (with_errors.rows, with_errors.rejected_rows) == (30, 2)
    # Rows and the exact amount per period come from the rows' own dates: 0.25 + 1.25 + ... for 29 rows.
    assert late.rows == 29
    assert late.amount == sum((Decimal(f"{n}.25") for n in range(29)), Decimal(0))
    # A stock file has no period column: it covers the month before its upload.
    east_stock = next(
        line for line in grid.lines if line.distributor.code == "31003" and line.table_name == "stocks"
    )
    assert east_stock.cells[1].rows == 14 and east_stock.cells[1].amount is None
    assert grid.counts == {
        "received": 15,
        "received_with_errors": 1,
        "late": 1,
        "missing": 1,
        "due": 6,
        "not_owed": 0,
    }
    every_job = ImportJob.objects.filter(status=JobStatus.COMPLETE).count()
    assert sum(len(c.job_ids) for line in grid.lines for c in line.cells) == every_job


@pytest.mark.django_db(transaction=True)
def test_compliance_filters_and_all_tables_together(three_distributors):
    window = {"month_from": D(2026, 8, 1), "month_to": D(2026, 10, 1), "today": D(2026, 11, 20)}
    assert states(compliance_grid(**window, table_name="stocks", state="missing")) == {
        ("31003", "stocks"): ["received", "received", "missing"]
    }
    assert list(states(compliance_grid(**window, distributor_code="31002"))) == [
        ("31002", "sales"),
        ("31002", "stocks"),
    ]
    assert compliance_grid(**window, cadence="weekly").lines == []

    together = compliance_grid(**window, together=True)
    assert states(together) == {
        ("31001", ""): ["received", "received", "received"],
        ("31002", ""): ["received", "late", "received_with_errors"],
        ("31003", ""): ["received", "received", "missing"],
    }
    east_october = together.lines[2].cells[2]
    assert east_october.tables == {"sales": "received", "stocks": "missing"}
    assert east_october.as_dict()["tables"] == {"sales": "received", "stocks": "missing"}


@pytest.mark.django_db(transaction=True)
def test_compliance_a_reverted_file_no_longer_counts(three_distributors, admin_user):
    job = ImportJob.objects.get(original_filename="sales_31001_10.csv")
    import_job_revert(job=job, user=admin_user)
    grid = compliance_grid(
        month_from=D(2026, 10, 1), month_to=D(2026, 10, 1), today=D(2026, 11, 20), distributor_code="31001"
    )
    assert states(grid) == {("31001", "sales"): ["missing"], ("31001", "stocks"): ["received"]}


@pytest.mark.django_db(transaction=True)
def test_compliance_period_totals_are_the_rows_own_days(three_distributors):
    job = ImportJob.objects.get(original_filename="sales_31001_08.csv")
    totals = list(JobPeriodTotal.objects.filter(job=job).order_by("day").values_list("day", "rows", "amount"))
    assert sum(rows for _, rows, _ in totals) == job.success_count == 28
    # Rows 0 and 27 fall on the 1st: 0.25 + 27.25.
    assert (totals[0][0], totals[0][1], Decimal(totals[0][2])) == (D(2026, 8, 1), 2, Decimal("27.50"))
    assert Decimal(job.summary["amount_total"]) == sum(Decimal(a) for _, _, a in totals)
    assert (job.summary["period_start"], job.summary["period_end"]) == ("2026-08-01", "2026-08-27")


@pytest.mark.django_db(transaction=True)
def test_compliance_periods_before_obligations_are_not_owed_and_volume_drop_is_marked(demo_tables, settings):
    settings.COMPLIANCE_DROP_SHARE = 0.5
    settings.COMPLIANCE_DROP_PERIODS = 2
    d = Distributor.objects.create(code="77", name="West", due_day=10, obligations_from=D(2026, 9, 15))
    d.tables.set(ImportTable.objects.filter(table_name="sales"))
    for month, rows in ((9, 40), (10, 44), (11, 10)):
        send("77", f"sales_77_{month}.csv", sales_file("77", month, rows=rows), on=at(month + 1, 2))
    grid = compliance_grid(month_from=D(2026, 7, 1), month_to=D(2026, 11, 1), today=D(2026, 12, 20))
    cells = grid.lines[0].cells
    assert [c.state for c in cells] == ["not_owed", "not_owed", "received", "received", "received"]
    assert [c.rows_drop for c in cells] == [False, False, False, False, True]
    assert cells[4].amount_drop is True


def test_compliance_grid_refuses_a_reversed_range():
    with pytest.raises(ComplianceRequestInvalid):
        compliance_grid(month_from=D(2026, 10, 1), month_to=D(2026, 9, 1))


@pytest.mark.django_db(transaction=True)
def test_compliance_a_job_from_before_the_day_totals_covers_its_summary_range(three_distributors):
    job = ImportJob.objects.get(original_filename="sales_31001_09.csv")
    JobPeriodTotal.objects.filter(job=job).delete()  # as a job imported by an earlier version has none
    window = {"month_from": D(2026, 9, 1), "month_to": D(2026, 9, 1), "today": D(2026, 11, 20)}
    cell = compliance_grid(**window, distributor_code="31001", table_name="sales").lines[0].cells[0]
    assert (cell.state, cell.job_ids, cell.rows) == ("received", [job.id], job.success_count)
    assert cell.amount == Decimal(job.summary["amount_total"])
