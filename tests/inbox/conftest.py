"""Fixtures for the inbox folders: INBOX_DIR under the test's tmp_path, the demo tables, one distributor."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.conf import Conf

from imports.models import Distributor
from imports.services.inbox_folders import inbox_folders_scan
from tests.reliability.conftest import processes  # noqa: F401 (a fixture of the real-process tests)

DATA = Path(__file__).resolve().parent.parent / "data"
CODE = "31001"


class Inbox(SimpleNamespace):
    root: Path
    folder: Path

    def drop(self, name: str, content: bytes, *, age: float = 120, code: str = CODE) -> Path:
        """A file that was written completely `age` seconds ago."""
        path = self.root / code / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        then = time.time() - age
        os.utime(path, (then, then))
        return path

    def scan(self, times: int = 2):
        """Scan `times` times (a file is taken once a second scan sees it unchanged); the last report."""
        report = None
        for _ in range(times):
            report = inbox_folders_scan(now=timezone.now())
        return report

    def outcome(self, kind: str, code: str = CODE) -> dict[str, Path]:
        """The files in <code>/<kind>/<day>/, by name."""
        return {p.name: p for p in sorted((self.root / code / kind).glob("*/*"))}

    def result(self, kind: str, name: str, code: str = CODE) -> dict:
        (path,) = (self.root / code / kind).glob(f"*/{name}.result.json")
        return json.loads(path.read_text())

    def waiting_files(self, code: str = CODE) -> list[str]:
        return sorted(p.name for p in (self.root / code).iterdir() if p.is_file())


@pytest.fixture
def inbox(transactional_db, settings, tmp_path):
    call_command("load_demo_config", verbosity=0)
    settings.INBOX_DIR = str(tmp_path / "inbox")
    settings.INBOX_SETTLE_SECONDS = 30
    (tmp_path / "inbox" / CODE).mkdir(parents=True)
    distributor = Distributor.objects.create(code=CODE, name="Sumber Makmur")
    return Inbox(root=tmp_path / "inbox", folder=tmp_path / "inbox" / CODE, distributor=distributor)


@pytest.fixture
def broker(monkeypatch):
    """This process queues tasks on the ORM broker that the clusters read, as the web server does."""
    monkeypatch.setattr(Conf, "SYNC", False)
