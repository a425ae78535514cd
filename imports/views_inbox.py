"""The inbox page (/inbox/): each inbox folder and the mailbox with its last scan, the files still settling,
its last error, what was taken lately and the messages rejected. A thin view over `services.inbox_status`."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from .models import BatchSource, InboxClaimState, InboxKind
from .services.inbox_status import inbox_overview
from .views import _page_permission

can_see_inbox = _page_permission(
    lambda user: user.has_perm("imports.view_inboxclaim"),
    "You do not have permission to see the inbox folders and the mailbox (imports.view_inboxclaim).",
)
STATE_LABELS = dict(InboxClaimState.choices)
KIND_LABELS = dict(InboxKind.choices)


def _shown(row: dict) -> dict:
    """A row of the overview with its times as datetimes and its labels, for the template."""
    shown = {k: parse_datetime(v) if k.endswith("_at") and v else v for k, v in row.items()}
    if "state" in row:
        shown["state_label"] = STATE_LABELS.get(row["state"], row["state"])
        shown["kind_label"] = KIND_LABELS.get(row["kind"], row["kind"])
    if "waiting" in row:
        shown["waiting"] = [
            {
                **w,
                "mtime": parse_datetime(w.get("mtime") or ""),
                "settles_at": parse_datetime(w.get("settles_at") or ""),
            }
            for w in row["waiting"]
        ]
    return shown


@can_see_inbox
def inbox_page(request):
    overview = inbox_overview()
    for part in ("folders", "mailbox"):
        overview[part]["scans"] = [_shown(s) for s in overview[part]["scans"]]
    overview["recent"] = [_shown(c) for c in overview["recent"]]
    overview["rejected"] = [_shown(c) for c in overview["rejected"]]
    return render(
        request,
        "imports/inbox.html",
        {**overview, "sources": {"inbox": BatchSource.INBOX, "email": BatchSource.EMAIL}},
    )
