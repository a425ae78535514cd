"""The compliance pages in a real headless Chromium at 1,366 px: the three-distributor grid exactly (states as
cell classes, counts as text, totals), its filters, its CSV download and the API agreeing with it, a cell
leading to its file; one distributor's charts drawn by the vendored Chart.js from the API's rows, with the
volume drop marked. Screenshots: /tmp/shots/compliance.png and /tmp/shots/distributor.png."""

import csv
import io
from pathlib import Path

import pytest

from imports.models import Distributor
from tableconfig.models import ImportTable
from tests.compliance_scenario import at, sales_file, send

from .conftest import STAFF_PERMS, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots")
WINDOW = "from=2026-08&to=2026-10"
EXPECTED = {
    ("31001", "sales"): ["received", "received", "received"],
    ("31001", "stocks"): ["received", "received", "received"],
    ("31002", "sales"): ["received", "late", "received_with_errors"],
    ("31002", "stocks"): ["received", "received", "received"],
    ("31003", "sales"): ["received", "received", "received"],
    ("31003", "stocks"): ["received", "received", "missing"],
}
GRID_JS = """() => Array.from(document.querySelectorAll('table.compliance-grid tbody tr')).map(tr => [
  tr.dataset.distributor, tr.dataset.table,
  Array.from(tr.querySelectorAll('td.cell')).map(td => [td.dataset.state, td.className, td.innerText.trim()])
])"""


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", perms=[*STAFF_PERMS, "imports.view_distributor"], is_staff=True)


def grid(page) -> dict:
    return {(code, table): cells for code, table, cells in page.evaluate(GRID_JS)}


def states(page) -> dict:
    return {key: [state for state, _, _ in cells] for key, cells in grid(page).items()}


def api_states(page, query: str) -> dict:
    body = page.request.get(f"/api/compliance?{query}").json()
    return {
        (line["distributor"], line["table"] or ""): [c["state"] for c in line["cells"]]
        for line in body["data"]["lines"]
    }


def test_compliance_page_shows_the_grid_filters_it_and_downloads_it(three_distributors, wide_page, viewer):
    page = wide_page
    login(page, viewer)
    page.get_by_role("link", name="Compliance").click()
    page.wait_for_url("**/compliance/")
    page.goto(f"/compliance/?{WINDOW}")

    cells = grid(page)
    assert states(page) == EXPECTED
    assert page.locator("th.period").all_inner_texts() == [
        "2026-08\ndue 10 Sep",
        "2026-09\ndue 10 Oct",
        "2026-10\ndue 10 Nov",
    ]
    south_sales = cells[("31002", "sales")]
    assert south_sales[1] == ["late", "cell state-late", "Late\n29 rows"]
    assert south_sales[2] == [
        "received_with_errors",
        "cell state-received_with_errors",
        "With errors\n30 rows\n2 rejected",
    ]
    assert cells[("31003", "stocks")][2] == ["missing", "cell state-missing", "Missing"]
    assert cells[("31001", "stocks")][0] == ["received", "cell state-received", "Received\n13 rows"]
    totals = {
        li.get_attribute("data-state"): li.locator(".count").inner_text()
        for li in page.locator(".state-totals li").all()
    }
    assert totals == {
        "received": "15",
        "received_with_errors": "1",
        "late": "1",
        "missing": "1",
        "due": "0",
        "not_owed": "0",
    }
    # The cells are coloured by state: a late cell's tile is not a received one's.
    colour = "el => getComputedStyle(el).backgroundColor"
    late_bg = page.locator("tr[data-distributor='31002'][data-table='sales'] td.state-late .tile").evaluate(
        colour
    )
    ok_bg = page.locator(
        "tr[data-distributor='31001'][data-table='sales'] td.state-received .tile"
    ).first.evaluate(colour)
    missing_bg = page.locator("td.state-missing .tile").evaluate(colour)
    assert len({late_bg, ok_bg, missing_bg}) == 3
    # The API and the CSV say the same as the page.
    assert api_states(page, WINDOW) == EXPECTED
    with page.expect_download() as caught:
        page.locator("#compliance-csv").click()
    download = caught.value
    assert download.suggested_filename == "compliance_2026-08_2026-10.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    from_csv: dict = {}
    for row in rows:
        from_csv.setdefault((row["distributor"], row["table"]), []).append(row["state"])
    assert from_csv == EXPECTED and len(rows) == 18
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compliance.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366

    # Filters: stock files that are missing; then every table together.
    page.get_by_label("Table", exact=True).select_option("stocks")
    page.get_by_label("State", exact=True).select_option("missing")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**state=missing**")
    assert states(page) == {("31003", "stocks"): ["received", "received", "missing"]}
    page.get_by_label("Table", exact=True).select_option("")
    page.get_by_label("State", exact=True).select_option("")
    page.get_by_label("All tables together").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**together=true**")
    assert states(page) == {
        ("31001", ""): ["received", "received", "received"],
        ("31002", ""): ["received", "late", "received_with_errors"],
        ("31003", ""): ["received", "received", "missing"],
    }
    assert page.locator("tr[data-distributor='31003'] td.table-name").inner_text() == "all tables"
    assert api_states(page, f"{WINDOW}&together=true") == states(page)

    # A cell leads to the file that covers its period.
    page.goto(f"/compliance/?{WINDOW}")
    page.locator("tr[data-distributor='31002'][data-table='sales'] td.state-late a").click()
    page.wait_for_url("**/batches/**")
    assert page.get_by_text("sales_31002_09.csv").first.is_visible()


def test_compliance_distributor_charts_show_rows_amounts_and_the_drop(
    demo_tables, wide_page, viewer, settings
):
    settings.COMPLIANCE_DROP_SHARE = 0.5
    settings.COMPLIANCE_DROP_PERIODS = 2
    d = Distributor.objects.create(code="77", name="West", due_day=10, obligations_from=at(6, 1).date())
    d.tables.set(ImportTable.objects.filter(table_name__in=["sales", "stocks"]))
    for month, rows in ((6, 38), (7, 42), (8, 40), (9, 44), (10, 12)):
        send("77", f"sales_77_{month}.csv", sales_file("77", month, rows=rows), on=at(month + 1, 2))
    page = wide_page
    login(page, viewer)
    query = "from=2026-06&to=2026-11"
    page.goto(f"/compliance/77/?{query}")
    page.wait_for_function("() => window.complianceCharts && window.complianceCharts.rows")
    assert page.evaluate("typeof window.Chart") == "function"
    assert page.evaluate("window.Chart.version") == "4.6.1"
    assert page.locator("canvas#rows-chart").bounding_box()["width"] > 300
    assert page.locator("canvas#amount-chart").bounding_box()["width"] > 300

    api = page.request.get(f"/api/compliance?distributor=77&{query}").json()["data"]
    sales = next(line for line in api["lines"] if line["table"] == "sales")
    drawn = page.evaluate(
        "() => window.complianceCharts.rows.data.datasets.map(s => [s.label, s.data, s.pointStyle])"
    )
    assert drawn[0] == [
        "sales",
        [c["rows"] if c["jobs"] else None for c in sales["cells"]],
        ["circle", "circle", "circle", "circle", "triangle", "circle"],
    ]
    assert drawn[0][1] == [38, 42, 40, 44, 12, None]
    assert page.evaluate("() => window.complianceCharts.rows.data.labels") == [
        c["period"] for c in sales["cells"]
    ]
    amounts = page.evaluate("() => window.complianceCharts.amount.data.datasets.map(s => [s.label, s.data])")
    assert amounts == [["sales", [float(c["amount"]) if c["amount"] else None for c in sales["cells"]]]]
    assert [c["rows_drop"] for c in sales["cells"]] == [False, False, False, False, True, False]
    drop = page.locator("#drops li")
    assert drop.count() == 1
    assert drop.inner_text() == (
        "2026-10 sales: rows and amount fell by more than 50% against the mean of the previous 2 periods."
    )
    assert page.locator("tr[data-table='sales'] td[data-period='2026-10'] .drop").is_visible()
    assert states(page)[("77", "sales")] == [
        "received",
        "received",
        "received",
        "received",
        "received",
        "due",
    ]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "distributor.png"), full_page=True)
