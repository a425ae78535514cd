"""Error pages with the settings `make run` uses (DEBUG off): plain pages that show no URL pattern, setting or
traceback, JSON envelopes under /api/, static files still served; and with DEBUG on, no password on the
debug page."""

from __future__ import annotations

import logging
import os
import re
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from django.views.debug import technical_500_response

from .error_urls import FAILURE_MARKER

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.error_urls")]

STARS = "********************"


def url_patterns(patterns=None, prefix: str = "") -> set[str]:
    """Every route of the project as written in its URL configuration (`api/jobs/<uuid:batch_id>/...`)."""
    found = set()
    for entry in get_resolver("importhub.urls").url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= url_patterns(entry.url_patterns, route)
        elif route.strip("^$/"):
            found.add(route)
    return found


def leaks(text: str) -> list[str]:
    """What of the set-up a page shows: URL patterns, settings, the traceback or the error's message."""
    shown = [p for p in url_patterns() if p in text]
    secrets = [
        FAILURE_MARKER,
        "Traceback",
        "ROOT_URLCONF",
        "urlpatterns",
        "Django tried these URL patterns",
        "DATABASES",
        django_settings.SECRET_KEY,
        str(django_settings.DATABASES["default"]["NAME"]),
        str(django_settings.UPLOAD_DIR),
    ]
    return shown + [s for s in secrets if s and s in text]


def page(response) -> str:
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.fixture
def quiet_client() -> Client:
    """A browser's view: the error answered, not raised into the test."""
    return Client(raise_request_exception=False)


@pytest.fixture(params=["anonymous", "no-permissions", "staff"])
def someone(request, quiet_client, make_user) -> Client:
    if request.param == "no-permissions":
        quiet_client.force_login(make_user("plain"))
    elif request.param == "staff":
        quiet_client.force_login(make_user("staffer", is_staff=True, is_superuser=True))
    return quiet_client


def test_error_page_500_is_plain_with_debug_off(quiet_client, caplog):
    assert django_settings.DEBUG is False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = quiet_client.get("/test-errors/fails/")
    assert response.status_code == 500
    text = page(response)
    assert "<h1>Server error</h1>" in text and "The error has been logged." in text
    assert 'href="/static/importhub/app.css"' in text  # the app's style
    assert leaks(text) == []
    assert "pw-in-message" not in text
    assert any(r.exc_info and FAILURE_MARKER in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/no-such-page/", id="unknown-page"),
        pytest.param("/admin/no-such-page/", id="unknown-admin-page"),
        pytest.param("/api/docs/no-such-page", id="unknown-under-docs"),
    ],
)
def test_error_page_404_shows_no_url_pattern(someone, path):
    response = someone.get(path, follow=True)
    if response.redirect_chain:  # the admin sends those who are not staff to its login form first
        assert response.status_code == 200 and "/login/" in response.redirect_chain[-1][0]
        return
    assert response.status_code == 404
    assert leaks(response.content.decode()) == []


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/config/tables/999999/", id="unknown-table"),
        pytest.param("/config/columns/999999/", id="unknown-column"),
        pytest.param("/batches/7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e/", id="unknown-batch"),
        pytest.param("/data/no_such_table/", id="unknown-data-table"),
    ],
)
def test_error_page_404_raised_by_a_page_is_plain(quiet_client, make_user, path):
    quiet_client.force_login(make_user("staffer", is_staff=True, is_superuser=True))
    response = quiet_client.get(path)
    assert response.status_code == 404
    text = page(response)
    assert "<h1>Page not found</h1>" in text
    assert leaks(text) == []


@pytest.mark.parametrize("user", ["anonymous", "no-permissions", "staff"])
def test_error_page_404_of_an_unknown_address_is_plain_for_everyone(quiet_client, make_user, user):
    if user != "anonymous":
        quiet_client.force_login(make_user(user, is_staff=user == "staff"))
    response = quiet_client.get("/no-such-page/at/all/")
    assert response.status_code == 404
    text = page(response)
    assert "<h1>Page not found</h1>" in text
    assert leaks(text) == []


def test_error_page_403_is_plain(quiet_client):
    response = quiet_client.get("/test-errors/forbidden/")
    assert response.status_code == 403
    text = page(response)
    assert "<h1>Not allowed</h1>" in text and "Ask an administrator" in text
    assert leaks(text) == []


def test_error_page_400_is_plain(quiet_client):
    for response in (
        quiet_client.get("/test-errors/suspicious/"),
        quiet_client.get("/", headers={"host": "attacker.example"}),  # a host not in ALLOWED_HOSTS
    ):
        assert response.status_code == 400
        text = page(response)
        assert "<h1>Bad request</h1>" in text
        assert leaks(text) == [] and "attacker.example" not in text


def test_error_page_csrf_failure_says_how_to_go_on(make_user):
    make_user("alice")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
    text = page(response)
    assert "Reload the page and send the form again" in text
    assert leaks(text) == [] and "CSRF cookie" not in text


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        pytest.param("/api/no-such-endpoint", 404, "not_found", id="unknown-path"),
        pytest.param("/api/jobs/not-a-batch-id/details/extra", 404, "not_found", id="unknown-sub-path"),
        pytest.param("/api/test-errors/forbidden/", 403, "permission_denied", id="forbidden"),
    ],
)
def test_error_api_path_answers_the_json_envelope(someone, path, status, code):
    response = someone.get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["code"] == code and body["error"]
    assert leaks(response.content.decode()) == []


def test_error_api_500_is_a_generic_json_error_and_logged(quiet_client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = quiet_client.get("/api/test-errors/fails/")
    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": "Server error: the request could not be completed. It has been logged.",
        "code": "server_error",
    }
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and "/api/test-errors/fails/" in logged[0].getMessage()
    assert FAILURE_MARKER in str(logged[0].exc_info[1])


def test_static_files_are_served_with_debug_off(quiet_client):
    """As `make run` serves: DEBUG off, no collectstatic; the stylesheet and script the pages link load."""
    login_page = quiet_client.get("/accounts/login/").content.decode()
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', login_page)
    assert {"/static/importhub/app.css", "/static/importhub/app.js"} <= set(linked)
    for url in linked:
        response = quiet_client.get(url)
        assert response.status_code == 200, url
        served = b"".join(response.streaming_content)
        source = django_settings.BASE_DIR / "static" / url.removeprefix("/static/")
        assert served == source.read_bytes()
    admin_css = quiet_client.get("/static/admin/css/base.css")  # an app's own static files, through finders
    assert admin_css.status_code == 200 and admin_css["Content-Type"].startswith("text/css")


# --- The debug page (DEBUG=true) hides secrets ------------------------------------------------------
# The secrets are here, away from the functions in the traceback: the debug page also shows a few source lines
# around each line of the traceback, and a password written in the source is not what it must hide.

SECRETS = {
    "DATABASE_URL": "mysql://importhub:pw-database-1@db.internal:3306/importhub",
    "REDIS_URL": "redis://:pw-redis-2@cache.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:pw-email-3@smtp.internal:587",
    "GDRIVE_CREDENTIALS_JSON": '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\npw-key-4\\n-----END PRIVATE KEY-----\\n"}',
    "GDRIVE_CREDENTIALS": "/etc/importhub/pw-keyfile-5.json",
    "INBOX_IMAP_URL": "imaps://intake:pw-imap-11@mail.internal:993/INBOX",
}
NESTED = {"redis": "redis://worker:pw-nested-6@cache.internal:6379/1", "other": ["x"]}
DSN_LIST = ["host=db user=importhub password=pw-pair-7 dbname=importhub"]
ENVIRONMENT = {"BACKUP_TARGET": "sftp://backup:pw-env-8@nas.internal/importhub"}
LOCALS = {"password": "pw-local-9", "upstream": "mysql://importhub:pw-local-10@db.internal/importhub"}
PASSWORDS = [
    f"pw-{n}"
    for n in ("database-1", "redis-2", "email-3", "key-4", "keyfile-5", "nested-6", "pair-7", "imap-11")
]
PASSWORDS_OF_THE_REQUEST = ["pw-env-8", "pw-local-9", "pw-local-10"]


@pytest.fixture
def secret_settings(settings, monkeypatch):
    """Secrets as settings (by their names, and inside others), in the environment and so in a WSGI META."""
    settings.DEBUG = True
    for name, value in {**SECRETS, **ENVIRONMENT}.items():
        setattr(settings, name, value)
        monkeypatch.setenv(name, value)
    settings.BROKER = NESTED
    settings.SOME_DSN_LIST = DSN_LIST
    return settings


def failing_call():
    # Locals the debug page lists.
    password = LOCALS["password"]  # noqa: F841
    upstream = LOCALS["upstream"]
    raise RuntimeError(f"cannot reach {upstream}")


def debug_page(request) -> str:
    try:
        failing_call()
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()
    raise AssertionError("failing_call did not fail")


def test_debug_page_hides_passwords_with_debug_on(secret_settings):
    # What runserver's META holds: the request's headers and the whole os.environ.
    request = RequestFactory().get("/somewhere/", **{k: os.environ[k] for k in {*SECRETS, *ENVIRONMENT}})
    text = debug_page(request)
    assert "RuntimeError" in text and "cannot reach mysql://importhub:" in text  # still a debug page
    assert "BACKUP_TARGET" in text and "nas.internal/importhub" in text
    assert [p for p in PASSWORDS + PASSWORDS_OF_THE_REQUEST if p in text] == []
    assert STARS in text
    assert django_settings.SECRET_KEY not in text


def test_debug_page_of_a_real_request_hides_passwords(secret_settings):
    response = Client(raise_request_exception=False).get("/test-errors/fails/")
    assert response.status_code == 500
    text = response.content.decode()
    assert "Traceback" in text and FAILURE_MARKER in text  # the debug page, as DEBUG=true asks
    assert "pw-in-message" not in text
    assert [p for p in PASSWORDS if p in text] == []
    assert django_settings.SECRET_KEY not in text
