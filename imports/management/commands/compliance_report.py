"""The missing, late and with-errors files of one month, as a table or CSV; `--mail` sends their reminders."""

from __future__ import annotations

import csv

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from importhub.errors import ImportHubError
from imports.models import Reminder
from imports.services.compliance import CellState, compliance_grid, month_parse
from imports.services.reminders import day_words, month_periods, period_words, reminders_send

SHOWN = (CellState.MISSING, CellState.LATE, CellState.RECEIVED_WITH_ERRORS)
COLUMNS = ("distributor", "name", "table", "period", "due", "state", "received", "rejected rows", "reminded")


class Command(BaseCommand):
    help = (
        "List the missing, late and with-errors files of a month (every cadence's periods that start in it); "
        "--mail also e-mails the distributors' reminders, as the daily schedule does (never twice)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="The month, like 2026-10.")
        parser.add_argument("--table", default=None, help="Only this import table.")
        parser.add_argument("--format", default="text", choices=["text", "csv"])
        parser.add_argument("--mail", action="store_true", help="E-mail the reminders not sent before.")

    def handle(self, *args, **options):
        try:
            month = month_parse(options["period"], name="--period")
        except ImportHubError as exc:
            raise CommandError(exc.message) from exc
        today = timezone.localdate()
        report = None
        if options["mail"]:
            report = reminders_send(today=today, month=month, table_name=options["table"], digest=False)
        rows = self._rows(month, options["table"], today)
        if options["format"] == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        else:
            self._table(rows, month)
        if report is not None:
            self.stderr.write(f"Mail: {report}.")
            for code, error in report.failed.items():
                self.stderr.write(f"Mail to {code} failed (the next run tries again): {error}")

    def _rows(self, month, table_name, today) -> list[tuple]:
        grid = compliance_grid(month_from=month, month_to=month, table_name=table_name, today=today)
        rows = []
        for line in grid.lines:
            distributor = line.distributor
            keys = {
                p.key
                for p in month_periods(cadence=distributor.cadence, due_day=distributor.due_day, month=month)
            }
            reminded = {
                (r.table_name, r.period): r.sent_at
                for r in Reminder.objects.filter(distributor=distributor, table_name=line.table_name)
            }
            for cell in line.cells:
                if cell.period.key not in keys or cell.state not in SHOWN:
                    continue
                sent_at = reminded.get((line.table_name, cell.period.key))
                rows.append(
                    (
                        distributor.code,
                        distributor.name,
                        line.table_name,
                        period_words(cell.period, cadence=distributor.cadence),
                        day_words(cell.period.due),
                        cell.state.replace("_", " "),
                        day_words(timezone.localdate(cell.received_at)) if cell.received_at else "",
                        str(cell.rejected_rows) if cell.received_at else "",
                        day_words(timezone.localdate(sent_at)) if sent_at else "",
                    )
                )
        return rows

    def _table(self, rows, month) -> None:
        if not rows:
            self.stdout.write(f"{month:%B %Y}: no missing, late or with-errors files.")
            return
        widths = [max(len(str(v)) for v in column) for column in zip(COLUMNS, *rows, strict=False)]
        for values in (COLUMNS, tuple("-" * w for w in widths), *rows):
            self.stdout.write(
                "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()
            )
        counts = {state: sum(1 for r in rows if r[5] == state.replace("_", " ")) for state in SHOWN}
        self.stdout.write(
            f"{month:%B %Y}: {counts[CellState.MISSING]} missing, {counts[CellState.LATE]} late, "
            f"{counts[CellState.RECEIVED_WITH_ERRORS]} received with errors."
        )
