"""The mailbox against a real IMAP server (dovecot on loopback) and a real SMTP server (aiosmtpd): messages
from a distributor's contact become batches and are answered, the others are filed in Rejected, each message
is imported once (two polls, two pollers, a poller that died), and a server problem is shown, not raised."""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command
from django_q.tasks import async_task

from benchmarks.processes import free_port
from imports.models import (
    BatchSource,
    Distributor,
    ImportBatch,
    ImportJob,
    InboxClaim,
    InboxClaimState,
    InboxKind,
    InboxScan,
    JobStatus,
)
from imports.services.batches import Upload, import_batch_submit
from imports.services.inbox_claims import claim_key
from imports.services.inbox_mail import mail_replies_send, mailbox_address_parse, mailbox_poll
from imports.services.jobs import job_progress_get
from imports.services.recovery import jobs_stale_recover
from tests.imports.conftest import table_count
from tests.inbox import dovecot as dovecot_module
from tests.inbox.dovecot import dovecot  # noqa: F401  (the fixture)
from tests.reliability.cluster import child_env, repeated_values, rows_total, sales_csv, wait_for
from tests.smtp_server import smtp_server_run

DATA = Path(__file__).resolve().parent.parent / "data"
CONTACT = "North.Sales@Example.com"
OCTOBER = DATA / "mail" / "sales_31001_october.csv"  # 20 good rows, 2 with an impossible date
NOVEMBER = DATA / "mail" / "sales_31001_november.csv"  # 8 good rows
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback (tests/smtp_server.py)."""
    yield from smtp_server_run(settings)


@pytest.fixture
def mailbox(settings, dovecot):  # noqa: F811
    """The mailbox setting pointed at the test's dovecot, replies on, and a distributor with a contact."""
    call_command("load_demo_config", verbosity=0)
    settings.INBOX_IMAP_URL = dovecot.url()
    settings.INBOX_IMAP_CA_FILE = dovecot.ca_file
    settings.INBOX_REPLY = True
    Distributor.objects.create(code="31001", name="North", contact_emails=["someone@else.example", CONTACT])
    return dovecot


def message(
    *,
    sender: str = "north.sales@example.com",
    subject: str = "October sales",
    files: tuple[Path, ...] = (OCTOBER,),
    message_id: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"North Sales <{sender}>"
    msg["To"] = "imports@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{uuid.uuid4()}@north.example>"
    msg.set_content("Please find our file attached.\n")
    for path in files:
        maintype, subtype = ("text", "csv") if path.suffix == ".csv" else ("application", "octet-stream")
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg.as_bytes(policy=email.policy.SMTP)


def _parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _body(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def test_mailbox_poll_imports_a_contacts_csv_files_it_in_processed_and_replies_with_the_rejected_rows(
    mailbox, smtp
):
    raw = message(files=(OCTOBER, DATA / "report.pdf"))
    mailbox.append(raw)

    report = mailbox_poll()

    assert (report.taken, report.processed, report.rejected, report.replies) == (1, 1, 0, 1), str(report)
    (batch,) = ImportBatch.objects.all()
    assert batch.source == BatchSource.EMAIL and batch.dist_id == "31001"
    (job,) = ImportJob.objects.filter(batch_id=batch.batch_id).exclude(status=JobStatus.SKIPPED)
    assert (job.status, job.total_rows, job.success_count, job.error_count) == (JobStatus.COMPLETE, 22, 20, 2)
    assert table_count("sales") == 20
    # Filed in Processed; the mailbox's folder is empty.
    assert mailbox.folder("INBOX") == []
    assert [_parsed(m)["Message-ID"] for m in mailbox.folder("Processed")] == [_parsed(raw)["Message-ID"]]
    claim = InboxClaim.objects.get(kind=InboxKind.MAIL)
    assert (claim.state, claim.sender, claim.name) == (InboxClaimState.DONE, CONTACT.lower(), "October sales")
    assert claim.batch_id == batch.batch_id and claim.distributor.code == "31001"

    (reply,) = smtp.to(CONTACT.lower())
    assert reply["Subject"] == "Re: October sales"
    assert reply["In-Reply-To"] == reply["References"] == _parsed(raw)["Message-ID"]
    body = _body(reply)
    assert "sales_31001_october.csv: Processing complete" in body
    assert "rows 22, imported 20, rejected 2 (the rejected rows are attached)" in body
    assert str(batch.batch_id) in body
    assert "Not taken: report.pdf (not a CSV, TXT, Excel or ZIP file)" in body
    (attachment,) = list(reply.iter_attachments())
    assert attachment.get_filename() == "sales_31001_october-errors.csv"
    rejected_rows = attachment.get_content()
    rejected_rows = rejected_rows.decode("utf-8-sig") if isinstance(rejected_rows, bytes) else rejected_rows
    assert "DOBAD0" in rejected_rows and "DOBAD1" in rejected_rows and "DO31001100000" not in rejected_rows

    scan = InboxScan.objects.get(kind=InboxKind.MAIL, source="INBOX")
    assert scan.last_taken == 1 and scan.last_ok_at is not None and scan.last_error == ""

    # The next poll finds nothing and answers nothing twice.
    again = mailbox_poll()
    assert (again.taken, again.replies) == (0, 0)
    assert len(smtp.messages) == 1 and ImportBatch.objects.count() == 1


def test_mailbox_poll_files_an_unknown_senders_message_in_rejected_and_says_why(mailbox, smtp):
    mailbox.append(message(sender="stranger@example.org", subject="Our data"))

    report = mailbox_poll()

    assert (report.taken, report.processed, report.rejected) == (1, 0, 1)
    assert ImportBatch.objects.count() == 0 and ImportJob.objects.count() == 0
    assert mailbox.folder("INBOX") == [] and len(mailbox.folder("Rejected")) == 1
    assert "Rejected" in mailbox.folders()
    claim = InboxClaim.objects.get(kind=InboxKind.MAIL)
    assert claim.state == InboxClaimState.REJECTED
    assert (
        claim.error == "Unknown sender: stranger@example.org is not the contact address of any distributor."
    )
    (reply,) = smtp.to("stranger@example.org")
    assert reply["Subject"] == "Re: Our data"
    assert "was not imported" in _body(reply) and claim.error in _body(reply)
    assert mailbox_poll().replies == 0 and len(smtp.messages) == 1


def test_mailbox_poll_rejects_a_contacts_message_without_a_usable_attachment(mailbox, smtp, settings):
    settings.INBOX_REPLY = False
    mailbox.append(message(files=(DATA / "report.pdf",), subject="See attached"))

    report = mailbox_poll()

    assert (report.taken, report.rejected) == (1, 1)
    assert ImportBatch.objects.count() == 0
    assert len(mailbox.folder("Rejected")) == 1 and mailbox.folder("Processed") == []
    claim = InboxClaim.objects.get(kind=InboxKind.MAIL)
    assert claim.error == (
        "No usable attachment from north.sales@example.com (31001): report.pdf (not a CSV, TXT, Excel or ZIP file)."
    )
    assert smtp.messages == []  # INBOX_REPLY off


def test_mailbox_poll_does_not_answer_an_automatic_message(mailbox, smtp):
    raw = message(sender="mailer-daemon@example.org", subject="Undelivered Mail")
    mailbox.append(raw.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:", 1))

    assert mailbox_poll().rejected == 1
    assert len(mailbox.folder("Rejected")) == 1 and smtp.messages == []


def test_mailbox_poll_refuses_an_inactive_distributors_contact(mailbox, smtp):
    Distributor.objects.filter(code="31001").update(is_active=False)
    mailbox.append(message())

    assert mailbox_poll().rejected == 1
    assert InboxClaim.objects.get().error == (
        "Unknown sender: north.sales@example.com is a contact of distributor 31001, which is inactive."
    )
    assert ImportBatch.objects.count() == 0


def test_mailbox_poll_refuses_a_resent_file_and_says_so_in_the_reply(mailbox, smtp):
    mailbox.append(message(subject="October sales"))
    assert mailbox_poll().processed == 1
    mailbox.append(message(subject="October sales again"))

    report = mailbox_poll()

    assert report.processed == 1 and ImportBatch.objects.count() == 2
    second = ImportJob.objects.exclude(status=JobStatus.SKIPPED).order_by("id").last()
    assert (second.status, second.error_code) == (JobStatus.VALIDATION_FAILED, "duplicate_content")
    assert table_count("sales") == 20
    reply = smtp.to(CONTACT.lower())[-1]
    assert reply["Subject"] == "Re: October sales again"
    assert "sales_31001_october.csv: Validation failed" in _body(reply)
    assert "not imported again" in _body(reply)


def test_mailbox_poll_imports_a_message_seen_twice_once(mailbox, smtp):
    raw = message(files=(NOVEMBER,))
    mailbox.append(raw)
    mailbox.append(raw)  # the same message delivered twice: the same Message-ID

    report = mailbox_poll()

    assert ImportBatch.objects.count() == 1 and table_count("sales") == 8
    assert (report.processed, report.filed) == (1, 1)
    assert mailbox.folder("INBOX") == [] and len(mailbox.folder("Processed")) == 2
    assert len(smtp.messages) == 1


def _ended_process_id() -> str:
    code = (
        "import os; print(os.getpid(), open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19], sep=':')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return f"{socket.gethostname()}:{out.strip()}"


def _orphan_claim(raw: bytes, mailbox, **fields) -> InboxClaim:
    """The claim a poller made before it died (its process has ended)."""
    identity = mailbox_address_parse(mailbox.url()).identity
    message_id = _parsed(raw)["Message-ID"]
    return InboxClaim.objects.create(
        kind=InboxKind.MAIL,
        key=claim_key(identity, message_id),
        source="INBOX",
        name="November sales",
        message_id=message_id,
        sender="north.sales@example.com",
        claimed_by=_ended_process_id(),
        **fields,
    )


def test_mailbox_poll_resumes_the_claim_of_a_poller_that_died_before_its_batch(mailbox, smtp):
    raw = message(files=(NOVEMBER,), subject="November sales")
    mailbox.append(raw)
    orphan = _orphan_claim(raw, mailbox)

    report = mailbox_poll()

    assert report.processed == 1
    (batch,) = ImportBatch.objects.all()
    assert batch.batch_id == orphan.batch_id and table_count("sales") == 8
    assert InboxClaim.objects.get().state == InboxClaimState.DONE
    assert len(mailbox.folder("Processed")) == 1 and mailbox.folder("INBOX") == []


def test_mailbox_poll_resumes_a_claim_whose_batch_was_made_without_importing_again(mailbox, smtp):
    raw = message(files=(NOVEMBER,), subject="November sales")
    mailbox.append(raw)
    orphan = _orphan_claim(raw, mailbox)
    import_batch_submit(
        uploads=[Upload(name=NOVEMBER.name, chunks=[NOVEMBER.read_bytes()])],
        mode="full",
        dist_id="31001",
        source=BatchSource.EMAIL,
        batch_id=orphan.batch_id,
    )
    jobs = ImportJob.objects.count()

    report = mailbox_poll()

    assert report.processed == 1 and ImportBatch.objects.count() == 1 and ImportJob.objects.count() == jobs
    assert table_count("sales") == 8
    assert len(mailbox.folder("Processed")) == 1 and mailbox.folder("INBOX") == []
    assert len(smtp.messages) == 1


def test_mailbox_poll_files_a_message_whose_claim_was_decided_before_the_poller_died(mailbox, smtp):
    """The batch was committed (claim submitted), the message not yet moved: it is only moved."""
    raw = message(files=(NOVEMBER,), subject="November sales")
    mailbox.append(raw)
    batch = import_batch_submit(
        uploads=[Upload(name=NOVEMBER.name, chunks=[NOVEMBER.read_bytes()])],
        mode="full",
        dist_id="31001",
        source=BatchSource.EMAIL,
    )
    _orphan_claim(raw, mailbox, batch_id=batch.batch_id, state=InboxClaimState.SUBMITTED)

    report = mailbox_poll()

    assert (report.taken, report.filed, report.replies) == (0, 1, 1)
    assert ImportBatch.objects.count() == 1 and table_count("sales") == 8
    assert len(mailbox.folder("Processed")) == 1


def test_two_pollers_at_once_take_each_message_once(mailbox, tmp_path, settings):
    COUNT = 12  # noqa: N806
    raws = [message(files=(NOVEMBER,), subject=f"message {n}") for n in range(COUNT)]
    for raw in raws:
        mailbox.append(raw)
    env = child_env(
        INBOX_IMAP_URL=mailbox.url(),
        INBOX_IMAP_CA_FILE=mailbox.ca_file,
        INBOX_REPLY="false",
        EMAIL_URL="consolemail://",
    )
    # Both start polling at the same moment, once Django is set up in each.
    start = time.time() + 4
    code = (
        "import time, django; django.setup(); from imports.services.inbox_mail import mailbox_poll; "
        f"time.sleep(max(0, {start} - time.time())); r = mailbox_poll(); print(r.taken, r.filed, '|', r)"
    )
    pollers = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in pollers]
    assert all(p.returncode == 0 for p in pollers), outputs

    taken = [int(out.strip().splitlines()[-1].split()[0]) for out in outputs]
    assert sum(taken) == COUNT, outputs
    assert ImportBatch.objects.count() == COUNT
    assert (
        ImportJob.objects.exclude(status=JobStatus.SKIPPED).count() == COUNT
    )  # queued (no worker runs here)
    assert sorted(c.state for c in InboxClaim.objects.all()) == [InboxClaimState.SUBMITTED] * COUNT
    assert mailbox.folder("INBOX") == [] and len(mailbox.folder("Processed")) == COUNT


def test_mailbox_login_failure_is_recorded_and_the_next_good_poll_clears_it(mailbox, smtp, settings):
    mailbox.append(message(files=(NOVEMBER,)))
    settings.INBOX_IMAP_URL = mailbox.url(password="wrong")

    report = mailbox_poll()

    assert report.taken == 0 and report.error.startswith("login as importhub at 127.0.0.1:"), report.error
    assert report.error.endswith("refused: IMAP error: [AUTHENTICATIONFAILED] Authentication failed.")
    assert "failed: login as importhub" in str(report)
    scan = InboxScan.objects.get(kind=InboxKind.MAIL, source="INBOX")
    assert scan.last_error == report.error and scan.last_error_at is not None and scan.last_ok_at is None
    assert "wrong" not in scan.last_error
    assert len(mailbox.folder("INBOX")) == 1 and ImportBatch.objects.count() == 0

    settings.INBOX_IMAP_URL = mailbox.url()
    assert mailbox_poll().processed == 1
    scan.refresh_from_db()
    assert scan.last_error == "" and scan.last_error_at is None and scan.last_ok_at is not None


def test_a_message_not_taken_for_a_server_problem_stays_and_is_taken_at_the_next_poll(
    mailbox, smtp, settings
):
    mailbox.append(message(files=(NOVEMBER,)))
    upload_dir = settings.UPLOAD_DIR
    not_a_folder = Path(settings.TEST_VAR) / "uploads-is-a-file"
    not_a_folder.write_text("")
    settings.UPLOAD_DIR = not_a_folder

    report = mailbox_poll()

    assert "not taken: The upload folder is not writable" in report.error
    assert InboxClaim.objects.count() == 0 and ImportBatch.objects.count() == 0
    assert len(mailbox.folder("INBOX")) == 1

    settings.UPLOAD_DIR = upload_dir
    assert mailbox_poll().processed == 1
    assert table_count("sales") == 8 and mailbox.folder("INBOX") == []


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(
            "untrusted",
            "TLS: the server's certificate is not trusted (self-signed certificate); set INBOX_IMAP_CA_FILE",
            id="untrusted-certificate",
        ),
        pytest.param("refused", "connection refused", id="nothing-listening"),
    ],
)
def test_mailbox_server_problems_are_recorded_not_raised(mailbox, settings, setup, expected):
    if setup == "untrusted":
        settings.INBOX_IMAP_CA_FILE = ""
    else:
        settings.INBOX_IMAP_URL = f"imaps://importhub:x@127.0.0.1:{free_port()}/INBOX"

    report = mailbox_poll()

    assert expected in report.error, report.error
    assert expected in InboxScan.objects.get(kind=InboxKind.MAIL).last_error


def test_mailbox_over_starttls_imports_too(mailbox, smtp, settings):
    settings.INBOX_IMAP_URL = mailbox.url(scheme="imap")
    mailbox.append(message(files=(NOVEMBER,)))

    assert mailbox_poll().processed == 1
    assert table_count("sales") == 8


def test_a_reply_that_cannot_be_sent_is_sent_at_the_next_poll_once(mailbox, smtp, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    mailbox.append(message(files=(NOVEMBER,)))

    assert mailbox_poll().replies == 0
    assert InboxClaim.objects.get().state == InboxClaimState.SUBMITTED

    settings.EMAIL_PORT = smtp.port
    assert mailbox_poll().replies == 1
    assert mail_replies_send() == 0
    assert len(smtp.messages) == 1 and InboxClaim.objects.get().state == InboxClaimState.DONE


def _own_server_mailbox(settings, server) -> None:
    """The mailbox pointed at a dovecot a test started itself, no replies, a contact's message of November's
    file and a stranger's in it."""
    call_command("load_demo_config", verbosity=0)
    settings.INBOX_IMAP_URL, settings.INBOX_IMAP_CA_FILE = server.url(), server.ca_file
    settings.INBOX_REPLY = False
    Distributor.objects.create(code="31001", name="North", contact_emails=[CONTACT])
    server.append(message(files=(NOVEMBER,)))
    server.append(message(sender="stranger@example.org"))


def test_mailbox_without_move_files_by_copy_and_expunge_of_that_message_only(settings, transactional_db):
    # A server that advertises no MOVE (dovecot told to list only these capabilities after login).
    server = dovecot_module.dovecot_start(
        extra_config="protocol imap {\n  imap_capability = IMAP4rev1 UIDPLUS\n}\n"
    )
    try:
        _own_server_mailbox(settings, server)
        imap = server.client()
        _, capabilities = imap.capability()
        assert b"MOVE" not in capabilities[-1].split() and b"UIDPLUS" in capabilities[-1].split()
        imap.select("INBOX")
        # A message someone else marked deleted, and read: it is no unseen message, and the expunge of one UID keeps it.
        server_kept = message(subject="kept")
        imap.append("INBOX", r"(\Deleted \Seen)", None, server_kept)
        imap.logout()

        report = mailbox_poll()

        assert (report.processed, report.rejected) == (1, 1), str(report)
        assert len(server.folder("Processed")) == 1 and len(server.folder("Rejected")) == 1
        assert [_parsed(m)["Subject"] for m in server.folder("INBOX")] == ["kept"]
    finally:
        dovecot_module.dovecot_stop(server)


def test_mailbox_on_a_server_whose_folders_sit_under_inbox_makes_them_there(settings, transactional_db):
    # The personal namespace's prefix is INBOX. (Courier and Cyrus style): NAMESPACE says so, and a folder
    # made at the top level would be refused.
    server = dovecot_module.dovecot_start(namespace=dovecot_module.NAMESPACE_INBOX_PREFIX)
    try:
        _own_server_mailbox(settings, server)

        report = mailbox_poll()

        assert (report.processed, report.rejected) == (1, 1), str(report)
        assert len(server.folder("INBOX.Processed")) == 1 and len(server.folder("INBOX.Rejected")) == 1
        assert server.folder("INBOX") == []
        assert table_count("sales") == 8
    finally:
        dovecot_module.dovecot_stop(server)


def test_mailbox_poll_is_off_without_a_url(settings):
    settings.INBOX_IMAP_URL = ""
    report = mailbox_poll()
    assert not report.enabled and str(report) == "mailbox: off (INBOX_IMAP_URL is empty)"
    assert InboxScan.objects.count() == 0


def test_mailbox_tests_fail_saying_what_to_install_without_dovecot(monkeypatch):
    monkeypatch.setattr(dovecot_module, "DOVECOT", "/nonexistent/dovecot")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y dovecot-imapd"):
        dovecot_module.dovecot_start()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "imaps://ops%40north:p%C3%A4ss%2F1@mail.example.com/Shared%20In",
            ("imaps", "mail.example.com", 993, "ops@north", "päss/1", "Shared In"),
            id="imaps-decoded-default-port",
        ),
        pytest.param(
            "imap://ops:pw@127.0.0.1:1143",
            ("imap", "127.0.0.1", 1143, "ops", "pw", "INBOX"),
            id="imap-default-folder",
        ),
    ],
)
def test_mailbox_address_parse(url, expected):
    a = mailbox_address_parse(url)
    assert (a.scheme, a.host, a.port, a.user, a.password, a.folder) == expected
    assert a.password not in str(a)


BIG_ROWS = 120_000


@pytest.mark.slow
def test_a_cluster_sigkilled_while_importing_a_mailed_file_imports_it_once_and_answers_once_after_a_restart(
    mailbox,
    smtp,
    processes,
    broker,
    tmp_path,
    settings,
):
    """Real processes: a qcluster polls the mailbox, takes the message, files it in Processed and is SIGKILLed
    while its attachment imports; a second cluster finishes the import (the stale-job scan) and the reply is
    sent once, when the job has ended."""
    attachment = sales_csv(tmp_path / "sales_31001_big.csv", rows=BIG_ROWS, tag="MAIL")
    raw = message(files=(attachment,), subject="The big file")
    mailbox.append(raw)
    env = {
        "INBOX_IMAP_URL": mailbox.url(),
        "INBOX_IMAP_CA_FILE": mailbox.ca_file,
        "INBOX_REPLY": "true",
        "INBOX_POLL_SECONDS": "60",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "DEFAULT_FROM_EMAIL": "importhub@example.com",
        "IMPORT_CHUNK_ROWS": "1000",
        "Q_WORKERS": "2",
    }
    first = processes.cluster("first", **env)
    processes.running(first)

    def poll() -> None:
        async_task("imports.tasks.inbox_poll_task", task_name=f"inbox-poll-{time.monotonic_ns()}")

    def partly_imported() -> bool:
        poll()
        job = ImportJob.objects.filter(original_filename=attachment.name).first()
        importing = bool(job and job.status == JobStatus.PROCESSING and 0 < job_progress_get(job) < BIG_ROWS)
        # The poller files the message right after making the batch; the kill must come after both.
        return importing and len(mailbox.folder("Processed")) == 1

    wait_for(
        partly_imported, timeout=180, what="the mailed file's import part way", logs=(first,), interval=0.5
    )
    first.kill()  # the whole cluster, SIGKILL: no handler runs
    claim = InboxClaim.objects.get(kind=InboxKind.MAIL)
    assert claim.state == InboxClaimState.SUBMITTED  # its batch was made, its outcome is not known yet
    assert mailbox.folder("INBOX") == [] and len(mailbox.folder("Processed")) == 1
    assert smtp.messages == []

    second = processes.cluster("second", **env)
    processes.running(second)
    settings.JOB_STALE_AFTER = 3  # the stale-job scan (every minute in production), run here

    def answered() -> bool:
        jobs_stale_recover()
        poll()
        return InboxClaim.objects.get(kind=InboxKind.MAIL).state == InboxClaimState.DONE and bool(
            smtp.messages
        )

    wait_for(answered, timeout=300, what="the reply after the import", logs=(second,), interval=2)
    job = ImportJob.objects.get(original_filename=attachment.name)
    assert (job.status, job.total_rows, job.success_count) == (JobStatus.COMPLETE, BIG_ROWS, BIG_ROWS)
    assert job.attempts >= 2
    assert rows_total("sales") == BIG_ROWS and repeated_values("sales", "dono") == []
    assert ImportBatch.objects.count() == 1 and ImportBatch.objects.get().source == BatchSource.EMAIL
    assert mailbox.folder("INBOX") == []
    assert [_parsed(m)["Message-ID"] for m in mailbox.folder("Processed")] == [_parsed(raw)["Message-ID"]]
    (reply,) = smtp.to(CONTACT.lower())
    assert reply["Subject"] == "Re: The big file"
    assert (
        f"sales_31001_big.csv: Processing complete\r\n  rows {BIG_ROWS:,}, imported {BIG_ROWS:,}, rejected 0"
        in _body(reply)
    )
    # Polled again (here, in this process): nothing is taken or answered twice.
    again = mailbox_poll()
    assert (again.taken, again.replies) == (0, 0)
    assert len(smtp.messages) == 1 and ImportBatch.objects.count() == 1
