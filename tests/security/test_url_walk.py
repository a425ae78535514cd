"""Every route in the URL configuration refuses anonymous users: a redirect to a login page, or 401/403.

The routes are read from the resolver when the tests run, so pages added later are walked too.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.resolvers import RoutePattern

SAMPLE_UUID = "7b0c5cf4-4c7e-4d2a-9a57-5d2f0f6a1c3e"
CONVERTER_SAMPLES = {
    IntConverter: "1",
    StringConverter: "x",
    SlugConverter: "x",
    UUIDConverter: SAMPLE_UUID,
    PathConverter: "x",
}
API_METHODS = ("get", "post", "put", "patch", "delete")
PAGE_METHODS = ("get", "post")
LOGIN_PAGES = ("login", "admin:login")
REFUSED = (401, 403)

# Routes an anonymous user may reach, by name, with the answers allowed (anything else must refuse).
# The login forms answer 200 (the form, or the form with its errors); logging out nobody shows the
# logged-out page, and GET is not allowed there. No static files are routed (whitenoise/the web server
# serves them), so there is no exception for them. The probes are open by design, for load balancers and
# Kubernetes: /healthz says "ok" and nothing else, /readyz which part is down (503, nothing of the set-up;
# tests/ops). /metrics is no exception: it refuses anonymous callers like any page (its token or an allowed
# address lets Prometheus in).
EXCEPTIONS = {
    "login": {"get": {200}, "post": {200}},
    "admin:login": {"get": {200}, "post": {200}},
    "logout": {"get": {405}, "post": {200}},
    "admin:logout": {"get": {405}, "post": {200}},
    "healthz": {"get": {200}, "post": {405}},
    "readyz": {"get": {200, 503}, "post": {405}},
}


@dataclass(frozen=True)
class Route:
    path: str
    name: str
    pattern: str

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    def __str__(self) -> str:
        return self.path


_GROUP_RE = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")


def _regex_sample(regex: str) -> str:
    """A path matching a route's regex: the first alternative of a named group, else "x" per group."""

    def group(match: re.Match) -> str:
        body = match["body"]
        if re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]
        if body in (r"\d+", "[0-9]+"):
            return "1"
        return "x"

    sample = _GROUP_RE.sub(group, regex).lstrip("^").rstrip("$")
    return re.sub(r"\\(.)", r"\1", sample)  # an escaped character (`errors\.csv`) is itself


def _route_sample(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        for name, converter in pattern.converters.items():
            sample = CONVERTER_SAMPLES.get(type(converter))
            if sample is None:
                raise AssertionError(f"No sample value for the converter of <{name}> in '{route}': add one.")
            route = re.sub(rf"<(?:\w+:)?{name}>", sample, route)
        return route
    return _regex_sample(str(pattern))


def _walk(patterns, prefix: str = "", namespace: str = "", chain: str = ""):
    for entry in patterns:
        piece = _route_sample(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + piece, inner, chain + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield (
                entry,
                Route(
                    path="/" + prefix + piece,
                    name=f"{namespace}{entry.name}" if entry.name else "",
                    pattern=chain + str(entry.pattern),
                ),
            )


def url_routes() -> list[Route]:
    routes = []
    for entry, route in _walk(get_resolver().url_patterns):
        match = resolve(route.path)
        # The sample must reach this very route, not one declared before it.
        assert match.func == entry.callback, f"{route.pattern}: sample {route.path} resolves to {match.route}"
        routes.append(route)
    return routes


ROUTES = url_routes()


def _login_paths() -> set[str]:
    return {reverse(name) for name in LOGIN_PAGES}


def _outcome(client: Client, method: str, path: str) -> tuple[int, str]:
    """The status after following redirects inside the site, and where the last redirect pointed."""
    response = getattr(client, method)(path)
    location = ""
    for _ in range(5):
        if response.status_code not in (301, 302, 303, 307, 308):
            break
        location = response["Location"]
        target = urlsplit(location)
        if target.netloc or target.path in _login_paths():
            break
        response = client.get(target.path + (f"?{target.query}" if target.query else ""))
    return response.status_code, location


def test_url_walk_covers_every_part_of_the_site():
    names = {r.name for r in ROUTES}
    expected = {
        "admin:index",
        "login",
        "api-schema",
        "api-root",
        "api-tables",
        "api-import",
        "api-jobs",
        "api-job-errors",
        "api-job-errors-xlsx",
        "api-job-revert",
        "api-job-mapping",
        "job-mapping",
        "job-revert",
        "healthz",
        "readyz",
        "metrics",
    }
    assert expected <= names
    assert "metrics" not in EXCEPTIONS
    assert any(not r.is_api and not r.path.startswith("/admin/") and r.name not in EXCEPTIONS for r in ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_refuses_anonymous_users(route: Route):
    client = Client(raise_request_exception=False)
    problems = []
    for method in API_METHODS if route.is_api else PAGE_METHODS:
        status, location = _outcome(client, method, route.path)
        to_login = urlsplit(location).path in _login_paths() and not urlsplit(location).netloc
        if status in (301, 302, 303, 307, 308):
            ok = to_login
        else:
            ok = status in REFUSED or status in EXCEPTIONS.get(route.name, {}).get(method, ())
        if not ok:
            problems.append(f"{method.upper()} {route.path} -> {status} {location}".rstrip())
    assert not problems, f"{route.pattern} ({route.name or 'unnamed'}) lets anonymous users in: {problems}"


@pytest.mark.django_db
def test_api_refusal_is_in_the_envelope():
    response = Client().post(reverse("api-job-revert", args=[str(uuid.uuid4()), 1]))
    assert response.status_code in REFUSED
    assert response.json()["success"] is False and response.json()["error"]
