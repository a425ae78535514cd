"""The API's envelope: `{"success": true, "data": ...}` and `{"success": false, "error": "..."}`."""

import logging

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ImportHubError

logger = logging.getLogger(__name__)


def ok(data=None, *, http_status: int = status.HTTP_200_OK, **extra) -> Response:
    body = {"success": True}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return Response(body, status=http_status)


def _first_message(detail, path: str = "") -> str:
    """The first readable message of a DRF error detail, prefixed with the field it belongs to."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # an item of a list: `columns[2].type`
                return _first_message(value, f"{path}[{key}]")
            field = key if key != "non_field_errors" else ""
            return _first_message(value, f"{path}.{field}" if path and field else (field or path))
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], path)
    return f"{path}: {detail}" if path else str(detail)


def exception_handler(exc, context):
    """One place that turns errors into the envelope, keeping DRF's status codes."""
    if isinstance(exc, ImportHubError):
        body = {"success": False, "error": exc.message, "code": exc.code}
        if isinstance(exc.details, dict) and exc.details.get("field"):
            body["field"] = exc.details["field"]
        if isinstance(exc.details, dict) and "later_job_ids" in exc.details:
            body["later_job_ids"] = exc.details["later_job_ids"]
        return Response(body, status=exc.http_status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = {"success": False, "error": _first_message(exc.detail), "errors": exc.detail}
    elif isinstance(exc, APIException):
        response.data = {"success": False, "error": str(exc.detail), "code": exc.get_codes()}
    return response
