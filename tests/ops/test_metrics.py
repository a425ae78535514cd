"""/metrics as Prometheus and a stranger see it: refused without the token or an allowed address, and the job
figures right for the jobs in the database when allowed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from imports.models import ArchiveStatus, ImportJob, JobStatus

TOKEN = "metrics-token-for-the-tests-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16", "192.0.2.7", "2001:db8::/32"]
    return settings


def samples(response) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, as Prometheus parses the page."""
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def refused(response) -> bool:
    return response.status_code in (401, 403) and b"importhub_" not in response.content


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="anonymous"),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer wrong-token"}, id="wrong-token"),
        pytest.param({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"}, id="token-with-a-suffix"),
        pytest.param({"HTTP_AUTHORIZATION": f"Token {TOKEN}"}, id="other-scheme"),
        pytest.param({"HTTP_AUTHORIZATION": "Bearer "}, id="empty-token"),
        pytest.param({"REMOTE_ADDR": "10.21.0.1"}, id="address-outside-the-network"),
        pytest.param(
            {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "10.20.3.4"}, id="forwarded-for"
        ),
    ],
)
def test_metrics_refuses_callers_without_the_token_or_an_allowed_address(headers):
    assert refused(Client().get("/metrics", **headers))
    assert refused(Client().post("/metrics", **headers))  # refused before the method is looked at


def test_metrics_with_no_token_and_no_address_configured_lets_nobody_in(metrics_settings):
    metrics_settings.METRICS_TOKEN = ""
    metrics_settings.METRICS_ALLOWED_IPS = []
    assert refused(Client().get("/metrics", HTTP_AUTHORIZATION="Bearer "))
    assert refused(Client().get("/metrics", REMOTE_ADDR="127.0.0.1"))


def _jobs() -> None:
    """Two waiting (one for an hour), two complete (120 + 30 rows), one failed, two with archives pending."""
    now = timezone.now()
    old = ImportJob.objects.create(status=JobStatus.WAITING)
    ImportJob.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(hours=1))
    ImportJob.objects.create(status=JobStatus.WAITING)
    ImportJob.objects.create(
        status=JobStatus.COMPLETE, success_count=120, archive_status=ArchiveStatus.PENDING
    )
    ImportJob.objects.create(status=JobStatus.COMPLETE, success_count=30, archive_status=ArchiveStatus.DONE)
    ImportJob.objects.create(status=JobStatus.FAILED, success_count=99, archive_status=ArchiveStatus.PENDING)


def _assert_job_figures(found: dict) -> None:
    def jobs(status: JobStatus) -> float:
        return found[
            ("importhub_jobs", (("status", str(status.value)), ("status_name", status.name.lower())))
        ]

    assert jobs(JobStatus.WAITING) == 2
    assert jobs(JobStatus.COMPLETE) == 2
    assert jobs(JobStatus.FAILED) == 1
    assert jobs(JobStatus.PROCESSING) == 0  # every status is there, so an alert can watch a zero
    assert found[("importhub_waiting_jobs", ())] == 2
    assert 3600 <= found[("importhub_oldest_waiting_job_age_seconds", ())] < 3600 + 120
    assert found[("importhub_rows_imported_total", ())] == 150  # the failed job's rows are not counted
    assert found[("importhub_archive_backlog", ())] == 2
    assert found[("importhub_database_up", ())] == 1
    assert found[("importhub_qclusters_live", ())] == 0


def test_metrics_shows_the_job_figures_to_the_metrics_token():
    _jobs()
    client = Client()
    client.get("/healthz")

    found = samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))

    _assert_job_figures(found)
    # django-prometheus's request and database figures are on the same page.
    assert any(name == "django_http_requests_total_by_view_transport_method_total" for name, _ in found)
    assert any(name == "django_db_execute_total" for name, _ in found)


@pytest.mark.parametrize("address", ["10.20.200.3", "192.0.2.7", "2001:db8::5"])
def test_metrics_shows_the_job_figures_to_an_allowed_address(address):
    _jobs()
    _assert_job_figures(samples(Client().get("/metrics", REMOTE_ADDR=address)))


def test_metrics_with_no_waiting_job_says_zero():
    ImportJob.objects.create(status=JobStatus.COMPLETE, success_count=5)

    found = samples(Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))

    assert found[("importhub_waiting_jobs", ())] == 0
    assert found[("importhub_oldest_waiting_job_age_seconds", ())] == 0
    assert found[("importhub_rows_imported_total", ())] == 5


def test_metrics_shows_a_logged_in_superuser_but_not_other_users(make_user, admin_user):
    staff = Client()
    staff.force_login(make_user("staff", is_staff=True))
    assert refused(staff.get("/metrics"))

    admin = Client()
    admin.force_login(admin_user)
    assert ("importhub_database_up", ()) in samples(admin.get("/metrics"))
