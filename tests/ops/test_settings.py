"""The metrics settings: a mistyped allowed address stops the start with its name, instead of letting nobody in."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def _start(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "importhub.settings", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_settings_metrics_allowed_ips_accepts_addresses_and_networks():
    assert _start(METRICS_ALLOWED_IPS="10.0.0.0/8,192.0.2.7,2001:db8::/32").returncode == 0


def test_settings_metrics_allowed_ips_refuses_what_is_not_an_address():
    result = _start(METRICS_ALLOWED_IPS="10.0.0.0/8,prometheus.internal")
    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS: 'prometheus.internal' is not an IP address or network." in result.stderr


PRODUCTION_PROBE = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
print(client.get("/healthz").status_code, client.get("/readyz").status_code, client.get("/metrics").status_code,
      client.get("/batches/").status_code)
"""


def test_settings_production_serves_the_probes_over_plain_http(tmp_path):
    # A kubelet or a load balancer talks plain HTTP to gunicorn: a redirect to HTTPS would fail each probe.
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "importhub.settings",
            "DJANGO_ENV": "production",
            "SECRET_KEY": "ci-only-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
            "ALLOWED_HOSTS": "testserver",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    healthz, readyz, metrics, page = map(int, result.stdout.split())
    assert healthz == 200
    assert readyz == 503  # an empty database: no broker table, no cluster; answered, not redirected
    assert metrics == 403
    assert page == 301  # every other page still goes to HTTPS
