"""The app's own Prometheus metrics, read from the database at each scrape, and who may scrape them.

Computed from the job table (not counted in memory), so every gunicorn worker answers the same figures and
a restart loses nothing. django-prometheus adds the request (`django_http_*`) and database
(`django_db_*`) figures beside them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from imports.models import ArchiveStatus, ImportJob, JobStatus

logger = logging.getLogger(__name__)


def _families() -> dict[str, Metric]:
    return {
        "jobs": GaugeMetricFamily(
            "importhub_jobs", "Import jobs (files) per status.", labels=["status", "status_name"]
        ),
        "waiting": GaugeMetricFamily(
            "importhub_waiting_jobs", "Jobs waiting for a worker (status 3): the queue's length."
        ),
        "oldest": GaugeMetricFamily(
            "importhub_oldest_waiting_job_age_seconds",
            "Seconds since the oldest waiting job (status 3) was created; 0 when none waits.",
        ),
        "rows": CounterMetricFamily(
            "importhub_rows_imported",
            "Rows written by complete jobs (sum of their success_count; reverted jobs included).",
        ),
        "backlog": GaugeMetricFamily(
            "importhub_archive_backlog",
            "Jobs whose original file waits to be archived (archive_status pending).",
        ),
        "clusters": GaugeMetricFamily(
            "importhub_qclusters_live", "django-q2 clusters reporting themselves running."
        ),
        "up": GaugeMetricFamily("importhub_database_up", "1 when the job figures above could be read."),
    }


class ImportHubCollector(Collector):
    """Job figures at scrape time: two aggregate queries on the job table."""

    def describe(self) -> Iterator[Metric]:
        # Registering must not query the database (the registry would otherwise call collect()).
        yield from _families().values()

    def collect(self) -> Iterator[Metric]:
        from importhub.health import qclusters_live

        families = _families()
        try:
            per_status = dict(ImportJob.objects.order_by().values_list("status").annotate(n=Count("id")))
            totals = ImportJob.objects.aggregate(
                oldest=Min("created_at", filter=Q(status=JobStatus.WAITING)),
                rows=Sum("success_count", filter=Q(status=JobStatus.COMPLETE)),
                backlog=Count("id", filter=Q(archive_status=ArchiveStatus.PENDING)),
            )
        except DatabaseError as exc:
            logger.warning("metrics: job figures unreadable: %s", exc)
            families["up"].add_metric([], 0)
            yield families["up"]
            return
        for status in JobStatus:
            families["jobs"].add_metric(
                [str(status.value), status.name.lower()], per_status.get(status.value, 0)
            )
        families["waiting"].add_metric([], per_status.get(JobStatus.WAITING, 0))
        oldest = totals["oldest"]
        families["oldest"].add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0)
        families["rows"].add_metric([], totals["rows"] or 0)
        families["backlog"].add_metric([], totals["backlog"])
        families["up"].add_metric([], 1)
        try:
            families["clusters"].add_metric([], qclusters_live())
        except Exception as exc:  # the broker being down must not cost the scrape its job figures
            logger.warning("metrics: cluster stats unreadable: %s", exc)
            del families["clusters"]
        yield from families.values()


COLLECTOR = ImportHubCollector()
# Once per process: this module is imported once, by the URL configuration.
REGISTRY.register(COLLECTOR)


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _address_ok(request: HttpRequest) -> bool:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the caller wrote.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


def metrics_access_allowed(*, request: HttpRequest) -> bool:
    """The metrics token, an allowed client address, or a logged-in superuser."""
    user = getattr(request, "user", None)
    return _bearer_ok(request) or _address_ok(request) or bool(user and user.is_superuser)
