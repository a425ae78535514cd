"""GET /api/compliance: who has sent what, distributor x table x period, as JSON. A thin view over
`services.compliance` (the rules) and `services.compliance_requests` (the filters)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from importhub.api import ERROR, ERRORS_AUTH, envelope, ok

from ..models import Cadence
from ..services.compliance import STATES
from ..services.compliance_requests import compliance_grid_for
from .permissions import perms_required

VIEW_PERMISSION = "imports.view_distributor"
CanSeeCompliance = perms_required(VIEW_PERMISSION, doing="see the distributors' compliance")


class ComplianceCellSerializer(serializers.Serializer):
    period = serializers.CharField(
        help_text="`2026-10` (monthly), `2026-W43` (weekly) or `2026-10-05` (daily)."
    )
    start = serializers.DateField()
    end = serializers.DateField(help_text="The period's last day.")
    due = serializers.DateField(help_text="The file is late when it arrives after this day.")
    state = serializers.ChoiceField(choices=STATES)
    late = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Rows imported for the period.")
    amount = serializers.CharField(allow_null=True, help_text="The exact total of the amount column.")
    rejected_rows = serializers.IntegerField()
    received_at = serializers.DateTimeField(allow_null=True, help_text="When the first covering file came.")
    jobs = serializers.ListField(child=serializers.IntegerField(), help_text="The covering files' job ids.")
    batches = serializers.ListField(child=serializers.CharField(), help_text="Their batch ids.")
    rows_drop = serializers.BooleanField(help_text="Rows fell against the mean of the previous periods.")
    amount_drop = serializers.BooleanField()
    tables = serializers.DictField(
        child=serializers.ChoiceField(choices=STATES),
        required=False,
        help_text="`together=true` only: each table's state.",
    )


class ComplianceLineSerializer(serializers.Serializer):
    distributor = serializers.CharField()
    distributor_name = serializers.CharField()
    cadence = serializers.ChoiceField(choices=Cadence.values)
    due_day = serializers.IntegerField()
    table = serializers.CharField(allow_null=True, help_text="null when all tables are taken together.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Cells per state.")
    cells = ComplianceCellSerializer(many=True)


class ComplianceGridSerializer(serializers.Serializer):
    # "from" is a keyword: the field is declared under another name and renamed below.
    from_ = serializers.CharField(help_text="The first month, `2026-01`.")
    to = serializers.CharField(help_text="The last month.")
    today = serializers.DateField(help_text="The day the states were worked out for.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Cells per state.")
    lines = ComplianceLineSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


EXAMPLE_CELL = {
    "period": "2026-09",
    "start": "2026-09-01",
    "end": "2026-09-30",
    "due": "2026-10-10",
    "state": "late",
    "late": True,
    "rows": 29,
    "amount": "413.25",
    "rejected_rows": 0,
    "received_at": "2026-10-14T09:30:00+00:00",
    "jobs": [12],
    "batches": ["3f1c5e0a-8d0b-4f57-9a51-2b7c3d9e4f10"],
    "rows_drop": False,
    "amount_drop": False,
}
EXAMPLE = {
    "success": True,
    "data": {
        "from": "2026-09",
        "to": "2026-09",
        "today": "2026-11-20",
        "counts": {
            "received": 0,
            "received_with_errors": 0,
            "late": 1,
            "missing": 0,
            "due": 0,
            "not_owed": 0,
        },
        "lines": [
            {
                "distributor": "31002",
                "distributor_name": "South",
                "cadence": "monthly",
                "due_day": 10,
                "table": "sales",
                "counts": {
                    "received": 0,
                    "received_with_errors": 0,
                    "late": 1,
                    "missing": 0,
                    "due": 0,
                    "not_owed": 0,
                },
                "cells": [EXAMPLE_CELL],
            }
        ],
    },
}


class ComplianceView(APIView):
    """Each active distributor's obligations per period: received, with errors, late, missing, due."""

    permission_classes = [IsAuthenticated, CanSeeCompliance]

    @extend_schema(
        summary="Who has sent what: distributors x tables x periods, with their states",
        operation_id="compliance_grid",
        tags=["compliance"],
        parameters=[
            OpenApiParameter("from", str, description="First month, `2026-01` (default: five months ago)."),
            OpenApiParameter("to", str, description="Last month, `2026-12` (default: this month)."),
            OpenApiParameter("table", str, description="Only this import table."),
            OpenApiParameter(
                "cadence", str, enum=list(Cadence.values), description="Only these distributors."
            ),
            OpenApiParameter("state", str, enum=list(STATES), description="Lines with a cell in this state."),
            OpenApiParameter("distributor", str, description="One distributor's code."),
            OpenApiParameter("together", bool, description="One line per distributor: its worst table."),
        ],
        responses={
            200: envelope("ComplianceResponse", ComplianceGridSerializer()),
            400: ERROR,
            **ERRORS_AUTH,
        },
        examples=[OpenApiExample("One late file", value=EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return ok(compliance_grid_for(params=request.query_params).as_dict())
