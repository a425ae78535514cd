"""Claims of the unattended intake: a file of an inbox folder or a mailbox message is claimed in the database
before it is read, so that it is imported exactly once.

A claim is one InboxClaim row, unique by (kind, key), the key being the SHA-256 of what identifies the file
(folder, path, size, mtime) or the message (its Message-ID). Two scanners that see the same file both try
to insert it; the database lets one of them in. A claim names its scanner (`host:pid:start`); a claim still
in state `claimed` whose scanner is gone (on this host: that process has ended; on another host: the claim
has not moved for INBOX_CLAIM_STALE_SECONDS) is taken over by the next scan, which resumes it: the claim's
batch id says whether its batch was already made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import InboxClaim, InboxClaimState


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, it names
    one process even after the pid is reused. Empty where /proc is not there."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) is in parentheses and may hold spaces: count from after it.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def scanner_id() -> str:
    """This process as a claim names it: host, pid and the process's start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def claim_key(*parts: object) -> str:
    """The claim key of an identity: the SHA-256 of its parts, each as text, joined by NUL."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8", "surrogateescape")).hexdigest()


def claim_scanner_gone(claim: InboxClaim, *, now: dt.datetime | None = None) -> bool:
    """Whether the scanner that holds `claim` can no longer finish it."""
    host, _, rest = claim.claimed_by.partition(":")
    pid_text, _, start = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() and start == _process_start(pid):
            return False  # this very process: never its own successor
        current = _process_start(pid)
        if not current or (start and current != start):
            return True  # that process has ended (or its pid belongs to another one now)
    stale_after = dt.timedelta(seconds=settings.INBOX_CLAIM_STALE_SECONDS)
    return (now or timezone.now()) - claim.updated_at > stale_after


@dataclass
class Claimed:
    claim: InboxClaim
    # True: an earlier scanner's claim, taken over; its batch may exist already (see claim.batch_id).
    resumed: bool = False


def claim_take(*, kind: str, key: str, **fields) -> Claimed | None:
    """Claim one file or message for this process, or None when another scanner holds it or it is done.

    `fields` are the claim's other columns (source, name, size, mtime_ns, message_id, sender, distributor,
    batch_id). A claim in state `claimed` whose scanner is gone is taken over (its own batch id kept)."""
    me = scanner_id()
    try:
        with transaction.atomic():
            return Claimed(InboxClaim.objects.create(kind=kind, key=key, claimed_by=me, **fields))
    except IntegrityError:
        pass
    claim = InboxClaim.objects.filter(kind=kind, key=key).first()
    if claim is None or claim.state != InboxClaimState.CLAIMED or not claim_scanner_gone(claim):
        return None
    # Compare and set: of two scanners taking over the same orphan, one updates the row.
    taken = InboxClaim.objects.filter(
        pk=claim.pk, state=InboxClaimState.CLAIMED, claimed_by=claim.claimed_by, updated_at=claim.updated_at
    ).update(claimed_by=me, updated_at=timezone.now())
    if not taken:
        return None
    claim.refresh_from_db()
    return Claimed(claim, resumed=True)


def claim_state_set(claim: InboxClaim, state: str, **fields) -> InboxClaim:
    """Move `claim` to `state` (with other columns: result, error, batch_id), saved at once."""
    claim.state = state
    for name, value in fields.items():
        setattr(claim, name, value)
    claim.save(update_fields=["state", "updated_at", *fields])
    return claim
