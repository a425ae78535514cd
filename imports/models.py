"""ImportJob: one uploaded (or expected) file, its life through validation and import, and its archive."""

import uuid

from django.conf import settings
from django.db import models

from tableconfig.models import ImportTable


class JobStatus(models.IntegerChoices):
    # The numbers are the older app's, which clients and reports still use.
    SKIPPED = 0, "Skipped (file not uploaded)"
    UPLOADED = 1, "Uploaded"
    FAILED = 2, "Failed"
    WAITING = 3, "Waiting process"
    VALIDATING = 4, "Validating"
    VALIDATION_OK = 5, "Validation ok"
    VALIDATION_FAILED = 6, "Validation failed"
    PROCESSING = 7, "Processing"
    PROCESSING_FAILED = 8, "Processing failed"
    COMPLETE = 9, "Processing complete"


FINAL_STATUSES = (
    JobStatus.SKIPPED,
    JobStatus.FAILED,
    JobStatus.VALIDATION_FAILED,
    JobStatus.PROCESSING_FAILED,
    JobStatus.COMPLETE,
)


# The three ways a job can end without its rows: a retry re-runs them from the kept upload.
FAILED_STATUSES = (JobStatus.FAILED, JobStatus.VALIDATION_FAILED, JobStatus.PROCESSING_FAILED)


class ImportMode(models.TextChoices):
    QUICK = "quick", "Quick validation only"
    FULL = "full", "Validate and import"
    BOTH = "both", "Validate, then import"
    DRY_RUN = "dry_run", "Check every row, load nothing"


class BatchSource(models.TextChoices):
    UPLOAD = "upload", "Upload"
    API = "api", "API"
    CLI = "cli", "Command line"
    INBOX = "inbox", "Inbox folder"
    EMAIL = "email", "E-mail"


class ArchiveStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SKIPPED = "skipped", "Skipped"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Cadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class Distributor(models.Model):
    """A sender of files: what an upload's `dist_id` names, who to write to, and what it must send when.

    Its obligations: one file per period (`cadence`) for each of `tables`, due on `due_day` (monthly: that
    day of the following month; weekly: that weekday of the following week, 1 = Monday; daily: the next day).
    Periods before `obligations_from` are owed nothing."""

    code = models.CharField(max_length=50, unique=True, help_text="What uploads carry as dist_id.")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    contact_emails = models.JSONField(default=list, blank=True, help_text="Who receives the reminders.")
    tables = models.ManyToManyField(
        ImportTable, blank=True, related_name="distributors", help_text="The import tables it must send."
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY)
    due_day = models.PositiveSmallIntegerField(
        default=10, help_text="Monthly: day 1-28 of the following month; weekly: weekday 1-7 (Monday first)."
    )
    obligations_from = models.DateField(
        null=True,
        blank=True,
        help_text="The first period owed; empty: from the day the distributor was added.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})" if self.name else self.code


class ImportJob(models.Model):
    batch_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    table = models.ForeignKey(
        ImportTable, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    table_name = models.CharField(max_length=63, blank=True, help_text="The table's name when the job ran.")
    original_filename = models.CharField(max_length=255, blank=True)
    source_name = models.CharField(max_length=500, blank=True, help_text="The upload, or ZIP and member.")
    stored_filename = models.CharField(
        max_length=500, blank=True, help_text="Server-side path under UPLOAD_DIR."
    )
    file_size = models.BigIntegerField(default=0)
    dist_id = models.CharField(max_length=50, blank=True, db_index=True)
    distributor = models.ForeignKey(
        Distributor, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    content_sha256 = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="SHA-256 of the stored file, to catch re-sent files.",
    )
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.BOTH)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    status = models.PositiveSmallIntegerField(
        choices=JobStatus.choices, default=JobStatus.UPLOADED, db_index=True
    )

    total_rows = models.PositiveBigIntegerField(default=0)
    processed_rows = models.PositiveBigIntegerField(default=0)
    success_count = models.PositiveBigIntegerField(default=0)
    error_count = models.PositiveBigIntegerField(default=0)
    duplicate_count = models.PositiveBigIntegerField(
        default=0, help_text="updated + skipped (older clients)."
    )
    inserted_count = models.PositiveBigIntegerField(default=0, help_text="New rows written.")
    updated_count = models.PositiveBigIntegerField(
        default=0, help_text="Rows already in the table updated in place."
    )
    skipped_count = models.PositiveBigIntegerField(
        default=0, help_text="Rows not written because their key was there already (on_duplicate=skip)."
    )
    repeated_count = models.PositiveBigIntegerField(
        default=0, help_text="Rows whose unique key repeats an earlier row of the same file."
    )

    error_message = models.TextField(blank=True, help_text="Why the file as a whole failed, in plain words.")
    error_code = models.CharField(max_length=50, blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="The first row errors.")
    errors_file = models.CharField(
        max_length=500, blank=True, help_text="Every rejected row, as CSV: a path relative to MEDIA_ROOT."
    )
    warnings = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs of the import started.")
    deliveries = models.PositiveSmallIntegerField(
        default=0, help_text="Times the import task was handed to the broker (queued or re-queued)."
    )
    archive_status = models.CharField(max_length=10, choices=ArchiveStatus.choices, blank=True)
    archive_file_id = models.CharField(max_length=500, blank=True)
    archive_url = models.CharField(max_length=500, blank=True)
    archive_error = models.TextField(blank=True)
    archive_attempts = models.PositiveSmallIntegerField(default=0)
    archived_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    error_summary = models.JSONField(
        default=list,
        blank=True,
        help_text="Row errors grouped by column and problem, with counts and examples.",
    )
    upload_kept_until = models.DateTimeField(
        null=True, blank=True, help_text="The stored upload is kept until then (dry runs, failed jobs)."
    )

    attempts_before_retry = models.PositiveSmallIntegerField(
        default=0,
        help_text="attempts when the job was last retried: each retry gets Q_MAX_ATTEMPTS runs of its own.",
    )
    deliveries_before_retry = models.PositiveSmallIntegerField(
        default=0, help_text="deliveries when the job was last retried (its own Q_MAX_ATTEMPTS deliveries)."
    )

    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revert_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="job_status_updated")]

    def __str__(self) -> str:
        return f"{self.original_filename or self.table_name} ({self.get_status_display()})"

    @property
    def status_label(self) -> str:
        return JobStatus(self.status).label

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class ImportBatch(models.Model):
    """One submission: its files are the ImportJobs with its batch_id. Holds what belongs to the batch as a
    whole (where it came from, the warnings about what it did not take)."""

    batch_id = models.UUIDField(unique=True)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.BOTH)
    source = models.CharField(max_length=10, choices=BatchSource.choices, default=BatchSource.UPLOAD)
    dist_id = models.CharField(max_length=50, blank=True)
    distributor = models.ForeignKey(
        Distributor, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches"
    )
    forced = models.BooleanField(
        default=False, help_text="Submitted with force=true: re-sent files imported."
    )
    table_name = models.CharField(
        max_length=63, blank=True, help_text="The table the submission named; empty when chosen by file name."
    )
    warnings = models.JSONField(default=list, blank=True, help_text="Skipped ZIP members and other notes.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.batch_id} ({self.get_source_display()})"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DataExport(models.Model):
    """A data page export too big to answer in the request: written by a django-q2 task, then downloaded."""

    table_name = models.CharField(max_length=63)
    fmt = models.CharField(max_length=10)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    file = models.CharField(max_length=500, blank=True, help_text="Relative to MEDIA_ROOT.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.table_name}.{self.fmt} ({self.status})"


class JobHeartbeat(models.Model):
    """A running import's sign of life and progress, written after every chunk on a connection of its own
    (the import's transaction hides its own writes until it commits); removed when the job ends."""

    # No database constraint: a foreign key check would wait for the lock the import holds on the job row.
    job = models.OneToOneField(
        ImportJob, primary_key=True, on_delete=models.CASCADE, related_name="heartbeat", db_constraint=False
    )
    beat_at = models.DateTimeField()
    processed_rows = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.processed_rows} rows at {self.beat_at:%H:%M:%S}"


class RowVersion(models.Model):
    """A row of a physical table as it was before a job updated it, so that reverting the job restores it.

    Written in SQL (INSERT ... SELECT) by the loader, once per job and row; `data` holds the configured
    columns as canonical text (JSON object; null for NULL)."""

    # No database constraint: the loader writes these in bulk SQL, and its own tests write for bare job ids.
    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="row_versions", db_constraint=False
    )
    table_name = models.CharField(max_length=63)
    row_id = models.BigIntegerField()
    previous_job_id = models.BigIntegerField(null=True, db_index=True)
    previous_imported_at = models.DateTimeField(null=True)
    data = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "row_id"], name="row_version_once_per_job")]

    def __str__(self) -> str:
        return f"{self.table_name}#{self.row_id} before job {self.job_id}"


class ReminderKind(models.TextChoices):
    MISSING = "missing", "Missing"
    LATE = "late", "Late"
    DIGEST = "digest", "Staff digest"


class Reminder(models.Model):
    """An e-mail the reminder schedule sent, recorded so that none goes twice for the same obligation and
    period (the digest: once per day)."""

    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    distributor = models.ForeignKey(
        Distributor, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    table_name = models.CharField(max_length=63, blank=True)
    period = models.CharField(
        max_length=10, help_text="2026-10, 2026-W43 or 2026-10-05; the digest: its day."
    )
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "distributor", "table_name", "period"], name="reminder_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.distributor_id} {self.table_name} {self.period}"


class JobPeriodTotal(models.Model):
    """What a complete job's rows hold for one day of its period column: the row count and the exact amount
    total (the amount role), written with the summary in the import's transaction. The compliance view adds
    these up per month, week or day."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="period_totals")
    day = models.DateField()
    rows = models.PositiveBigIntegerField(default=0)
    amount = models.CharField(
        max_length=80, blank=True, help_text="Exact decimal text; empty: no amount role."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="job_period_total_once")]

    def __str__(self) -> str:
        return f"job {self.job_id} {self.day}: {self.rows} rows"


class InboxKind(models.TextChoices):
    FOLDER = "folder", "Inbox folder"
    MAIL = "mail", "Mailbox"


class InboxClaimState(models.TextChoices):
    CLAIMED = "claimed", "Claimed"  # taken by one scanner, its batch not yet submitted
    SUBMITTED = "submitted", "Submitted"  # its batch exists; waiting for the batch's jobs to end
    DONE = "done", "Done"  # the file moved to processed/ or failed/; the message filed (and answered)
    REJECTED = "rejected", "Rejected"  # a message from an unknown sender or with no usable attachment


class InboxClaim(models.Model):
    """One inbox file (by path + size + mtime) or one mailbox message (by Message-ID), claimed in the
    database before it is read, so that it is imported once: a second scanner's claim of the same key fails
    on the unique constraint, and a scanner that died after its claim is resumed from it. `batch_id` is
    chosen at claim time and given to the batch, so a resumed claim can tell whether its batch was made."""

    kind = models.CharField(max_length=10, choices=InboxKind.choices)
    key = models.CharField(
        max_length=64, help_text="SHA-256 of the identity (path, size, mtime; Message-ID)."
    )
    source = models.CharField(
        max_length=100, help_text="The inbox folder's distributor code, or the mailbox's folder name."
    )
    name = models.CharField(
        max_length=1000, help_text="The file's path in its folder; the message's subject."
    )
    size = models.PositiveBigIntegerField(null=True, blank=True)
    mtime_ns = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    sender = models.CharField(max_length=320, blank=True)
    distributor = models.ForeignKey(
        Distributor, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_claims"
    )
    batch_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    state = models.CharField(max_length=10, choices=InboxClaimState.choices, default=InboxClaimState.CLAIMED)
    claimed_by = models.CharField(max_length=200, help_text="host:pid:start of the scanner that holds it.")
    claimed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    result = models.JSONField(default=dict, blank=True, help_text="The outcome written beside it / replied.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-claimed_at"]
        indexes = [models.Index(fields=["kind", "state"], name="inbox_claim_kind_state")]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="inbox_claim_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}/{self.name} ({self.state})"


class InboxScan(models.Model):
    """What the last scan of one inbox folder or of the mailbox saw, for the inbox page: when it ran, what it
    took, the files still settling, and its last error (kept until a scan succeeds)."""

    kind = models.CharField(max_length=10, choices=InboxKind.choices)
    source = models.CharField(max_length=100, help_text="The distributor code, or the mailbox's folder name.")
    last_scan_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_taken = models.PositiveIntegerField(default=0, help_text="Files or messages the last scan took.")
    waiting = models.JSONField(
        default=list, blank=True, help_text='Files still settling: [{"name", "size", "mtime", "settles_at"}].'
    )
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "source"]
        constraints = [models.UniqueConstraint(fields=["kind", "source"], name="inbox_scan_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}"
