"""What the unattended intake is doing, for the inbox page and GET /api/inbox: each inbox folder and the
mailbox with its last scan, the files still settling, its last error, the files and messages in progress,
and the messages it rejected."""

from __future__ import annotations

from django.conf import settings

from ..models import InboxClaim, InboxClaimState, InboxKind, InboxScan
from .inbox_mail import MailboxError, mailbox_address_parse

IN_PROGRESS = (InboxClaimState.CLAIMED, InboxClaimState.SUBMITTED)


def _mailbox() -> tuple[str, str]:
    """The mailbox as the page shows it (without its password) and the folder its scans are recorded under
    (services/inbox_mail.py parses INBOX_IMAP_URL; an invalid one is recorded under INBOX)."""
    if not settings.INBOX_IMAP_URL:
        return "", ""
    try:
        address = mailbox_address_parse(settings.INBOX_IMAP_URL)
    except MailboxError:
        return "(invalid INBOX_IMAP_URL)", "INBOX"
    return str(address), address.folder


def _scan_dict(scan: InboxScan | None, *, source: str, in_progress: int) -> dict:
    return {
        "source": source,
        "last_scan_at": scan.last_scan_at.isoformat() if scan and scan.last_scan_at else None,
        "last_ok_at": scan.last_ok_at.isoformat() if scan and scan.last_ok_at else None,
        "last_taken": scan.last_taken if scan else 0,
        "waiting": list(scan.waiting) if scan else [],
        "in_progress": in_progress,
        "last_error": scan.last_error if scan else "",
        "last_error_at": scan.last_error_at.isoformat() if scan and scan.last_error_at else None,
    }


def _claim_dict(claim: InboxClaim) -> dict:
    return {
        "kind": claim.kind,
        "source": claim.source,
        "name": claim.name,
        "sender": claim.sender,
        "state": claim.state,
        "batch_id": str(claim.batch_id)
        if claim.state in (InboxClaimState.SUBMITTED, InboxClaimState.DONE)
        else None,
        "claimed_at": claim.claimed_at.isoformat(),
        "updated_at": claim.updated_at.isoformat(),
        "error": claim.error,
    }


def inbox_overview(*, recent: int = 50) -> dict:
    """The inbox folders and the mailbox as the last scans saw them, the latest claims and rejected messages."""
    scans = {(s.kind, s.source): s for s in InboxScan.objects.all()}
    busy: dict[tuple[str, str], int] = {}
    for kind, source in InboxClaim.objects.filter(state__in=IN_PROGRESS).values_list("kind", "source"):
        busy[(kind, source)] = busy.get((kind, source), 0) + 1
    folder_sources = sorted(source for kind, source in scans if kind == InboxKind.FOLDER)
    folders = [
        _scan_dict(scans[(InboxKind.FOLDER, s)], source=s, in_progress=busy.get((InboxKind.FOLDER, s), 0))
        for s in folder_sources
    ]
    mail_url, mail_source = _mailbox()
    mail_sources = sorted(
        {source for kind, source in scans if kind == InboxKind.MAIL} | ({mail_source} - {""})
    )
    mailboxes = [
        _scan_dict(scans.get((InboxKind.MAIL, s)), source=s, in_progress=busy.get((InboxKind.MAIL, s), 0))
        for s in mail_sources
    ]
    return {
        "folders": {
            "enabled": bool(settings.INBOX_DIR),
            "dir": str(settings.INBOX_DIR),
            "poll_seconds": settings.INBOX_POLL_SECONDS,
            "settle_seconds": settings.INBOX_SETTLE_SECONDS,
            "scans": folders,
        },
        "mailbox": {
            "enabled": bool(settings.INBOX_IMAP_URL),
            "url": mail_url,
            "reply": settings.INBOX_REPLY,
            "scans": mailboxes,
        },
        "recent": [_claim_dict(c) for c in InboxClaim.objects.order_by("-updated_at", "-id")[:recent]],
        "rejected": [
            _claim_dict(c)
            for c in InboxClaim.objects.filter(kind=InboxKind.MAIL, state=InboxClaimState.REJECTED).order_by(
                "-updated_at", "-id"
            )[:recent]
        ],
    }
