"""Measure the import engine against the database's own bulk paths on a generated sales file: `make bench`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from benchmarks.bench import BULK_CREATE_BATCH, BenchError, bench_run, sizes_parse
from benchmarks.scratch import BenchInterrupted


class Command(BaseCommand):
    help = (
        "Benchmark the full import on a generated sales file (default 1,000,000 rows) against, on MySQL, "
        f"LOAD DATA LOCAL INFILE and Django bulk_create (batch {BULK_CREATE_BATCH:,}) of the same file, on "
        "SQLite executemany and bulk_create; then time quick validation on files of --quick-sizes. Prints a "
        "table with the goals. It writes to the database it runs against, but only to a scratch configuration "
        "of its own (bench_<token>_sales, made like the demo sales table) and scratch tables bench_<token>_*; "
        "its child processes archive into its scratch folder (never Google Drive). All of it is removed at the "
        "end, also on Ctrl-C or SIGTERM; what a killed run left is removed by the next run. No user's table, "
        "file or archive is touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000, help="Rows in the generated file.")
        parser.add_argument(
            "--quick-sizes",
            default="10MB,1GB",
            help="Sizes of the files quick validation is timed on, comma-separated (10MB,1GB); 'none' to skip.",
        )
        parser.add_argument(
            "--bulk-create-rows",
            type=int,
            default=200_000,
            help="Run bulk_create on at most this many rows (it is slow) and report its rate; 0 means all rows.",
        )
        parser.add_argument("--skip-slow", action="store_true", help="Leave out the bulk_create baseline.")
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="Run the engine and the main baseline this many times, alternately, and keep the fastest of each "
            "(for a busy machine).",
        )
        parser.add_argument("--json", metavar="PATH", help="Also write the figures to this JSON file.")
        parser.add_argument(
            "--dir",
            metavar="PATH",
            help="Folder in which the run makes its scratch folder (default: the system's temporary folder); "
            "with --keep-files, the generated files are kept there.",
        )
        parser.add_argument(
            "--keep-files",
            action="store_true",
            help="Keep the generated files (in --dir, else in a new temporary folder).",
        )
        parser.add_argument(
            "--xlsx-rows",
            type=int,
            default=0,
            help="Also import an .xlsx sheet of this many rows (8 columns) against python-calamine's raw read "
            "of it (500000 for the documented figure); 0, the default, skips the case.",
        )
        parser.add_argument(
            "--update-rows",
            type=int,
            default=0,
            help="MySQL/MariaDB only: also import a file of this many rows into a unique table already holding "
            "their keys (bench_<token>_upd), every row updated in place, against LOAD DATA ... REPLACE of the "
            "same file (1000000 for the documented figure); 0, the default, skips the case.",
        )

    def handle(self, *args, **options):
        try:
            quick_sizes = sizes_parse(options["quick_sizes"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            report = bench_run(
                rows=options["rows"],
                quick_sizes=quick_sizes,
                bulk_create_rows=options["bulk_create_rows"],
                skip_slow=options["skip_slow"],
                repeat=options["repeat"],
                workdir=Path(options["dir"]) if options["dir"] else None,
                keep_files=options["keep_files"],
                progress=self.stderr.write,
                xlsx_rows=options["xlsx_rows"],
                update_rows=options["update_rows"],
            )
        except (BenchError, BenchInterrupted) as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write("\n".join(report.lines()))
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
