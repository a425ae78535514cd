"""Thin front ends for operators: liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)."""

from __future__ import annotations

import os

import prometheus_client
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import multiprocess

from importhub.health import readiness_check
from importhub.metrics import COLLECTOR, metrics_access_allowed
from importhub.views import permission_denied


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: nothing else is looked at (no database), so a restart is never caused by a
    dependency that is down."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    readiness = readiness_check()
    return JsonResponse(
        {"status": "ok" if readiness.ok else "fail", "checks": readiness.checks},
        status=200 if readiness.ok else 503,
    )


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    # Who is asked before how: an anonymous caller learns nothing, not even which methods exist.
    if not metrics_access_allowed(request=request):
        return permission_denied(request)  # the plain 403 page; no traceback logged for each stray caller
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # as prometheus_client decides it
        # Several gunicorn workers: the request figures of all of them, from prometheus_client's files.
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(COLLECTOR)
    else:
        registry = prometheus_client.REGISTRY
    return HttpResponse(
        prometheus_client.generate_latest(registry), content_type=prometheus_client.CONTENT_TYPE_LATEST
    )
