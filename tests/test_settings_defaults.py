"""The settings `make run` and `manage.py` load when nothing is set: DEBUG off unless DEBUG=true, static files
through whitenoise, secrets hidden from error reports; production keeps DEBUG off whatever DEBUG says."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

# As `manage.py` (so `make run`) starts: its own default DJANGO_SETTINGS_MODULE. A developer's .env must not
# decide the outcome, so reading it is turned off here: only the environment given counts.
PROBE = """
import json, runpy, sys
import environ
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
sys.argv = ["manage.py", "shell", "-c", '''
import json
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "whitenoise": "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE,
    "finders": settings.WHITENOISE_USE_FINDERS,
    "filter": settings.DEFAULT_EXCEPTION_REPORTER_FILTER,
    "database": settings.DATABASES["default"]["NAME"],
}))
''']
runpy.run_path("manage.py", run_name="__main__")
"""
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "ci-only-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
    "ALLOWED_HOSTS": "imports.example.com",
}


def settings_loaded(environment: dict[str, str]) -> dict:
    """The settings of a fresh `manage.py` process with only PATH, HOME and `environment` set."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("environment", "debug"),
    [
        pytest.param({}, False, id="nothing-set"),
        pytest.param({"DEBUG": "false"}, False, id="debug-false"),
        pytest.param({"DEBUG": "true"}, True, id="debug-true"),
        pytest.param({**PRODUCTION, "DEBUG": "true"}, False, id="production-ignores-debug"),
    ],
)
def test_settings_debug_is_off_unless_asked_for(environment, debug):
    assert settings_loaded(environment)["DEBUG"] is debug


@pytest.mark.parametrize(
    ("environment", "finders"),
    [
        pytest.param({}, True, id="development"),
        pytest.param(PRODUCTION, False, id="production"),
    ],
)
def test_settings_static_files_and_error_reports_are_safe_in_every_profile(environment, finders):
    loaded = settings_loaded(environment)
    assert loaded["whitenoise"] is True
    assert loaded["finders"] is finders  # production serves the collected files only
    assert loaded["filter"] == "importhub.reporting.SecretsHiddenFilter"


@pytest.mark.parametrize(
    "environment",
    [
        pytest.param({}, id="default"),
        pytest.param({"DATABASE_URL": "sqlite:///db.sqlite3"}, id="relative-url"),
    ],
)
def test_settings_sqlite_file_is_in_the_project_folder(environment):
    """`DATABASE_URL=sqlite:///db.sqlite3` (.env.example's line) names the project's db.sqlite3 from any folder."""
    loaded = settings_loaded(environment)
    assert loaded["database"] == str(settings.BASE_DIR / "db.sqlite3")
