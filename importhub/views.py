"""The error pages (400, 403, 404, 500, CSRF failure): plain pages that show nothing of the set-up, and the
API's JSON envelope for paths under /api/.

They render without the request's context processors (no session, no user, no database), so that a 500 caused
by the database still gets its page; nothing of the request or the exception is shown.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# When even the template cannot be rendered (a missing static file in the manifest, a broken template folder).
BARE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · importhub</title></head>'
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)

PAGES = {
    400: ("400.html", "bad_request", "Bad request."),
    403: ("403.html", "permission_denied", "You do not have permission to do this."),
    404: ("404.html", "not_found", "Not found."),
    500: (
        "500.html",
        "server_error",
        "Server error: the request could not be completed. It has been logged.",
    ),
}


def _is_api(request: HttpRequest) -> bool:
    return (request.path_info or "").startswith(API_PREFIX)


def _error_response(request: HttpRequest, status: int, *, extra: dict | None = None) -> HttpResponse:
    template, code, message = PAGES[status]
    if _is_api(request):
        return JsonResponse({"success": False, "error": message, "code": code}, status=status)
    try:
        html = loader.get_template(template).render(extra or {})
    except Exception:
        logger.exception("The %s page cannot be rendered; answering a bare page instead", status)
        html = BARE_PAGE.format(title=f"Error {status}", text=message)
    return HttpResponse(html, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_response(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its CSRF token (an expired page, cookies off): say how to go on."""
    return _error_response(request, 403, extra={"csrf": True})
