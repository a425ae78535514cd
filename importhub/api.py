"""The API's envelope (`{"success": true, "data": ...}`, `{"success": false, "error": "..."}`), its OpenAPI
serializers, and the router that serves every resource under /api/ on the older app's paths."""

import logging

from drf_spectacular.drainage import set_override
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import routers, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView
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


class ChoicesListed:
    """A serializer mixin: a value outside a choice field's set is refused with a 400 listing the valid ones
    (DRF's own message only says it is "not a valid choice")."""

    def get_fields(self):
        fields = super().get_fields()
        default = serializers.ChoiceField.default_error_messages["invalid_choice"]
        for field in fields.values():
            field = getattr(field, "child", field)
            if (
                isinstance(field, serializers.ChoiceField)
                and field.error_messages["invalid_choice"] == default
            ):
                valid = ", ".join(f'"{value}"' for value in field.choices)
                field.error_messages["invalid_choice"] = (
                    f'"{{input}}" is not a valid choice; use one of {valid}.'
                )
        return fields


# --- The envelope, for the OpenAPI document -------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every refusal: a message for people, a stable code for programs, the field when one is to blame."""

    success = serializers.BooleanField(default=False)
    error = serializers.CharField()
    code = serializers.CharField(required=False)
    field = serializers.CharField(required=False, help_text="The parameter or body field that was refused.")
    errors = serializers.JSONField(required=False, help_text="Every invalid field with its messages (400).")


ERROR = OpenApiResponse(ErrorSerializer, description='`{"success": false, "error": "...", "code": "..."}`')
ERRORS_AUTH = {401: ERROR, 403: ERROR}
ERRORS_READ = {**ERRORS_AUTH, 404: ERROR}
ERRORS_WRITE = {400: ERROR, **ERRORS_READ}


def envelope(name: str, data: serializers.Field, **extra: serializers.Field) -> serializers.Serializer:
    """`{"success": true, "data": ...}` around `data` (and any `extra` top-level keys), named for OpenAPI.
    One object even for a list action (a viewset's `list` would otherwise document an array of them)."""
    body = inline_serializer(
        name=name, fields={"success": serializers.BooleanField(default=True), "data": data, **extra}
    )
    set_override(body, "many", False)
    return body


MESSAGE_ENVELOPE = inline_serializer(
    name="MessageResponse",
    fields={"success": serializers.BooleanField(default=True), "message": serializers.CharField()},
)


# --- The router -----------------------------------------------------------------------------------


class ApiRootView(APIView):
    """GET /api/: the API's resources, each with its address (a template where it needs an id)."""

    api_root_dict: dict[str, str] = {}
    templates: dict[str, str] = {}
    links: dict[str, str] = {}

    @extend_schema(
        summary="The API's resources and where they are",
        operation_id="api_root",
        tags=["api"],
        responses={
            200: envelope(
                "ApiRootResponse",
                serializers.DictField(child=serializers.CharField(), help_text="Resource name: its URL."),
            ),
            **ERRORS_AUTH,
        },
        examples=[
            OpenApiExample(
                "Resources",
                value={
                    "success": True,
                    "data": {
                        "tables": "http://127.0.0.1:8000/api/tables",
                        "jobs": "http://127.0.0.1:8000/api/jobs",
                        "import": "http://127.0.0.1:8000/api/import",
                        "columns": "http://127.0.0.1:8000/api/columns/{id}",
                    },
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        data = {
            key: reverse(name, request=request) for key, name in {**self.api_root_dict, **self.links}.items()
        }
        root = reverse("api-root", request=request)
        data.update({key: f"{root}{template}" for key, template in self.templates.items()})
        return ok(data)


class ApiRouter(routers.DefaultRouter):
    """The older app's paths: no trailing slash, no `.json` suffixes, and its URL names (`api-tables`,
    `api-table`, `api-table-filename`): a list is `<basename>s`, one object `<basename>`, an action
    `<basename>-<url_name>`. `links` are other named routes the root lists (the upload, the schema)."""

    include_format_suffixes = False
    APIRootView = ApiRootView

    def __init__(self, *, links: dict[str, str] | None = None):
        super().__init__(trailing_slash=False)
        self.links = links or {}
        names = {"{basename}-list": "{basename}s", "{basename}-detail": "{basename}"}
        self.routes = [route._replace(name=names.get(route.name, route.name)) for route in self.routes]

    def get_api_root_view(self, api_urls=None):
        lists, templates = {}, {}
        for prefix, viewset, basename in self.registry:
            if "(?P<" in prefix:
                continue  # nested under another resource
            if hasattr(viewset, "list") or hasattr(viewset, "create"):
                lists[prefix] = f"{basename}s"
            else:
                lookup = getattr(viewset, "lookup_url_kwarg", None) or viewset.lookup_field
                templates[prefix] = f"{prefix}/{{{'id' if lookup == 'pk' else lookup}}}"
        return self.APIRootView.as_view(api_root_dict=lists, templates=templates, links=self.links)
