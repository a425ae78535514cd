"""The compliance pages without a browser: who may see them, the CSV of the three-distributor scenario row by
row (formula-like cells neutralised), refusals of bad filters, and one distributor's page with its chart data."""

import csv
import io
import json
import re
from decimal import Decimal

import pytest

from imports.models import Distributor, ImportJob
from tableconfig.models import ImportTable
from tests.compliance_scenario import at

WINDOW = {"from": "2026-08", "to": "2026-10"}
# (distributor, table, month) -> state, where it is not "received".
NOT_RECEIVED = {
    ("31002", "sales", 9): "late",
    ("31002", "sales", 10): "received_with_errors",
    ("31003", "stocks", 10): "missing",
}
NAMES = {"31001": "North", "31002": "South", "31003": "East"}


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", perms=["imports.view_distributor"])


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def expected_csv_row(code: str, table: str, month: int) -> dict:
    state = NOT_RECEIVED.get((code, table, month), "received")
    due = f"2026-{month + 1:02d}-10"
    if state == "missing":
        rows, amount, received = 0, "", ""
    elif table == "sales":
        rows = 20 + month
        amount = sum((Decimal(f"{n}.25") for n in range(rows)), Decimal(0))
        received = at(10, 14) if state == "late" else at(month + 1, 5)
    else:
        rows, amount, received = 5 + month, "", at(month + 1, 3)
    return {
        "distributor": code,
        "distributor_name": NAMES[code],
        "table": table,
        "period": f"2026-{month:02d}",
        "start": f"2026-{month:02d}-01",
        "due": due,
        "state": state,
        "late": "yes" if state == "late" else "no",
        "rows": str(rows),
        "amount": amount,
        "rejected_rows": "2" if state == "received_with_errors" else "0",
        "received_at": received.isoformat() if received else "",
        "rows_drop": "no",
        "amount_drop": "no",
    }


@pytest.mark.django_db
def test_compliance_pages_need_login_and_the_permission(client, make_user):
    for url in ("/compliance/", "/compliance.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(make_user("plain", perms=["imports.add_importjob"]))
    for url in ("/compliance/", "/compliance.csv"):
        refused = client.get(url)
        assert refused.status_code == 403
        assert "imports.view_distributor" in refused.content.decode()
    assert 'href="/compliance/"' not in client.get("/batches/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_compliance_csv_has_one_row_per_distributor_table_and_period(three_distributors, viewer_client):
    response = viewer_client.get("/compliance.csv", WINDOW)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="compliance_2026-08_2026-10.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    checked = [{k: v for k, v in row.items() if k not in ("end", "job_ids", "batch_ids")} for row in rows]
    for row in checked:  # exact, at the column's scale ("385.0000")
        row["amount"] = Decimal(row["amount"]) if row["amount"] else ""
    assert checked == [
        expected_csv_row(code, table, month)
        for code in ("31001", "31002", "31003")
        for table in ("sales", "stocks")
        for month in (8, 9, 10)
    ]
    for row in rows:
        jobs = ImportJob.objects.filter(pk__in=[int(j) for j in row["job_ids"].split()])
        assert len(jobs) == (0 if row["state"] == "missing" else 1)
        assert {str(j.batch_id) for j in jobs} == set(row["batch_ids"].split())
        assert all(j.dist_id == row["distributor"] and j.table_name == row["table"] for j in jobs)

    only = viewer_client.get("/compliance.csv", {**WINDOW, "state": "late", "together": "true"})
    lines = list(csv.DictReader(io.StringIO(only.content.decode("utf-8-sig"))))
    assert [(r["distributor"], r["table"], r["period"], r["state"]) for r in lines] == [
        ("31002", "", "2026-08", "received"),
        ("31002", "", "2026-09", "late"),
        ("31002", "", "2026-10", "received_with_errors"),
    ]


@pytest.mark.django_db(transaction=True)
def test_compliance_csv_neutralises_formula_like_cells(demo_tables, viewer_client):
    d = Distributor.objects.create(code="@9", name="=HYPERLINK(1)", due_day=10)
    d.tables.set(ImportTable.objects.filter(table_name="sales"))
    response = viewer_client.get("/compliance.csv", {"from": "2026-08", "to": "2026-08"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][:4] == ["'@9", "'=HYPERLINK(1)", "sales", "2026-08"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/compliance/", "/compliance.csv"])
def test_compliance_pages_refuse_bad_filters_with_the_reason(viewer_client, url):
    response = viewer_client.get(url, {"from": "2026-10", "state": "lost"})
    assert response.status_code == 400
    assert "state: &#x27;lost&#x27; is not one of" in response.content.decode() or (
        "state: 'lost' is not one of" in response.content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_compliance_distributor_page_passes_its_rows_and_drops_to_the_charts(
    demo_tables, viewer_client, settings
):
    from tests.compliance_scenario import sales_file, send

    settings.COMPLIANCE_DROP_SHARE = 0.5
    settings.COMPLIANCE_DROP_PERIODS = 2
    d = Distributor.objects.create(code="77", name="West", due_day=10, obligations_from=at(9, 1).date())
    d.tables.set(ImportTable.objects.filter(table_name="sales"))
    for month, rows in ((9, 40), (10, 44), (11, 10)):
        send("77", f"sales_77_{month}.csv", sales_file("77", month, rows=rows), on=at(month + 1, 2))
    response = viewer_client.get("/compliance/77/", {"from": "2026-09", "to": "2026-11"})
    assert response.status_code == 200
    html = response.content.decode()
    data = json.loads(re.search(r'id="compliance-chart-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert data["periods"] == ["2026-09", "2026-10", "2026-11"]
    (sales,) = data["tables"]
    assert (sales["table"], sales["rows"], sales["rows_drop"]) == (
        "sales",
        [40, 44, 10],
        [False, False, True],
    )
    assert sales["amount_drop"] == [False, False, True]
    assert (
        "2026-11 sales: rows and amount fell by more than 50% against the mean of the previous 2 periods."
        in html
    )
    assert viewer_client.get("/compliance/nobody/").status_code == 404
    assert viewer_client.get("/compliance/77/", {"from": "2026-13"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_compliance_page_shows_one_grid_per_cadence(three_distributors, viewer_client):
    weekly = Distributor.objects.create(
        code="W1", name="Weekly one", cadence="weekly", due_day=1, obligations_from=at(10, 1).date()
    )
    weekly.tables.set(ImportTable.objects.filter(table_name="sales"))
    html = viewer_client.get("/compliance/", {"from": "2026-10", "to": "2026-10"}).content.decode()
    sections = re.findall(r'<section class="compliance-section" data-cadence="(\w+)"', html)
    assert sections == ["monthly", "weekly"]
    weekly_html = html[html.index('data-cadence="weekly"') :]
    assert "<h2>Weekly</h2>" in weekly_html and "<h2>Monthly</h2>" in html
    periods = re.findall(r'<th scope="col" class="period" data-period="([^"]+)"', weekly_html)
    assert periods == ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    # Owed from the week holding 1 October (28 September to 4 October); none was sent.
    assert re.findall(r'<td class="cell state-(\w+)"', weekly_html) == ["missing"] * 5
