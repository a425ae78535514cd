"""GET /api/compliance: the three-distributor scenario's grid as JSON, its filters, its defaults, its refusals
in the API's envelope, and who may ask."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.compliance_scenario import at

URL = "/api/compliance"
WINDOW = {"from": "2026-08", "to": "2026-10"}
EXPECTED = {
    ("31001", "sales"): ["received", "received", "received"],
    ("31001", "stocks"): ["received", "received", "received"],
    ("31002", "sales"): ["received", "late", "received_with_errors"],
    ("31002", "stocks"): ["received", "received", "received"],
    ("31003", "sales"): ["received", "received", "received"],
    ("31003", "stocks"): ["received", "received", "missing"],
}


@pytest.fixture
def viewer_api(make_user):
    client = APIClient()
    client.force_authenticate(make_user("viewer", perms=["imports.view_distributor"]))
    return client


def line_states(body: dict) -> dict:
    return {
        (line["distributor"], line["table"]): [c["state"] for c in line["cells"]] for line in body["lines"]
    }


@pytest.mark.django_db(transaction=True)
def test_compliance_api_gives_the_scenario_grid(three_distributors, viewer_api):
    response = viewer_api.get(URL, WINDOW)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert (data["from"], data["to"]) == ("2026-08", "2026-10")
    assert line_states(data) == EXPECTED
    assert data["counts"] == {
        "received": 15,
        "received_with_errors": 1,
        "late": 1,
        "missing": 1,
        "due": 0,
        "not_owed": 0,
    }
    south_sales = next(x for x in data["lines"] if x["distributor"] == "31002" and x["table"] == "sales")
    assert south_sales["distributor_name"] == "South"
    assert (south_sales["cadence"], south_sales["due_day"]) == ("monthly", 10)
    late = south_sales["cells"][1]
    assert {k: late[k] for k in ("period", "start", "end", "due", "late", "rows", "rejected_rows")} == {
        "period": "2026-09",
        "start": "2026-09-01",
        "end": "2026-09-30",
        "due": "2026-10-10",
        "late": True,
        "rows": 29,
        "rejected_rows": 0,
    }
    assert Decimal(late["amount"]) == Decimal("413.25")  # 0.25 + 1.25 + ... + 28.25, exactly
    assert dt.datetime.fromisoformat(late["received_at"]) == at(10, 14)
    assert len(late["jobs"]) == 1 and len(late["batches"]) == 1
    with_errors = south_sales["cells"][2]
    assert (with_errors["rows"], with_errors["rejected_rows"]) == (30, 2)
    east_stocks = next(x for x in data["lines"] if x["distributor"] == "31003" and x["table"] == "stocks")
    missing = east_stocks["cells"][2]
    assert (missing["state"], missing["jobs"], missing["received_at"], missing["amount"]) == (
        "missing",
        [],
        None,
        None,
    )


@pytest.mark.django_db(transaction=True)
def test_compliance_api_filters(three_distributors, viewer_api):
    only_missing = viewer_api.get(URL, {**WINDOW, "table": "stocks", "state": "missing"}).json()["data"]
    assert line_states(only_missing) == {("31003", "stocks"): ["received", "received", "missing"]}
    assert only_missing["counts"]["missing"] == 1 and only_missing["counts"]["received"] == 2

    one = viewer_api.get(URL, {**WINDOW, "distributor": "31002"}).json()["data"]
    assert list(line_states(one)) == [("31002", "sales"), ("31002", "stocks")]
    assert viewer_api.get(URL, {**WINDOW, "cadence": "weekly"}).json()["data"]["lines"] == []

    together = viewer_api.get(URL, {**WINDOW, "together": "true"}).json()["data"]
    assert line_states(together) == {
        ("31001", None): ["received", "received", "received"],
        ("31002", None): ["received", "late", "received_with_errors"],
        ("31003", None): ["received", "received", "missing"],
    }
    assert together["lines"][2]["cells"][2]["tables"] == {"sales": "received", "stocks": "missing"}


@pytest.mark.django_db(transaction=True)
def test_compliance_api_defaults_to_the_last_six_months(three_distributors, viewer_api):
    data = viewer_api.get(URL).json()["data"]
    this_month = timezone.localdate().replace(day=1)
    index = this_month.year * 12 + this_month.month - 1 - 5
    assert (data["from"], data["to"]) == (f"{index // 12}-{index % 12 + 1:02d}", f"{this_month:%Y-%m}")
    assert len(data["lines"]) == 6
    assert all(len(line["cells"]) == 6 for line in data["lines"])
    assert data["lines"][0]["cells"][-1]["period"] == f"{this_month:%Y-%m}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        pytest.param({"from": "2026-13"}, "invalid_period", "from: '2026-13' is not a month", id="month-13"),
        pytest.param({"to": "October"}, "invalid_period", "to: 'October' is not a month", id="not-a-month"),
        pytest.param(
            {"from": "2026-10", "to": "2026-09"}, "invalid_period", "'to' must not be before", id="reversed"
        ),
        pytest.param({"from": "2020-01", "to": "2026-12"}, "invalid_period", "at most 36", id="too-long"),
        pytest.param({"state": "lost"}, "invalid_state", "state: 'lost' is not one of", id="state"),
        pytest.param({"cadence": "yearly"}, "invalid_cadence", "cadence: 'yearly'", id="cadence"),
        pytest.param({"table": "nope"}, "invalid_table", "no import table 'nope'", id="table"),
        pytest.param({"distributor": "999"}, "invalid_distributor", "no distributor '999'", id="distributor"),
        pytest.param({"together": "maybe"}, "invalid_parameter", "together: 'maybe'", id="together"),
    ],
)
def test_compliance_api_refuses_bad_parameters_with_their_code(viewer_api, params, code, message):
    response = viewer_api.get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["code"]) == (False, code)
    assert message in body["error"]


@pytest.mark.django_db
def test_compliance_api_needs_login_and_the_view_distributor_permission(api, make_user):
    anonymous = api.get(URL)
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["success"] is False
    api.force_authenticate(make_user("plain", perms=["imports.add_importjob"]))
    refused = api.get(URL)
    assert refused.status_code == 403
    assert refused.json() == {
        "success": False,
        "error": "You do not have permission to see the distributors' compliance (imports.view_distributor).",
        "code": "permission_denied",
    }
