"""Reminders by e-mail: each active distributor's missing files (and those that came late) mailed to its contacts
once per obligation and period, and a daily digest of everyone's to the staff.

The rules, in one place:
- What is looked at: the last LOOKBACK_PERIODS periods of the distributor's cadence whose due date has passed
  (never the whole history), or, for `compliance_report --mail`, the periods that start in one month. Their
  states come from the compliance rules (imports.services.compliance): `missing` asks for the file, `late`
  tells, for information, that it came after its due date.
- One e-mail per obligation (table x period) not mailed before, to all the distributor's contacts. Each is
  claimed first, as a Reminder row (kind, distributor, table, period; unique), so two workers running at once
  never both mail it; when sending fails, the claims are deleted and the next run tries again.
- Distributors without contact e-mails are not mailed (the digest names them); inactive ones are not looked at.
- The staff digest (COMPLIANCE_STAFF_EMAILS) lists every missing and late file of the look-back at most once
  a day: a Reminder of kind digest, no distributor, period = the day. A NULL distributor escapes the unique
  constraint, so that claim is a check-and-insert under a lock (MySQL's GET_LOCK; SQLite's transactions take
  the write lock up front).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import re
import smtplib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ..models import Cadence, Distributor, Reminder, ReminderKind
from .compliance import CellState, Period, distributor_cells, period_of, periods_between

logger = logging.getLogger(__name__)

LOOKBACK_PERIODS = 3
REMINDERS_SCHEDULE = "importhub: e-mail reminders of missing files"
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SEND_ERRORS = (smtplib.SMTPException, OSError)


def reminders_at_parse(text: str) -> dt.time:
    """REMINDERS_AT ('07:00', server time zone) as a time; anything else stops the start."""
    match = _TIME_RE.match(str(text).strip())
    if not match:
        raise ImproperlyConfigured(
            f"REMINDERS_AT: {text!r} is not a time of day like 07:00 (HH:MM, 00:00-23:59)."
        )
    return dt.time(int(match[1]), int(match[2]))


def reminders_next_run(*, at: dt.time, now: dt.datetime | None = None) -> dt.datetime:
    """The next moment, after `now`, that the server's clock shows `at`."""
    local = timezone.localtime(now or timezone.now())
    candidate = timezone.make_aware(dt.datetime.combine(local.date(), at))
    if candidate <= local:
        candidate = timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=1), at))
    return candidate


def reminders_schedule_ensure(**kwargs) -> None:
    """Keep one daily django-q2 schedule that runs the reminders at REMINDERS_AT (server time zone). A run that
    is due stays due; the next run moves only when REMINDERS_AT changed."""
    from django_q.models import Schedule

    at = reminders_at_parse(settings.REMINDERS_AT)
    schedule, created = Schedule.objects.update_or_create(
        name=REMINDERS_SCHEDULE,
        defaults={"func": "imports.tasks.reminders_task", "schedule_type": Schedule.DAILY, "repeats": -1},
    )
    shown = (
        timezone.localtime(schedule.next_run).time().replace(second=0, microsecond=0)
        if schedule.next_run
        else None
    )
    if created or shown != at:
        schedule.next_run = reminders_next_run(at=at)
        schedule.save(update_fields=["next_run"])


@dataclasses.dataclass(frozen=True)
class Obligation:
    """One table x period of a distributor that is missing, or came late."""

    distributor: Distributor
    table_name: str
    period: Period
    state: str  # CellState.MISSING or CellState.LATE
    received_at: dt.datetime | None = None

    @property
    def kind(self) -> str:
        return ReminderKind.MISSING if self.state == CellState.MISSING else ReminderKind.LATE

    @property
    def period_words(self) -> str:
        return period_words(self.period, cadence=self.distributor.cadence)

    @property
    def due_words(self) -> str:
        return day_words(self.period.due)

    @property
    def received_words(self) -> str:
        return day_words(timezone.localdate(self.received_at)) if self.received_at else ""


def day_words(day: dt.date) -> str:
    """10 November 2026."""
    return f"{day.day} {day:%B %Y}"


def period_words(period: Period, *, cadence: str) -> str:
    """October 2026; week 43 of 2026 (19 to 25 October 2026); 5 October 2026."""
    if cadence == Cadence.MONTHLY:
        return f"{period.start:%B %Y}"
    if cadence == Cadence.WEEKLY:
        year, week, _ = period.start.isocalendar()
        return f"week {week} of {year} ({day_words(period.start)} to {day_words(period.end)})"
    return day_words(period.start)


def lookback_periods(
    *, cadence: str, due_day: int, today: dt.date, count: int = LOOKBACK_PERIODS
) -> list[Period]:
    """The last `count` periods whose due date has passed by `today`, oldest first."""
    chosen: list[Period] = []
    period = period_of(cadence=cadence, day=today, due_day=due_day)
    while len(chosen) < count:
        if today > period.due:
            chosen.append(period)
        period = period_of(cadence=cadence, day=period.start - dt.timedelta(days=1), due_day=due_day)
    return chosen[::-1]


def month_periods(*, cadence: str, due_day: int, month: dt.date) -> list[Period]:
    """The periods of `cadence` that start in `month` (a week belongs to the month of its Monday)."""
    end = period_of(cadence=Cadence.MONTHLY, day=month).end
    periods = periods_between(cadence=cadence, start=month.replace(day=1), end=end, due_day=due_day)
    return [p for p in periods if (p.start.year, p.start.month) == (month.year, month.month)]


def reminder_obligations(
    *, today: dt.date, month: dt.date | None = None, table_name: str | None = None
) -> dict[Distributor, list[Obligation]]:
    """Every active distributor's missing and late obligations in the look-back (or in `month`), missing first;
    distributors with none are left out."""
    found: dict[Distributor, list[Obligation]] = {}
    for distributor in Distributor.objects.filter(is_active=True).prefetch_related("tables").order_by("code"):
        tables = sorted(t.table_name for t in distributor.tables.all())
        if table_name:
            tables = [t for t in tables if t == table_name]
        cadence, due_day = distributor.cadence, distributor.due_day
        if month:
            periods = month_periods(cadence=cadence, due_day=due_day, month=month)
        else:
            periods = lookback_periods(cadence=cadence, due_day=due_day, today=today)
        if not tables or not periods:
            continue
        keys = {p.key for p in periods}
        cells = distributor_cells(
            distributor=distributor, tables=tables, start=periods[0].start, end=periods[-1].end, today=today
        )
        items = [
            Obligation(distributor, table, cell.period, cell.state, cell.received_at)
            for table, table_cells in cells.items()
            for cell in table_cells
            if cell.period.key in keys and cell.state in (CellState.MISSING, CellState.LATE)
        ]
        if items:
            found[distributor] = sorted(
                items, key=lambda o: (o.state != CellState.MISSING, o.period, o.table_name)
            )
    return found


@dataclasses.dataclass
class Mail:
    """An e-mail the run sent."""

    to: list[str]
    subject: str
    distributor_code: str = ""  # empty: the staff digest
    obligations: list[Obligation] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ReminderReport:
    today: dt.date
    sent: list[Mail] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # distributor code (or "digest") -> error
    no_contacts: list[Distributor] = dataclasses.field(default_factory=list)
    already_sent: int = 0  # obligations mailed by an earlier run
    digest: Mail | None = None

    @property
    def reminded(self) -> int:
        return sum(len(m.obligations) for m in self.sent)

    def __str__(self) -> str:
        text = (
            f"sent {_count(len(self.sent), 'e-mail')} for {_count(self.reminded, 'file')}, "
            f"{self.already_sent} reminded before"
        )
        if self.no_contacts:
            text += f", no contacts: {', '.join(d.code for d in self.no_contacts)}"
        if self.failed:
            text += f", failed: {', '.join(self.failed)}"
        return text + (", digest sent" if self.digest else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def reminders_send(
    *,
    today: dt.date | None = None,
    month: dt.date | None = None,
    table_name: str | None = None,
    digest: bool = True,
) -> ReminderReport:
    """Mail each active distributor's missing and late files not mailed before (the look-back, or `month`), then
    the staff digest of the day (`digest`, at most once a day)."""
    today = today or timezone.localdate()
    report = ReminderReport(today)
    obligations = reminder_obligations(today=today, month=month, table_name=table_name)
    mail = get_connection()
    for distributor, items in obligations.items():
        contacts = [e.strip() for e in distributor.contact_emails or [] if isinstance(e, str) and e.strip()]
        if not contacts:
            report.no_contacts.append(distributor)
            continue
        claimed = _claim(distributor, items, contacts)
        report.already_sent += len(items) - len(claimed)
        if not claimed:
            continue
        for item, row in claimed:
            subject = _subject(distributor, [item])
            body = render_to_string(
                "imports/email/reminder.txt",
                {
                    "distributor": distributor,
                    "missing": [item] if item.state == CellState.MISSING else [],
                    "late": [item] if item.state == CellState.LATE else [],
                },
            )
            message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, contacts, connection=mail)
            try:
                message.send()
            except _SEND_ERRORS as exc:
                row.delete()
                report.failed[distributor.code] = f"{type(exc).__name__}: {exc}"
                logger.warning("reminder to %s not sent, will be retried: %s", distributor.code, exc)
                continue
            report.sent.append(Mail(contacts, subject, distributor.code, [item]))
    if digest and settings.COMPLIANCE_STAFF_EMAILS and (obligations or report.no_contacts):
        _digest_send(report, obligations, mail=mail)
    return report


def _claim(
    distributor: Distributor, items: list[Obligation], contacts: list[str]
) -> list[tuple[Obligation, Reminder]]:
    """The obligations this run may mail: each one's Reminder row inserted now; one already there (mailed
    before, or claimed by a worker running at the same time) is left out."""
    claimed = []
    for item in items:
        try:
            with transaction.atomic():
                row = Reminder.objects.create(
                    kind=item.kind,
                    distributor=distributor,
                    table_name=item.table_name,
                    period=item.period.key,
                    recipients=contacts,
                )
        except IntegrityError:
            continue
        claimed.append((item, row))
    return claimed


def _subject(distributor: Distributor, items: list[Obligation]) -> str:
    missing = [o for o in items if o.state == CellState.MISSING]
    who = distributor.name or distributor.code
    if not missing:
        files = "file" if len(items) == 1 else "files"
        return f"{who}: {len(items)} {files} received after the due date"
    if len(missing) == 1:
        return f"{who}: we have not received your {missing[0].table_name} file for {missing[0].period_words}"
    return f"{who}: we have not received {len(missing)} of your files"


@contextlib.contextmanager
def _named_lock(name: str, *, timeout: int = 30):
    """One holder at a time across processes. MySQL: a named lock of this database; SQLite: nothing to do, its
    transactions (BEGIN IMMEDIATE) already take the write lock before the check."""
    if connection.vendor != "mysql":
        yield
        return
    key = f"{connection.settings_dict['NAME']}.{name}"[-64:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [key, timeout])
        if cursor.fetchone()[0] != 1:
            raise TimeoutError(f"could not take the lock {key} in {timeout} s")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [key])


def _digest_claim(day: dt.date, recipients: list[str]) -> Reminder | None:
    with _named_lock("reminder_digest"), transaction.atomic():
        taken = Reminder.objects.filter(
            kind=ReminderKind.DIGEST, distributor__isnull=True, period=day.isoformat()
        ).exists()
        if taken:
            return None
        return Reminder.objects.create(
            kind=ReminderKind.DIGEST,
            distributor=None,
            table_name="",
            period=day.isoformat(),
            recipients=recipients,
        )


def _digest_send(report: ReminderReport, obligations: dict[Distributor, list[Obligation]], *, mail) -> None:
    staff = list(settings.COMPLIANCE_STAFF_EMAILS)
    claim = _digest_claim(report.today, staff)
    if claim is None:
        return
    earlier = {
        (r.distributor_id, r.table_name, r.period, r.kind): r.sent_at
        for r in Reminder.objects.filter(distributor__in=list(obligations)).exclude(kind=ReminderKind.DIGEST)
    }
    reminded_now = {
        (o.distributor.pk, o.table_name, o.period.key) for m in report.sent for o in m.obligations
    }
    lines = []
    for distributor, items in obligations.items():
        for item in items:
            key = (distributor.pk, item.table_name, item.period.key)
            if distributor in report.no_contacts:
                note = "not reminded: no contact e-mail"
            elif key in reminded_now:
                note = "reminded today"
            elif (*key, item.kind) in earlier:
                note = f"reminded {day_words(timezone.localdate(earlier[(*key, item.kind)]))}"
            else:
                note = "not reminded: sending failed, the next run tries again"
            lines.append((item, note))
    missing = [(o, n) for o, n in lines if o.state == CellState.MISSING]
    late = [(o, n) for o, n in lines if o.state == CellState.LATE]
    subject = (
        f"importhub compliance digest for {day_words(report.today)}: {len(missing)} missing, {len(late)} late"
    )
    body = render_to_string(
        "imports/email/digest.txt",
        {
            "today": day_words(report.today),
            "missing": missing,
            "late": late,
            "no_contacts": report.no_contacts,
        },
    )
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, staff, connection=mail).send()
    except _SEND_ERRORS as exc:
        claim.delete()
        report.failed["digest"] = f"{type(exc).__name__}: {exc}"
        logger.warning("staff digest not sent, will be retried: %s", exc)
        return
    report.digest = Mail(staff, subject, "", [o for o, _ in lines])
