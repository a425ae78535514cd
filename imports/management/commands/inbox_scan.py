"""Scan the inbox folders (and the mailbox when INBOX_IMAP_URL is set): once, or every INBOX_POLL_SECONDS."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from imports.tasks import inbox_poll_task


class Command(BaseCommand):
    help = (
        "Take the settled files of the inbox folders (INBOX_DIR/<distributor code>/) and the mailbox's messages "
        "(INBOX_IMAP_URL) into batches. --once: one pass, its report printed; otherwise every INBOX_POLL_SECONDS "
        "until SIGINT or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")

    def handle(self, *args, once: bool = False, **options):
        if once:
            self.stdout.write(inbox_poll_task())
            return
        stop = threading.Event()

        def _stop(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.stdout.write(f"Scanning the inbox every {settings.INBOX_POLL_SECONDS} s; Ctrl-C stops.")
            while not stop.is_set():
                close_old_connections()
                self.stdout.write(inbox_poll_task())
                self.stdout.flush()
                stop.wait(settings.INBOX_POLL_SECONDS)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Stopped.")
