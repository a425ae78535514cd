"""GET /api/inbox: the inbox folders and the mailbox as their last scans saw them. A thin view over
`services.inbox_status`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from importhub.api import ERRORS_AUTH, envelope, ok

from ..models import InboxClaimState, InboxKind
from ..services.inbox_status import inbox_overview
from .permissions import perms_required

VIEW_PERMISSION = "imports.view_inboxclaim"
CanSeeInbox = perms_required(VIEW_PERMISSION, doing="see the inbox folders and the mailbox")


class InboxWaitingSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    mtime = serializers.CharField(help_text="The file's modification time.")
    settles_at = serializers.CharField(help_text="When it is taken if it does not change again.")


class InboxScanSerializer(serializers.Serializer):
    source = serializers.CharField(
        help_text="The folder's distributor code (`*`: INBOX_DIR), or the mail folder."
    )
    last_scan_at = serializers.DateTimeField(allow_null=True)
    last_ok_at = serializers.DateTimeField(allow_null=True, help_text="The last scan without an error.")
    last_taken = serializers.IntegerField(help_text="Files or messages the last scan took.")
    waiting = InboxWaitingSerializer(many=True, help_text="Files still settling.")
    in_progress = serializers.IntegerField(help_text="Taken files or messages whose batch has not ended.")
    last_error = serializers.CharField(help_text="Empty once a scan succeeds again.")
    last_error_at = serializers.DateTimeField(allow_null=True)


class InboxFoldersSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="INBOX_DIR is set.")
    dir = serializers.CharField()
    poll_seconds = serializers.IntegerField()
    settle_seconds = serializers.IntegerField()
    scans = InboxScanSerializer(many=True)


class InboxMailboxSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="INBOX_IMAP_URL is set.")
    url = serializers.CharField(help_text="The mailbox, without its password.")
    reply = serializers.BooleanField(help_text="INBOX_REPLY: senders get the outcome.")
    scans = InboxScanSerializer(many=True)


class InboxClaimSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InboxKind.choices)
    source = serializers.CharField()
    name = serializers.CharField(help_text="The file's name, or the message's subject.")
    sender = serializers.CharField(help_text="A message's sender; empty for a file.")
    state = serializers.ChoiceField(choices=InboxClaimState.choices)
    batch_id = serializers.UUIDField(allow_null=True)
    claimed_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    error = serializers.CharField(help_text="Why it was rejected or failed.")


class InboxSerializer(serializers.Serializer):
    folders = InboxFoldersSerializer()
    mailbox = InboxMailboxSerializer()
    recent = InboxClaimSerializer(many=True, help_text="The latest files and messages taken, newest first.")
    rejected = InboxClaimSerializer(many=True, help_text="Messages moved to the Rejected folder.")


SCAN_EXAMPLE = {
    "source": "31001",
    "last_scan_at": "2026-12-02T08:00:00+00:00",
    "last_ok_at": "2026-12-02T08:00:00+00:00",
    "last_taken": 1,
    "waiting": [
        {
            "name": "stock.csv",
            "size": 52133,
            "mtime": "2026-12-02T07:59:51+00:00",
            "settles_at": "2026-12-02T08:00:21+00:00",
        }
    ],
    "in_progress": 1,
    "last_error": "",
    "last_error_at": None,
}
EXAMPLE = {
    "success": True,
    "data": {
        "folders": {
            "enabled": True,
            "dir": "/srv/importhub/inbox",
            "poll_seconds": 60,
            "settle_seconds": 30,
            "scans": [SCAN_EXAMPLE],
        },
        "mailbox": {
            "enabled": True,
            "url": "imaps://intake@mail.example.com:993/INBOX",
            "reply": True,
            "scans": [{**SCAN_EXAMPLE, "source": "INBOX", "waiting": [], "in_progress": 0}],
        },
        "recent": [
            {
                "kind": "folder",
                "source": "31001",
                "name": "sales.csv",
                "sender": "",
                "state": "submitted",
                "batch_id": "3f1c5e0a-8d0b-4f57-9a51-2b7c3d9e4f10",
                "claimed_at": "2026-12-02T08:00:00+00:00",
                "updated_at": "2026-12-02T08:00:01+00:00",
                "error": "",
            }
        ],
        "rejected": [],
    },
}


class InboxView(APIView):
    """The inbox folders and the mailbox: last scans, files settling, errors, what was taken and rejected."""

    permission_classes = [IsAuthenticated, CanSeeInbox]

    @extend_schema(
        summary="The inbox folders and the mailbox as their last scans saw them",
        operation_id="inbox_overview",
        tags=["inbox"],
        responses={200: envelope("InboxResponse", InboxSerializer()), **ERRORS_AUTH},
        examples=[OpenApiExample("Inbox", value=EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return ok(inbox_overview())
