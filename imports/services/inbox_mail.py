"""The mailbox of the unattended intake: each unseen message from a distributor's contact becomes one batch of
its data attachments; the others are filed in Rejected; the sender gets the outcome when INBOX_REPLY is on.

INBOX_IMAP_URL names the mailbox: `imaps://user:password@host:993/INBOX` (TLS from the first byte) or
`imap://user:password@host:143/INBOX` (STARTTLS, required: a server that does not offer it is refused, so a
password never travels in clear). User and password are percent-decoded; the path is the folder (default
INBOX). The server's certificate is checked against the system's CAs, or INBOX_IMAP_CA_FILE, host name
included.

Exactly once. A message is claimed in the database (InboxClaim kind `mail`, keyed by the mailbox and its
Message-ID, or the SHA-256 of the raw message when it has none) before its body is read, and read with
BODY.PEEK so the server marks nothing. Its batch is submitted with the claim's batch id in the same
transaction that moves the claim to `submitted` (or `rejected`); only then is the message moved to Processed
(or Rejected). So:
- a second poller (another qcluster) does not get the claim and leaves the message alone;
- a poller that dies before that transaction commits leaves a claim whose scanner is gone: the next poll takes
  it over and imports with the same batch id (no batch yet), or just files the message (batch there);
- a poller that dies after it leaves a submitted or rejected claim with its message still in the folder: the
  next poll only moves the message.
A reply is claimed by the state change `submitted -> done` (compare and set), so it is sent once; one that
could not be sent puts the claim back to `submitted` and is tried again at the next poll.

A server problem (refused connection, TLS, login, a folder that cannot be opened or made) never raises: it
is logged and kept in the mailbox's InboxScan (last_error) until a poll succeeds.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import imaplib
import logging
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage as OutgoingMessage
from django.db import transaction
from django.utils import timezone

from importhub.errors import ImportHubError, StorageUnavailable

from ..models import (
    FINAL_STATUSES,
    BatchSource,
    Distributor,
    ImportBatch,
    ImportJob,
    ImportMode,
    InboxClaim,
    InboxClaimState,
    InboxKind,
    InboxScan,
    JobStatus,
)
from .batches import Upload, import_batch_submit
from .inbox_claims import claim_key, claim_scanner_gone, claim_take, scanner_id
from .intake import DATA_EXTENSIONS, file_name_safe
from .rejects import job_errors_file, rejects_csv_stream, rejects_filename

logger = logging.getLogger(__name__)

PROCESSED_FOLDER = "Processed"
# A rejected claim's result["reply"]: due (INBOX_REPLY was on when it was rejected), sending, sent.
REPLY_DUE, REPLY_SENDING, REPLY_SENT = "due", "sending", "sent"
REJECTED_FOLDER = "Rejected"
# The extensions a message's attachment is taken with: what the intake takes (CSV, TXT, Excel) and ZIPs.
MAIL_EXTENSIONS = frozenset({*DATA_EXTENSIONS, ".zip"})
IMAP_TIMEOUT = 30
# A rejected-rows CSV larger than this is not attached; the reply says where to download it.
REPLY_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
_NAME_MAX = InboxClaim._meta.get_field("name").max_length
_MESSAGE_ID_MAX = InboxClaim._meta.get_field("message_id").max_length
_SENDER_MAX = InboxClaim._meta.get_field("sender").max_length
_SOURCE_MAX = InboxScan._meta.get_field("source").max_length


class MailboxError(Exception):
    """A problem of the mail server or of the mailbox's configuration, in words for the inbox page."""


@dataclass(frozen=True)
class MailboxAddress:
    """INBOX_IMAP_URL, parsed."""

    scheme: str
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def identity(self) -> str:
        """What names this mailbox in the claim keys: user@host/folder (a port change is the same mailbox)."""
        return f"{self.user}@{self.host}/{self.folder}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def mailbox_address_parse(url: str) -> MailboxAddress:
    """Parse INBOX_IMAP_URL; MailboxError names what is wrong (never the password)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imaps", "imap"):
        raise MailboxError(
            f"INBOX_IMAP_URL must start with imaps:// or imap://, not {parts.scheme or 'nothing'}://."
        )
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as exc:
        raise MailboxError(f"INBOX_IMAP_URL has an invalid port: {exc}.") from exc
    if not parts.hostname:
        raise MailboxError("INBOX_IMAP_URL names no host.")
    if not parts.username:
        raise MailboxError("INBOX_IMAP_URL names no user (imaps://user:password@host/INBOX).")
    return MailboxAddress(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


@dataclass
class MailPollReport:
    """What one poll of the mailbox did."""

    mailbox: str = ""
    enabled: bool = True
    taken: int = 0  # messages this poll claimed (or took over) and filed
    processed: int = 0  # of those, made into a batch
    rejected: int = 0
    filed: int = 0  # messages of earlier claims only moved to their folder now
    replies: int = 0
    batches: list[uuid.UUID] = field(default_factory=list)
    error: str = ""

    def __str__(self) -> str:
        if not self.enabled:
            return "mailbox: off (INBOX_IMAP_URL is empty)"
        if self.error:
            return f"mailbox {self.mailbox}: failed: {self.error}"
        text = (
            f"mailbox {self.mailbox}: {self.taken} message(s) taken "
            f"({self.processed} imported, {self.rejected} rejected)"
        )
        if self.filed:
            text += f", {self.filed} filed from earlier claims"
        return text + f", {self.replies} reply(ies) sent"


# --- the poll ------------------------------------------------------------------------------------------------


def mailbox_poll(*, now: dt.datetime | None = None) -> MailPollReport:
    """Poll INBOX_IMAP_URL once: take its unseen messages, then send the replies that are due. Never raises
    for a server problem: it is logged and recorded in the mailbox's InboxScan."""
    if not settings.INBOX_IMAP_URL:
        return MailPollReport(enabled=False)
    now = now or timezone.now()
    try:
        address = mailbox_address_parse(settings.INBOX_IMAP_URL)
    except MailboxError as exc:
        report = MailPollReport(mailbox="(invalid INBOX_IMAP_URL)", error=str(exc))
        _scan_record(source="INBOX", report=report, now=now)
        return report
    report = MailPollReport(mailbox=address.identity)
    try:
        with _session(address) as imap:
            _messages_take(imap, address=address, report=report)
    except MailboxError as exc:
        report.error = str(exc)
    except (OSError, imaplib.IMAP4.error) as exc:
        report.error = f"{address.host}:{address.port}: {_problem(exc)}"
    except Exception as exc:
        # Never a crash of the schedule: the error is shown on the inbox page and the next poll tries again.
        logger.exception("Mailbox %s: unexpected error", address.identity)
        report.error = f"unexpected error ({type(exc).__name__}: {exc}); the details are in the log"
    # Replies need no IMAP: they go out even when the server is unreachable this time.
    try:
        report.replies = mail_replies_send()
    except Exception as exc:
        logger.exception("Mailbox %s: replies not sent", address.identity)
        report.error = (
            report.error or f"replies not sent ({type(exc).__name__}: {exc}); the details are in the log"
        )
    _scan_record(source=address.folder, report=report, now=now)
    return report


def _scan_record(*, source: str, report: MailPollReport, now: dt.datetime) -> None:
    scan, _ = InboxScan.objects.get_or_create(kind=InboxKind.MAIL, source=source[:_SOURCE_MAX])
    scan.last_scan_at = now
    if report.error:
        logger.warning("Mailbox %s: %s (tried again at the next poll)", report.mailbox, report.error)
        scan.last_error, scan.last_error_at = report.error, now
    else:
        scan.last_ok_at, scan.last_taken = now, report.taken
        scan.last_error, scan.last_error_at = "", None
    scan.save()


def _problem(exc: BaseException) -> str:
    """An exception of the connection in plain words."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: the server's certificate is not trusted ({exc.verify_message}); set INBOX_IMAP_CA_FILE to "
            "the CA that signed it"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the IMAP server running, is the port right?)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {IMAP_TIMEOUT} s"
    if isinstance(exc, socket.gaierror):
        return f"host not found ({exc.strerror})"
    if isinstance(exc, imaplib.IMAP4.error):
        return f"IMAP error: {_text(exc.args[0] if exc.args else exc)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- IMAP --------------------------------------------------------------------------------------------------


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.INBOX_IMAP_CA_FILE or None)
    context.check_hostname = True
    return context


class _session:
    """A logged-in IMAP connection with the mailbox's folder selected; logged out at the end."""

    def __init__(self, address: MailboxAddress):
        self.address = address
        self.imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> imaplib.IMAP4:
        try:
            return self._open()
        except BaseException:
            self.__exit__()
            raise

    def _open(self) -> imaplib.IMAP4:
        a = self.address
        if a.scheme == "imaps":
            self.imap = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=_ssl_context(), timeout=IMAP_TIMEOUT)
        else:
            self.imap = imaplib.IMAP4(a.host, a.port, timeout=IMAP_TIMEOUT)
            if "STARTTLS" not in self.imap.capabilities:
                raise MailboxError(
                    f"{a.host}:{a.port} does not offer STARTTLS: the password would travel in clear. Use "
                    "imaps:// or a server with STARTTLS."
                )
            self.imap.starttls(ssl_context=_ssl_context())
        try:
            if "AUTH=PLAIN" in self.imap.capabilities:
                # AUTHENTICATE PLAIN carries a UTF-8 user and password; imaplib's LOGIN only ASCII.
                self.imap.authenticate("PLAIN", lambda _: f"\0{a.user}\0{a.password}".encode())
            else:
                self.imap.login(a.user, a.password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"login as {a.user} at {a.host}:{a.port} refused: {_problem(exc)}") from exc
        except UnicodeEncodeError as exc:
            raise MailboxError(
                f"login as {a.user} at {a.host}:{a.port}: the server takes only ASCII user names and passwords"
            ) from exc
        # The capabilities after login (MOVE, UIDPLUS) are not those of the greeting.
        _, data = self.imap.capability()
        self.imap.capabilities = tuple(_text(data[-1]).upper().split())
        typ, data = self.imap.select(_quoted(a.folder))
        if typ != "OK":
            raise MailboxError(f"folder {a.folder} cannot be opened: {_text(data[-1] if data else typ)}")
        return self.imap

    def __exit__(self, *exc_info) -> None:
        if self.imap is not None:
            try:
                self.imap.logout()
            except (OSError, imaplib.IMAP4.error):
                pass


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder_prefix(imap: imaplib.IMAP4) -> str:
    """The personal namespace's prefix (`INBOX.` on some servers), under which new folders are made."""
    if "NAMESPACE" not in imap.capabilities:
        return ""
    typ, data = imap.namespace()
    match = re.match(r'\(\("([^"]*)"', _text(data[0])) if typ == "OK" and data else None
    return match.group(1) if match else ""


class _Folders:
    """Processed and Rejected, made when first needed."""

    def __init__(self, imap: imaplib.IMAP4):
        self.imap = imap
        self.prefix = _folder_prefix(imap)
        self.ready: set[str] = set()

    def name(self, folder: str) -> str:
        full = self.prefix + folder
        if full not in self.ready:
            typ, data = self.imap.create(_quoted(full))
            # An existing folder answers NO [ALREADYEXISTS] (or a plain NO on older servers): look for it.
            if typ != "OK":
                typ_list, listed = self.imap.list('""', _quoted(full))
                if typ_list != "OK" or not any(listed):
                    raise MailboxError(f"folder {full} cannot be made: {_text(data[-1] if data else typ)}")
            self.ready.add(full)
        return full


def _message_move(imap: imaplib.IMAP4, uid: bytes, *, folder: str) -> None:
    """Move one message (by UID): MOVE where the server has it, else COPY, \\Deleted and (with UIDPLUS) UID
    EXPUNGE of that message only. It is not marked seen: a move that fails leaves it unseen, so the next poll
    finds it and files it (and a new message in Rejected stands out to whoever reads that folder)."""
    if "MOVE" in imap.capabilities:
        typ, data = imap.uid("MOVE", uid, _quoted(folder))
    else:
        typ, data = imap.uid("COPY", uid, _quoted(folder))
        if typ == "OK":
            imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
            if "UIDPLUS" in imap.capabilities:
                imap.uid("EXPUNGE", uid)
    if typ != "OK":
        raise MailboxError(
            f"message {_text(uid)} cannot be moved to {folder}: {_text(data[-1] if data else typ)}"
        )


def _fetch(imap: imaplib.IMAP4, uid: bytes, what: str) -> bytes | None:
    """One FETCH item of one message, or None when the message is gone (another poller moved it)."""
    typ, data = imap.uid("FETCH", uid, f"({what})")
    if typ != "OK":
        raise MailboxError(f"message {_text(uid)} cannot be read: {_text(data[-1] if data else typ)}")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    return None


# --- one message ---------------------------------------------------------------------------------------------


@dataclass
class _Head:
    message_id: str
    sender: str
    subject: str
    auto_submitted: bool


def _head_parse(raw: bytes) -> _Head:
    head = email.message_from_bytes(raw, policy=email.policy.default)
    addresses = [addr for _, addr in getaddresses([str(v) for v in head.get_all("From", [])]) if addr]
    auto = str(head.get("Auto-Submitted", "no")).strip().lower()
    return _Head(
        message_id=str(head.get("Message-ID", "")).strip(),
        sender=addresses[0].lower() if addresses else "",
        subject=" ".join(str(head.get("Subject", "")).split()),
        auto_submitted=auto != "no" or bool(head.get("Precedence", "") in ("bulk", "junk", "list")),
    )


def _messages_take(imap: imaplib.IMAP4, *, address: MailboxAddress, report: MailPollReport) -> None:
    folders = _Folders(imap)
    typ, data = imap.uid("SEARCH", None, "UNSEEN", "UNDELETED")
    if typ != "OK":
        raise MailboxError(f"folder {address.folder} cannot be searched: {_text(data[-1] if data else typ)}")
    for uid in data[0].split() if data and data[0] else []:
        _message_take(imap, uid, address=address, folders=folders, report=report)


def _message_take(
    imap: imaplib.IMAP4, uid: bytes, *, address: MailboxAddress, folders: _Folders, report: MailPollReport
) -> None:
    header = _fetch(imap, uid, "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM SUBJECT AUTO-SUBMITTED PRECEDENCE)]")
    if header is None:
        return
    head = _head_parse(header)
    raw = None
    identity = head.message_id
    if not identity:
        # No Message-ID: the message's own bytes name it (read without marking it).
        raw = _fetch(imap, uid, "BODY.PEEK[]")
        if raw is None:
            return
        identity = "sha256:" + hashlib.sha256(raw).hexdigest()
    key = claim_key(address.identity, identity)
    taken = claim_take(
        kind=InboxKind.MAIL,
        key=key,
        source=address.folder[:_SOURCE_MAX],
        name=head.subject[:_NAME_MAX],
        message_id=head.message_id[:_MESSAGE_ID_MAX],
        sender=head.sender[:_SENDER_MAX],
    )
    if taken is None:
        # Another poller holds it, or an earlier poll decided it and died before moving the message.
        claim = InboxClaim.objects.filter(kind=InboxKind.MAIL, key=key).first()
        if claim is not None and _filing_take(claim):
            _file(imap, uid, claim=claim, folders=folders)
            report.filed += 1
        return
    claim = taken.claim
    try:
        if taken.resumed and ImportBatch.objects.filter(batch_id=claim.batch_id).exists():
            # Its batch was made (and committed) before the poller died: only the filing is left.
            _claim_decide(claim, InboxClaimState.SUBMITTED)
        else:
            if raw is None:
                raw = _fetch(imap, uid, "BODY.PEEK[]")
            if raw is None:
                _claim_release(claim)  # gone meanwhile (moved by someone): claimed again if it comes back
                return
            _message_import(claim, raw=raw, head=head)
    except BaseException:
        # Not decided (the server went away, the upload folder is not writable, a bug): let the claim go, so
        # the next poll tries the message again rather than leaving it to a successor of this process.
        _claim_release(claim)
        raise
    report.taken += 1
    if claim.state == InboxClaimState.REJECTED:
        report.rejected += 1
    else:
        report.processed += 1
        report.batches.append(claim.batch_id)
    _file(imap, uid, claim=claim, folders=folders)


def _filing_take(claim: InboxClaim) -> bool:
    """Whether this poller files the message of a decided claim: its own (a copy delivered twice), or one
    whose poller is gone (died between its decision and the move), taken over by compare and set. A live
    poller's claim is left to it: it is moving that message right now."""
    if claim.state == InboxClaimState.CLAIMED:
        return False
    me = scanner_id()
    if claim.claimed_by == me:
        return True
    if not claim_scanner_gone(claim):
        return False
    return bool(
        InboxClaim.objects.filter(
            pk=claim.pk, claimed_by=claim.claimed_by, updated_at=claim.updated_at
        ).update(claimed_by=me, updated_at=timezone.now())
    )


def _file(imap: imaplib.IMAP4, uid: bytes, *, claim: InboxClaim, folders: _Folders) -> None:
    target = REJECTED_FOLDER if claim.state == InboxClaimState.REJECTED else PROCESSED_FOLDER
    _message_move(imap, uid, folder=folders.name(target))


def _claim_release(claim: InboxClaim) -> None:
    """Drop this poller's undecided claim (no batch was committed for it)."""
    InboxClaim.objects.filter(pk=claim.pk, state=InboxClaimState.CLAIMED, claimed_by=scanner_id()).delete()


def _claim_decide(claim: InboxClaim, state: str, **fields) -> None:
    """claimed -> submitted/rejected, by this scanner only (compare and set)."""
    fields["updated_at"] = timezone.now()
    updated = InboxClaim.objects.filter(
        pk=claim.pk, state=InboxClaimState.CLAIMED, claimed_by=scanner_id()
    ).update(state=state, **fields)
    if not updated:
        raise MailboxError(f"claim {claim.pk} was taken from this poller")
    claim.refresh_from_db()


@dataclass
class _Attachments:
    uploads: list[Upload] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _attachments(message: EmailMessage) -> _Attachments:
    found = _Attachments()
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name:
            continue
        name = file_name_safe(name) or "attachment"
        extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        if extension not in MAIL_EXTENSIONS:
            found.ignored.append(f"{name} (not a CSV, TXT, Excel or ZIP file)")
            continue
        content = part.get_payload(decode=True) or b""
        found.uploads.append(Upload(name=name, chunks=[content], size=len(content)))
    return found


def distributor_for_sender(sender: str) -> tuple[Distributor | None, str]:
    """The active distributor whose contact_emails holds `sender` (case-insensitive), or None and why not."""
    if not sender:
        return None, "the message has no sender address (From)"
    sender = sender.lower()
    matches = [
        d
        for d in Distributor.objects.order_by("code")
        if sender in {str(e).strip().lower() for e in d.contact_emails or []}
    ]
    active = [d for d in matches if d.is_active]
    if len(active) == 1:
        return active[0], ""
    if len(active) > 1:
        codes = ", ".join(d.code for d in active)
        return None, f"{sender} is a contact of several distributors ({codes}): which one sent it is unclear"
    if matches:
        return None, f"{sender} is a contact of distributor {matches[0].code}, which is inactive"
    return None, f"{sender} is not the contact address of any distributor"


def _message_import(claim: InboxClaim, *, raw: bytes, head: _Head) -> None:
    """Make the message's batch (or decide to reject it), with the claim's state in the same transaction."""
    distributor, refusal = distributor_for_sender(head.sender)
    result = {"auto_submitted": head.auto_submitted}
    if settings.INBOX_REPLY and head.sender and not head.auto_submitted:
        result["reply"] = REPLY_DUE  # used only if it is rejected; a batch's reply is due when its jobs end
    if distributor is None:
        _claim_decide(claim, InboxClaimState.REJECTED, error=f"Unknown sender: {refusal}.", result=result)
        return
    found = _attachments(email.message_from_bytes(raw, policy=email.policy.default))
    result["ignored"] = found.ignored
    if not found.uploads:
        what = "; ".join(found.ignored) if found.ignored else "no attachments at all"
        _claim_decide(
            claim,
            InboxClaimState.REJECTED,
            distributor=distributor,
            error=f"No usable attachment from {head.sender} ({distributor.code}): {what}.",
            result=result,
        )
        return
    try:
        with transaction.atomic():
            batch = import_batch_submit(
                uploads=found.uploads,
                mode=ImportMode.FULL,
                dist_id=distributor.code,
                source=BatchSource.EMAIL,
                batch_id=claim.batch_id,
            )
            result["warnings"] = batch.warnings
            result.pop("reply", None)
            _claim_decide(claim, InboxClaimState.SUBMITTED, distributor=distributor, result=result)
    except StorageUnavailable as exc:
        raise MailboxError(f"message {head.message_id or claim.pk} not taken: {exc.message}") from exc
    except ImportHubError as exc:
        names = ", ".join(u.name for u in found.uploads)
        warnings = (exc.details or {}).get("warnings", []) if isinstance(exc.details, dict) else []
        why = exc.message + (" " + " ".join(warnings) if warnings else "")
        result["code"] = exc.code
        _claim_decide(
            claim,
            InboxClaimState.REJECTED,
            distributor=distributor,
            error=f"The attachments of {head.sender} ({distributor.code}: {names}) were refused: {why}",
            result=result,
        )


# --- replies -----------------------------------------------------------------------------------------------


def mail_replies_send() -> int:
    """Finish the claims that are due: a submitted claim whose batch's jobs have all ended becomes done, with
    one reply to its sender when INBOX_REPLY; a rejected claim not yet answered gets its reply. Returns the
    number of replies sent. A reply that cannot be sent is logged and tried again at the next poll."""
    sent = 0
    for claim in InboxClaim.objects.filter(kind=InboxKind.MAIL, state=InboxClaimState.SUBMITTED).order_by(
        "pk"
    ):
        jobs = list(ImportJob.objects.filter(batch_id=claim.batch_id).order_by("pk"))
        if any(job.status not in FINAL_STATUSES for job in jobs):
            continue
        # The reply is claimed by the state change: of two pollers, one moves the claim and answers.
        if not InboxClaim.objects.filter(pk=claim.pk, state=InboxClaimState.SUBMITTED).update(
            state=InboxClaimState.DONE, updated_at=timezone.now()
        ):
            continue
        claim.refresh_from_db()
        summary = _batch_summary(jobs)
        claim.result = {**claim.result, "jobs": summary}
        claim.save(update_fields=["result", "updated_at"])
        if not _replies_on(claim):
            continue
        if _reply_send(claim, _batch_reply(claim, jobs), attachments=_rejected_rows(jobs)):
            sent += 1
        else:
            # Not sent: back to submitted (only from done, by us), so the next poll tries again.
            InboxClaim.objects.filter(pk=claim.pk, state=InboxClaimState.DONE).update(
                state=InboxClaimState.SUBMITTED, updated_at=timezone.now()
            )
    rejected = InboxClaim.objects.filter(
        kind=InboxKind.MAIL, state=InboxClaimState.REJECTED, result__reply=REPLY_DUE
    )
    for claim in rejected.order_by("pk"):
        if not _reply_claim(claim):
            continue
        if _reply_send(claim, _rejected_reply(claim), attachments=[]):
            sent += 1
            _reply_mark(claim, REPLY_SENT, was=REPLY_SENDING)
        else:
            _reply_mark(claim, REPLY_DUE, was=REPLY_SENDING)
    return sent


def _replies_on(claim: InboxClaim) -> bool:
    """INBOX_REPLY, for a message with a sender that is no automatic message (no replies to robots)."""
    return settings.INBOX_REPLY and bool(claim.sender) and not claim.result.get("auto_submitted")


def _reply_claim(claim: InboxClaim) -> bool:
    """Claim a rejected message's reply (due -> sending), compare and set on the row's updated_at: of two
    pollers, one gets it."""
    return _reply_mark(claim, REPLY_SENDING, was=REPLY_DUE)


def _reply_mark(claim: InboxClaim, value: str, *, was: str) -> bool:
    if claim.result.get("reply") != was:
        return False
    result, updated_at = {**claim.result, "reply": value}, timezone.now()
    moved = InboxClaim.objects.filter(pk=claim.pk, updated_at=claim.updated_at).update(
        result=result, updated_at=updated_at
    )
    if moved:
        claim.result, claim.updated_at = result, updated_at
    return bool(moved)


def _batch_summary(jobs: list[ImportJob]) -> list[dict]:
    return [
        {
            "file": job.source_name or job.original_filename,
            "status": job.get_status_display(),
            "rows": job.total_rows,
            "imported": job.success_count,
            "rejected": job.error_count,
            "error": job.error_message,
            "code": job.error_code,
        }
        for job in jobs
        if job.status != JobStatus.SKIPPED
    ]


def _batch_reply(claim: InboxClaim, jobs: list[ImportJob]) -> str:
    files = [job for job in jobs if job.status != JobStatus.SKIPPED]
    lines = [
        f'Your message "{claim.name}" became batch {claim.batch_id} ({len(files)} file(s)).',
        "",
    ]
    for job in files:
        lines.append(f"{job.source_name or job.original_filename}: {job.get_status_display()}")
        lines.append(
            f"  rows {job.total_rows:,}, imported {job.success_count:,}, rejected {job.error_count:,}"
            + (" (the rejected rows are attached)" if job_errors_file(job) else "")
        )
        if job.error_message:
            lines.append(f"  {job.error_message}")
    for warning in claim.result.get("warnings", []):
        lines.append(f"Not taken: {warning}")
    for ignored in claim.result.get("ignored", []):
        lines.append(f"Not taken: {ignored}")
    missing = [job for job in jobs if job.status == JobStatus.SKIPPED]
    if missing:
        lines += ["", "Expected from you and not in this message:"]
        lines += [
            f"- {job.table_name}: {job.notes}" if job.notes else f"- {job.table_name}" for job in missing
        ]
    lines += ["", f"Batch: {claim.batch_id}"]
    return "\n".join(lines) + "\n"


def _rejected_reply(claim: InboxClaim) -> str:
    return (
        f'Your message "{claim.name}" was not imported.\n\n{claim.error}\n\n'
        "Nothing of it was loaded. Send the data files (CSV, TXT, Excel or ZIP) as attachments from the "
        "address your distributor has registered.\n"
    )


def _rejected_rows(jobs: list[ImportJob]) -> list[tuple[str, bytes, str]]:
    attached = []
    for job in jobs:
        path = job_errors_file(job)
        if path is None or path.stat().st_size > REPLY_ATTACHMENT_MAX_BYTES:
            continue
        content = b"".join(rejects_csv_stream(job=job))
        attached.append((rejects_filename(job=job, extension="csv"), content, "text/csv"))
    return attached


def _reply_send(claim: InboxClaim, body: str, *, attachments: list[tuple[str, bytes, str]]) -> bool:
    subject = claim.name if claim.name.lower().startswith("re:") else f"Re: {claim.name}".strip()
    headers = {"Auto-Submitted": "auto-replied"}
    if claim.message_id:
        headers["In-Reply-To"] = headers["References"] = claim.message_id
    message = OutgoingMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [claim.sender], headers=headers)
    for attachment in attachments:
        message.attach(*attachment)
    try:
        message.send()
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning(
            "Reply to %s about %s not sent (tried again at the next poll): %s",
            claim.sender,
            claim.batch_id,
            exc,
        )
        return False
    logger.info("Replied to %s about message %s", claim.sender, claim.message_id or claim.pk)
    return True
