"""Distributors API: GET/POST /api/distributors, GET/PUT/PATCH /api/distributors/<code>. A thin viewset over
`services/distributors.py`; reading needs imports.view_distributor, adding add_distributor, changing
change_distributor."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status, viewsets

from importhub.api import ERROR, ERRORS_AUTH, ERRORS_READ, ERRORS_WRITE, ChoicesListed, envelope, ok
from importhub.errors import NotFound

from ..models import Cadence, Distributor
from ..services.distributors import distributor_create, distributor_update, distributors_listed


class DistributorSerializer(serializers.Serializer):
    """A distributor as the API shows it."""

    code = serializers.CharField(help_text="What uploads carry as dist_id.")
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    contact_emails = serializers.ListField(child=serializers.CharField(), help_text="Who gets the reminders.")
    tables = serializers.ListField(child=serializers.CharField(), help_text="The import tables it must send.")
    cadence = serializers.ChoiceField(choices=Cadence.values)
    due_day = serializers.IntegerField(
        help_text="Monthly: day 1-28 of the following month; weekly: 1-7 (Monday first); daily: 1."
    )
    obligations_from = serializers.DateField(allow_null=True, help_text="The first period owed (read-only).")
    last_upload_at = serializers.DateTimeField(allow_null=True, help_text="Its latest batch (read-only).")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DistributorWriteSerializer(ChoicesListed, serializers.Serializer):
    """What POST (code and name required), PUT (every field required) and PATCH (any field) take; the rules
    are the service's."""

    code = serializers.CharField(max_length=200, help_text="1-50 letters, digits, '-', '_' or '.'; unique.")
    name = serializers.CharField(max_length=500)
    is_active = serializers.BooleanField(required=False, default=True)
    contact_emails = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list
    )
    tables = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    cadence = serializers.ChoiceField(choices=Cadence.values, required=False, default=Cadence.MONTHLY)
    due_day = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Monthly: 1-28 (default 10); weekly: 1-7, Monday first (default 1); daily: ignored.",
    )


def distributor_dict(distributor: Distributor) -> dict:
    last = getattr(distributor, "last_upload_at", None)
    return {
        "code": distributor.code,
        "name": distributor.name,
        "is_active": distributor.is_active,
        "contact_emails": list(distributor.contact_emails or []),
        "tables": sorted(t.table_name for t in distributor.tables.all()),
        "cadence": distributor.cadence,
        "due_day": distributor.due_day,
        "obligations_from": distributor.obligations_from.isoformat()
        if distributor.obligations_from
        else None,
        "last_upload_at": last.isoformat() if last else None,
        "created_at": distributor.created_at.isoformat(),
        "updated_at": distributor.updated_at.isoformat(),
    }


class DistributorPermission(permissions.BasePermission):
    """The model permission of each action; the 403 names it."""

    perms = {
        "list": "imports.view_distributor",
        "retrieve": "imports.view_distributor",
        "create": "imports.add_distributor",
        "update": "imports.change_distributor",
        "partial_update": "imports.change_distributor",
    }
    doing = {
        "list": "see distributors",
        "retrieve": "see distributors",
        "create": "add distributors",
        "update": "change distributors",
        "partial_update": "change distributors",
    }

    def has_permission(self, request, view) -> bool:
        perm = self.perms.get(view.action)
        if perm is None:
            return True  # an unimplemented method gets its 405 from the view
        self.message = f"You do not have permission to {self.doing[view.action]} ({perm})."
        return request.user.has_perm(perm)


EXAMPLE = {
    "code": "31001",
    "name": "PT Sumber Makmur",
    "is_active": True,
    "contact_emails": ["data@sumber.example"],
    "tables": ["sales", "stocks"],
    "cadence": "monthly",
    "due_day": 10,
    "obligations_from": None,
    "last_upload_at": "2026-11-08T09:12:00+07:00",
    "created_at": "2026-10-01T08:00:00+07:00",
    "updated_at": "2026-10-01T08:00:00+07:00",
}
WRITE_EXAMPLE = {
    key: EXAMPLE[key]
    for key in ("code", "name", "is_active", "contact_emails", "tables", "cadence", "due_day")
}
CODE = OpenApiParameter("code", str, OpenApiParameter.PATH, description="The distributor's code.")
ONE = envelope("DistributorResponse", DistributorSerializer())


def _answer(name: str, data, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(
        name, value={"success": True, "data": data}, response_only=True, status_codes=[str(status_code)]
    )


def _request(name: str, value: dict) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


class DistributorViewSet(viewsets.ViewSet):
    """The distributors: who sends files (their dist_id code), who to write to, and what they must send."""

    permission_classes = [permissions.IsAuthenticated, DistributorPermission]
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_serializer(self, *args, **kwargs):  # the browsable API's form
        return DistributorWriteSerializer(*args, **kwargs)

    def _get(self, code: str) -> Distributor:
        distributor = next((d for d in distributors_listed().filter(code=code) if d.code == code), None)
        if distributor is None:
            raise NotFound(f"No distributor with the code '{code[:60]}'.")
        return distributor

    def _one(self, code: str, http_status: int = status.HTTP_200_OK):
        return ok(distributor_dict(self._get(code)), http_status=http_status)

    @extend_schema(
        summary="List the distributors",
        responses={200: envelope("DistributorListResponse", DistributorSerializer(many=True)), **ERRORS_AUTH},
        examples=[_answer("Distributors", [EXAMPLE])],
    )
    def list(self, request):
        return ok([distributor_dict(d) for d in distributors_listed()])

    @extend_schema(
        summary="Add a distributor with its contacts and obligations",
        request=DistributorWriteSerializer,
        responses={201: ONE, 400: ERROR, **ERRORS_AUTH},
        examples=[_request("A monthly sender", WRITE_EXAMPLE), _answer("Added", EXAMPLE, 201)],
    )
    def create(self, request):
        serializer = DistributorWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        distributor = distributor_create(**serializer.validated_data)
        return self._one(distributor.code, status.HTTP_201_CREATED)

    @extend_schema(
        summary="One distributor",
        parameters=[CODE],
        responses={200: ONE, **ERRORS_READ},
        examples=[_answer("Distributor", EXAMPLE)],
    )
    def retrieve(self, request, code):
        return self._one(code)

    @extend_schema(
        summary="Replace a distributor's fields (every field required)",
        parameters=[CODE],
        request=DistributorWriteSerializer,
        responses={200: ONE, **ERRORS_WRITE},
        examples=[
            _request("Weekly on Fridays", {**WRITE_EXAMPLE, "cadence": "weekly", "due_day": 5}),
            _answer("Changed", {**EXAMPLE, "cadence": "weekly", "due_day": 5}),
        ],
    )
    def update(self, request, code, partial: bool = False):
        distributor = self._get(code)
        serializer = DistributorWriteSerializer(data=request.data, partial=partial)
        if not hasattr(request.data, "get"):
            serializer.is_valid(raise_exception=True)  # null, a list, a number: the serializer's own 400
        if not partial:
            missing = [name for name in serializer.fields if name not in request.data]
            if missing:
                raise serializers.ValidationError(
                    {
                        name: ["This field is required (PUT replaces every field; PATCH changes some)."]
                        for name in missing
                    }
                )
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k in request.data}
        distributor = distributor_update(distributor=distributor, **changes)
        return self._one(distributor.code)

    @extend_schema(
        summary="Change some of a distributor's fields",
        parameters=[CODE],
        request=DistributorWriteSerializer(partial=True),
        responses={200: ONE, **ERRORS_WRITE},
        examples=[
            _request("Deactivate", {"is_active": False}),
            _answer("Changed", {**EXAMPLE, "is_active": False}),
        ],
    )
    def partial_update(self, request, code):
        return self.update(request, code, partial=True)
