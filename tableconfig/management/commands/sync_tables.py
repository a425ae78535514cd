"""Bring physical tables in line with their configuration, or with --check only report what is out of line."""

from django.core.management.base import BaseCommand, CommandError

from importhub.errors import ImportHubError
from tableconfig.models import ImportTable
from tableconfig.services import table_schema_check, table_schema_sync_config


class Command(BaseCommand):
    help = (
        "Compare each configured table (or the named ones) with its physical table and apply what is missing, "
        "including exact storage for tables created before it (binary collation of text columns on "
        "MySQL/MariaDB, decimals kept as text on SQLite). Columns no longer configured are kept. A change that "
        "would shorten, round or reject stored values is refused, quoting some of them. Exits non-zero when a "
        "change is refused, or with --check when any table is out of line."
    )

    def add_arguments(self, parser):
        parser.add_argument("tables", nargs="*", metavar="TABLE", help="Table names (default: every table).")
        parser.add_argument(
            "--check", action="store_true", help="Only report what would change; change nothing."
        )

    def handle(self, *args, tables: list[str], check: bool, **options):
        queryset = ImportTable.objects.order_by("table_name")
        if tables:
            queryset = queryset.filter(table_name__in=tables)
            unknown = sorted(set(tables) - {t.table_name for t in queryset})
            if unknown:
                raise CommandError(f"No configured table named: {', '.join(unknown)}.")
        refused: list[str] = []
        out_of_line: list[str] = []
        for table in queryset:
            name = table.table_name
            try:
                plan = table_schema_check(table=table)
                done = plan.summary() if check else table_schema_sync_config(table=table)
            except ImportHubError as exc:
                refused.append(name)
                self.stdout.write(self.style.ERROR(f"{name}: REFUSED: {exc.message}"))
                continue
            if not done:
                parts, style = ["in line"], self.style.SUCCESS
            elif check:
                out_of_line.append(name)
                parts, style = [f"would change: {'; '.join(done)}"], self.style.WARNING
            else:
                parts, style = done, self.style.SUCCESS
            parts += [f"kept column {column} (not configured)" for column in plan.extra_columns]
            self.stdout.write(style(f"{name}: {'; '.join(parts)}"))
        if not refused and not out_of_line and not queryset.exists():
            self.stdout.write("No tables are configured.")
        if refused:
            raise CommandError(f"Refused changes to: {', '.join(refused)}.")
        if out_of_line:
            raise CommandError(
                f"Out of line: {', '.join(out_of_line)}. Run manage.py sync_tables to apply the changes."
            )
