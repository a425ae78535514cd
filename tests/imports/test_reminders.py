"""Reminders by e-mail against a real SMTP server on loopback (aiosmtpd): what each distributor and the staff
receive, that nothing goes twice (run after run, worker beside worker), that a failed send is retried, the
daily schedule and its task, and `manage.py compliance_report`."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Success

from benchmarks.processes import free_port
from imports.models import Distributor, Reminder, ReminderKind
from imports.services.reminders import (
    REMINDERS_SCHEDULE,
    lookback_periods,
    month_periods,
    reminders_at_parse,
    reminders_schedule_ensure,
    reminders_send,
)
from imports.tasks import reminders_task
from tableconfig.models import ImportTable
from tests.compliance_scenario import at, send, stock_file
from tests.smtp_server import smtp_server_run

D = dt.date
ROOT = Path(__file__).resolve().parents[2]
TODAY = D(2026, 11, 20)  # October's files were due on 10 November
CONTACTS = {"31001": ["north@example.com"], "31002": ["south@example.com", "south2@example.com"]}


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback (tests/smtp_server.py), and the staff digest's address."""
    settings.COMPLIANCE_STAFF_EMAILS = ["staff@example.com"]
    yield from smtp_server_run(settings)


@pytest.fixture
def contacts(three_distributors):  # noqa: F811
    """North and South have contacts, East has none until a test gives it some."""
    for d in three_distributors:
        d.contact_emails = CONTACTS.get(d.code, [])
        d.save()
    return {d.code: d for d in three_distributors}


def _east_contacts(contacts):
    east = contacts["31003"]
    east.contact_emails = ["east@example.com"]
    east.save()
    return east


@pytest.mark.django_db(transaction=True)
def test_reminders_one_mail_per_missing_obligation(smtp, demo_tables):
    """A distributor that owes two files for one month gets two e-mails, each about one file."""
    owing = Distributor.objects.create(
        code="88", name="Owing", contact_emails=["owing@example.com"], obligations_from=D(2026, 10, 1)
    )
    owing.tables.set(ImportTable.objects.filter(table_name__in=["sales", "stocks"]))

    report = reminders_send(today=TODAY)

    mails = smtp.to("owing@example.com")
    assert sorted(m["Subject"] for m in mails) == [
        "Owing: we have not received your sales file for October 2026",
        "Owing: we have not received your stocks file for October 2026",
    ]
    assert all(smtp.body(m).count("- your ") == 1 for m in mails)
    assert report.reminded == 2 and len(report.sent) == 2
    reminders_send(today=TODAY)
    assert len(smtp.to("owing@example.com")) == 2


@pytest.mark.django_db(transaction=True)
def test_reminders_send_mails_each_missing_file_once_and_nothing_on_the_next_run(smtp, contacts):
    _east_contacts(contacts)

    report = reminders_send(today=TODAY)

    east = smtp.to("east@example.com")
    assert len(east) == 1
    assert east[0]["Subject"] == "East: we have not received your stocks file for October 2026"
    assert east[0]["From"] == "importhub@example.com"
    body = smtp.body(east[0])
    assert "Dear East," in body
    assert "We have not received the following file from you (distributor 31003):" in body
    assert "- your stocks file for October 2026, due 10 November 2026" in body
    assert "sales" not in body  # East's sales files all came on time
    # South's September sales came on 14 October, after 10 October: said once, for information.
    south = smtp.to("south@example.com")
    assert len(south) == 1 and smtp.to("south2@example.com") == south
    assert south[0]["Subject"] == "South: 1 file received after the due date"
    assert "- your sales file for September 2026, due 10 October 2026, received 14 October 2026" in smtp.body(
        south[0]
    )
    assert "We have not received" not in smtp.body(south[0])
    assert smtp.to("north@example.com") == []  # everything on time (October's rejected rows are not mailed)
    assert [m.distributor_code for m in report.sent] == ["31002", "31003"]
    assert set(
        Reminder.objects.exclude(kind=ReminderKind.DIGEST).values_list(
            "kind", "distributor__code", "table_name", "period"
        )
    ) == {("missing", "31003", "stocks", "2026-10"), ("late", "31002", "sales", "2026-09")}
    assert len(smtp.to("staff@example.com")) == 1

    again = reminders_send(today=TODAY)
    assert len(smtp.messages) == 3  # two distributors and the digest, nothing more
    assert again.sent == [] and again.already_sent == 2 and again.digest is None
    # The next day: still nothing for the distributors, a new digest for the staff.
    reminders_send(today=TODAY + dt.timedelta(days=1))
    assert len(smtp.to("east@example.com")) == 1
    assert len(smtp.to("staff@example.com")) == 2


@pytest.mark.django_db(transaction=True)
def test_reminders_digest_lists_everyone_and_names_distributors_without_contacts(smtp, contacts):
    contacts["31001"].is_active = False  # an inactive distributor is not looked at
    contacts["31001"].save()
    Reminder.objects.create(
        kind="missing", distributor=contacts["31001"], table_name="sales", period="2026-10", recipients=[]
    )

    report = reminders_send(today=TODAY)

    assert smtp.to("east@example.com") == []
    assert [d.code for d in report.no_contacts] == ["31003"]
    (digest,) = smtp.to("staff@example.com")
    assert digest["Subject"] == "importhub compliance digest for 20 November 2026: 1 missing, 1 late"
    body = smtp.body(digest)
    assert (
        "- 31003 East: stocks for October 2026, due 10 November 2026; not reminded: no contact e-mail" in body
    )
    assert (
        "- 31002 South: sales for September 2026, due 10 October 2026, received 14 October 2026; reminded today"
        in body
    )
    assert "Distributors without a contact e-mail (not reminded): 31003 East" in body
    assert "North" not in body and "31001" not in body
    assert len(smtp.messages) == 2  # South and the digest
    digest_row = Reminder.objects.get(kind=ReminderKind.DIGEST)
    assert (digest_row.distributor, digest_row.period, digest_row.recipients) == (
        None,
        "2026-11-20",
        ["staff@example.com"],
    )


@pytest.mark.django_db(transaction=True)
def test_reminders_with_the_smtp_server_down_are_not_recorded_and_the_next_run_sends_them(
    smtp, contacts, settings
):
    _east_contacts(contacts)
    settings.EMAIL_PORT = free_port()  # nothing listens there

    down = reminders_send(today=TODAY)

    assert down.sent == [] and down.digest is None
    assert set(down.failed) == {"31002", "31003", "digest"}
    assert "ConnectionRefusedError" in down.failed["31003"]
    assert Reminder.objects.count() == 0  # the claims were given back
    assert smtp.messages == []

    settings.EMAIL_PORT = smtp.port
    up = reminders_send(today=TODAY)
    assert up.failed == {}
    assert len(smtp.to("east@example.com")) == 1 and len(smtp.to("south@example.com")) == 1
    assert len(smtp.to("staff@example.com")) == 1
    assert Reminder.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_reminders_two_workers_at_once_mail_each_file_and_the_digest_once(smtp, contacts):
    _east_contacts(contacts)
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        from django.db import connection

        try:
            start.wait(timeout=10)
            reports.append(reminders_send(today=TODAY))
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(smtp.to("east@example.com")) == 1
    assert len(smtp.to("south@example.com")) == 1
    assert len(smtp.to("staff@example.com")) == 1
    assert len(smtp.messages) == 3
    assert sum(r.reminded for r in reports) == 2


@pytest.mark.django_db(transaction=True)
def test_reminders_a_file_that_arrives_is_no_longer_asked_for(smtp, contacts):
    _east_contacts(contacts)
    send("31003", "stock_31003_10.csv", stock_file(15), on=at(11, 18))  # late, but here

    reminders_send(today=TODAY)

    (east,) = smtp.to("east@example.com")
    assert east["Subject"] == "East: 1 file received after the due date"
    body = smtp.body(east)
    assert "- your stocks file for October 2026, due 10 November 2026, received 18 November 2026" in body
    assert "We have not received" not in body


def test_lookback_is_the_last_three_periods_whose_due_date_passed():
    keys = [p.key for p in lookback_periods(cadence="monthly", due_day=10, today=D(2026, 11, 10))]
    assert keys == ["2026-07", "2026-08", "2026-09"]  # October is due today: not yet missing
    keys = [p.key for p in lookback_periods(cadence="monthly", due_day=10, today=D(2026, 11, 11))]
    assert keys == ["2026-08", "2026-09", "2026-10"]
    keys = [p.key for p in lookback_periods(cadence="weekly", due_day=3, today=D(2026, 10, 28))]
    assert keys == ["2026-W40", "2026-W41", "2026-W42"]
    keys = [p.key for p in lookback_periods(cadence="daily", due_day=1, today=D(2026, 3, 2))]
    assert keys == ["2026-02-26", "2026-02-27", "2026-02-28"]
    weeks = [p.key for p in month_periods(cadence="weekly", due_day=1, month=D(2026, 10, 1))]
    assert weeks == ["2026-W41", "2026-W42", "2026-W43", "2026-W44"]  # the weeks whose Monday is in October


# --- The daily schedule, its task, and a real qcluster --------------------------------------------------------


@pytest.fixture
def stock_senders(demo_tables):
    """Two monthly stock senders over the last three periods due by the real today (stock files have no period
    column: each covers the month before its upload): Alpha sent everything, Beta never sent the last one."""
    today = timezone.localdate()
    periods = lookback_periods(cadence="monthly", due_day=10, today=today)
    stocks = ImportTable.objects.get(table_name="stocks")
    made = {}
    for code, name in (("41001", "Alpha"), ("41002", "Beta")):
        d = Distributor.objects.create(
            code=code,
            name=name,
            due_day=10,
            obligations_from=periods[0].start,
            contact_emails=[f"{name.lower()}@example.com"],
        )
        d.tables.set([stocks])
        made[code] = d
    for code in made:
        for n, period in enumerate(periods):
            if code == "41002" and n == 2:
                continue
            on = timezone.make_aware(dt.datetime.combine(period.due - dt.timedelta(days=5), dt.time(9)))
            send(code, f"stock_{code}_{period.key}.csv", stock_file(4 + n), on=on)
    return periods


@pytest.mark.django_db(transaction=True)
def test_reminders_task_twice_sends_one_mail_per_missing_file(smtp, stock_senders):
    first = reminders_task()
    second = reminders_task()

    (beta,) = smtp.to("beta@example.com")
    missing = stock_senders[2]
    month = f"{missing.start:%B %Y}"
    assert beta["Subject"] == f"Beta: we have not received your stocks file for {month}"
    assert f"- your stocks file for {month}, due {missing.due.day} {missing.due:%B %Y}" in smtp.body(beta)
    assert smtp.to("alpha@example.com") == []
    assert len(smtp.messages) == 2  # Beta and the staff digest
    assert first.startswith("sent 1 e-mail for 1 file, 0 reminded before") and first.endswith("digest sent")
    assert second == "sent 0 e-mails for 0 files, 1 reminded before"


@pytest.mark.django_db(transaction=True)
def test_reminders_schedule_is_daily_at_reminders_at_and_moves_when_it_changes(settings):
    settings.REMINDERS_AT = "06:45"
    reminders_schedule_ensure()
    schedule = Schedule.objects.get(name=REMINDERS_SCHEDULE)
    assert (schedule.func, schedule.schedule_type) == ("imports.tasks.reminders_task", Schedule.DAILY)
    local = timezone.localtime(schedule.next_run)
    assert (local.hour, local.minute) == (6, 45)
    assert timezone.now() < schedule.next_run <= timezone.now() + dt.timedelta(days=1)

    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - dt.timedelta(minutes=5))
    kept = Schedule.objects.get(pk=schedule.pk).next_run
    settings.REMINDERS_AT = f"{timezone.localtime(kept):%H:%M}"
    reminders_schedule_ensure()  # same time: a run that is due stays due
    assert Schedule.objects.get(pk=schedule.pk).next_run == kept

    settings.REMINDERS_AT = "23:05"
    reminders_schedule_ensure()
    moved = timezone.localtime(Schedule.objects.get(pk=schedule.pk).next_run)
    assert (moved.hour, moved.minute) == (23, 5) and moved > timezone.localtime()
    assert Schedule.objects.filter(name=REMINDERS_SCHEDULE).count() == 1


@pytest.mark.parametrize(
    ("text", "ok"),
    [("07:00", True), ("7:05", True), ("23:59", True), ("24:00", False), ("07:60", False), ("7am", False)],
    ids=["07:00", "7:05", "23:59", "24:00", "07:60", "7am"],
)
def test_reminders_at_parse(text, ok):
    if ok:
        assert reminders_at_parse(text).strftime("%H:%M") == f"{int(text.split(':')[0]):02d}:{text[-2:]}"
    else:
        with pytest.raises(ImproperlyConfigured, match="REMINDERS_AT: .* is not a time of day like 07:00"):
            reminders_at_parse(text)


def test_reminders_at_bad_value_stops_the_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "importhub.settings.test",
            "REMINDERS_AT": "7 o'clock",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert (
        'ImproperlyConfigured: REMINDERS_AT: "7 o\'clock" is not a time of day like 07:00 (HH:MM, 00:00-23:59).'
        in result.stderr
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_reminders_schedule_in_a_real_qcluster_mails_once(smtp, stock_senders, tmp_path):
    from tests.reliability.cluster import QCluster, wait_for

    schedule = Schedule.objects.get(name=REMINDERS_SCHEDULE)  # made by migrate's post_migrate
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - dt.timedelta(seconds=1))
    cluster = QCluster(
        tmp_path / "qcluster.log",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        COMPLIANCE_STAFF_EMAILS="staff@example.com",
        DEFAULT_FROM_EMAIL="importhub@example.com",
        Q_WORKERS="1",
    )
    try:

        def runs() -> int:
            return Success.objects.filter(func="imports.tasks.reminders_task").count()

        wait_for(lambda: runs() == 1, timeout=90, what="the first scheduled reminders run", logs=(cluster,))
        assert len(smtp.to("beta@example.com")) == 1 and len(smtp.messages) == 2
        assert timezone.localtime(Schedule.objects.get(pk=schedule.pk).next_run) > timezone.localtime()
        # Due again (as tomorrow): the second run finds everything reminded.
        Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - dt.timedelta(seconds=1))
        wait_for(lambda: runs() == 2, timeout=90, what="the second scheduled reminders run", logs=(cluster,))
    finally:
        cluster.stop()
    time.sleep(0.2)
    assert len(smtp.to("beta@example.com")) == 1
    assert len(smtp.messages) == 2
    assert Success.objects.filter(func="imports.tasks.reminders_task").latest("stopped").result == (
        "sent 0 e-mails for 0 files, 1 reminded before"
    )


# --- manage.py compliance_report ---------------------------------------------------------------------------


def _report(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("compliance_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_compliance_report_prints_the_month_missing_late_and_with_errors(contacts):
    out, _ = _report("--period", "2026-10")
    lines = out.splitlines()
    assert lines[0].split() == ["distributor", "name", "table", "period", "due", "state", "received",
                                "rejected", "rows", "reminded"]  # fmt: skip
    assert lines[2].split() == ["31002", "South", "sales", "October", "2026", "10", "November", "2026",
                                "received", "with", "errors", "5", "November", "2026", "2"]  # fmt: skip
    assert lines[3].split() == ["31003", "East", "stocks", "October", "2026", "10", "November", "2026",
                                "missing"]  # fmt: skip
    assert lines[4] == "October 2026: 1 missing, 0 late, 1 received with errors."
    assert len(lines) == 5

    out, _ = _report("--period", "2026-09", "--format", "csv")
    assert out.splitlines() == [
        "distributor,name,table,period,due,state,received,rejected rows,reminded",
        "31002,South,sales,September 2026,10 October 2026,late,14 October 2026,0,",
    ]
    out, _ = _report("--period", "2026-10", "--table", "stocks", "--format", "csv")
    assert out.splitlines()[1:] == ["31003,East,stocks,October 2026,10 November 2026,missing,,,"]
    out, _ = _report("--period", "2026-08")
    assert out == "August 2026: no missing, late or with-errors files.\n"


@pytest.mark.django_db(transaction=True)
def test_compliance_report_mail_sends_the_same_reminders_once(smtp, contacts):
    _east_contacts(contacts)
    out, err = _report("--period", "2026-10", "--mail", "--format", "csv")

    (east,) = smtp.to("east@example.com")
    assert "- your stocks file for October 2026, due 10 November 2026" in smtp.body(east)
    assert smtp.messages == [east]  # October: South's sales had rejected rows, nothing late; no digest
    assert err == "Mail: sent 1 e-mail for 1 file, 0 reminded before.\n"
    reminded = f"{timezone.localdate().day} {timezone.localdate():%B %Y}"
    assert out.splitlines()[2] == f"31003,East,stocks,October 2026,10 November 2026,missing,,,{reminded}"

    _, err = _report("--period", "2026-10", "--mail")
    assert err == "Mail: sent 0 e-mails for 0 files, 1 reminded before.\n"
    reminders_send(today=TODAY)  # the schedule: South's late September file, never East's October again
    assert len(smtp.to("east@example.com")) == 1
    assert len(smtp.to("south@example.com")) == 1


@pytest.mark.django_db
def test_compliance_report_refuses_a_bad_period():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--period: '2026-13' is not a month like 2026-10."):
        _report("--period", "2026-13")
