"""Inbox claims: one scanner takes a file, a claim whose scanner has gone is taken over once."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import uuid

import pytest
from django.utils import timezone

from imports.models import InboxClaim, InboxClaimState, InboxKind
from imports.services.inbox_claims import (
    claim_key,
    claim_scanner_gone,
    claim_state_set,
    claim_take,
    scanner_id,
)

pytestmark = pytest.mark.django_db


def _fields(**extra):
    return {
        "source": "D001",
        "name": "sales.csv",
        "size": 10,
        "mtime_ns": 1,
        "batch_id": uuid.uuid4(),
        **extra,
    }


def _ended_process_id() -> str:
    """The scanner id of a process that ran on this host and has ended."""
    # The child reads its own start time as imports.services.inbox_claims does (/proc/<pid>/stat field 22).
    code = (
        "import os; print(os.getpid(), open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19], sep=':')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{socket.gethostname()}:{out}"


def test_claim_take_lets_one_scanner_have_a_file():
    key = claim_key("D001", "sales.csv", 10, 1)
    first = claim_take(kind=InboxKind.FOLDER, key=key, **_fields())
    assert first is not None and not first.resumed
    assert claim_take(kind=InboxKind.FOLDER, key=key, **_fields()) is None
    assert InboxClaim.objects.count() == 1
    # A changed file (another size or mtime) is another key: a new claim.
    assert (
        claim_take(kind=InboxKind.FOLDER, key=claim_key("D001", "sales.csv", 11, 2), **_fields()) is not None
    )


def test_claim_of_an_ended_process_on_this_host_is_taken_over_once_with_its_batch_id():
    key = claim_key("D001", "sales.csv", 10, 1)
    batch_id = uuid.uuid4()
    InboxClaim.objects.create(
        kind=InboxKind.FOLDER, key=key, claimed_by=_ended_process_id(), **_fields(batch_id=batch_id)
    )
    taken = claim_take(kind=InboxKind.FOLDER, key=key, **_fields())
    assert taken is not None and taken.resumed
    assert taken.claim.batch_id == batch_id and taken.claim.claimed_by == scanner_id()
    # Now this live process holds it: nobody else takes it over.
    assert claim_take(kind=InboxKind.FOLDER, key=key, **_fields()) is None


def test_claim_of_another_host_waits_for_the_stale_time(settings):
    settings.INBOX_CLAIM_STALE_SECONDS = 600
    key = claim_key("D001", "sales.csv", 10, 1)
    claim = InboxClaim.objects.create(
        kind=InboxKind.FOLDER, key=key, claimed_by="other-host:123:456", **_fields()
    )
    assert not claim_scanner_gone(claim)
    assert claim_take(kind=InboxKind.FOLDER, key=key, **_fields()) is None
    InboxClaim.objects.filter(pk=claim.pk).update(updated_at=timezone.now() - dt.timedelta(seconds=601))
    assert claim_take(kind=InboxKind.FOLDER, key=key, **_fields()).resumed


def test_claim_past_claimed_is_never_taken_over():
    key = claim_key("D001", "sales.csv", 10, 1)
    claim = InboxClaim.objects.create(
        kind=InboxKind.FOLDER, key=key, claimed_by=_ended_process_id(), **_fields()
    )
    claim_state_set(claim, InboxClaimState.SUBMITTED)
    assert claim_take(kind=InboxKind.FOLDER, key=key, **_fields()) is None
    assert InboxClaim.objects.get().state == InboxClaimState.SUBMITTED
