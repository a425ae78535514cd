"""/healthz and /readyz as a load balancer or a Kubernetes probe sees them: no login, a JSON answer that names
the part that is down, 503 while one is, and nothing of the set-up in it."""

from __future__ import annotations

import pytest
from django.test import Client
from django_q.conf import Conf

from benchmarks.processes import free_port
from tests.reliability.cluster import wait_for

ALL_OK = {"database": "ok", "broker": "ok", "workers": "ok", "upload_dir": "ok", "archive_dir": "ok"}


def readyz() -> tuple[int, dict]:
    response = Client().get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_answers_anyone_without_the_database():
    # No django_db mark: a query would make the test fail (pytest-django blocks the database).
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert Client().head("/healthz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_workers_while_no_qcluster_runs_and_passes_once_one_does(processes):
    # A cluster of an earlier test may still be listed for its stats' last 3 seconds: wait it out.
    status, body = wait_for(
        lambda: (answer := readyz())[0] == 503 and answer,
        timeout=15,
        what="/readyz to fail without a cluster",
    )
    assert body == {"status": "fail", "checks": {**ALL_OK, "workers": "no live qcluster"}}

    cluster = processes.cluster("ready")
    processes.running(cluster)
    status, body = wait_for(
        lambda: (answer := readyz())[0] == 200 and answer,
        timeout=15,
        what="/readyz to pass with a running qcluster",
        logs=(cluster,),
    )
    assert body == {"status": "ok", "checks": ALL_OK}

    cluster.stop()
    status, body = wait_for(
        lambda: (answer := readyz())[0] == 503 and answer, timeout=10, what="/readyz to fail once it stopped"
    )
    assert body["checks"]["workers"] == "no live qcluster"


@pytest.mark.django_db(transaction=True)
def test_readyz_fails_again_within_seconds_of_a_killed_qcluster(processes):
    cluster = processes.cluster("killed")
    processes.running(cluster)
    wait_for(lambda: readyz()[0] == 200, timeout=15, what="/readyz to pass", logs=(cluster,))

    cluster.kill()  # no handler runs: only the stats' expiry tells
    status, body = wait_for(
        lambda: (answer := readyz())[0] == 503 and answer, timeout=10, what="/readyz to fail after SIGKILL"
    )
    assert body["checks"]["workers"] == "no live qcluster"


@pytest.fixture
def not_a_folder(tmp_path):
    """A folder path under a plain file: not writable even for root (the tests may run as root)."""
    blocker = tmp_path / "a-plain-file"
    blocker.write_text("")
    return blocker / "folder"


@pytest.mark.django_db
def test_readyz_names_upload_dir_when_it_is_not_writable(settings, not_a_folder):
    settings.UPLOAD_DIR = not_a_folder

    status, body = readyz()

    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["upload_dir"] == "not writable (UPLOAD_DIR)"
    assert body["checks"]["database"] == "ok"
    assert "a-plain-file" not in str(body)


@pytest.mark.django_db
def test_readyz_names_archive_dir_when_the_local_archive_is_not_writable(settings, not_a_folder):
    settings.ARCHIVE_DIR = not_a_folder

    status, body = readyz()

    assert status == 503
    assert body["checks"]["archive_dir"] == "not writable (ARCHIVE_DIR)"


@pytest.mark.django_db
def test_readyz_skips_the_local_archive_when_drive_is_configured(settings, not_a_folder):
    # Nothing is sent to Google: the credentials below would be refused by it.
    settings.GDRIVE_CREDENTIALS_JSON = '{"type": "service_account"}'
    settings.GDRIVE_FOLDER_ID = "folder-id"
    settings.ARCHIVE_DIR = not_a_folder

    status, body = readyz()

    assert body["checks"]["archive_dir"] == "drive"
    assert body["checks"]["workers"] == "no live qcluster"  # so 503, but not for the archive
    assert status == 503


@pytest.mark.django_db
def test_readyz_refuses_writes():
    assert Client().post("/readyz").status_code == 405


@pytest.mark.django_db
def test_readyz_shows_no_secret_when_the_broker_is_down(settings, monkeypatch, not_a_folder):
    port = free_port()  # nothing listens there: a real refused connection
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://importhub:s3cret-pw@127.0.0.1:{port}/0")
    settings.UPLOAD_DIR = not_a_folder

    status, body = readyz()

    assert status == 503
    assert body["checks"]["broker"] == "unreachable (redis: ConnectionError)"
    assert body["checks"]["workers"].startswith("unknown")
    text = Client().get("/readyz").content.decode()
    database = settings.DATABASES["default"]
    secrets = ["s3cret-pw", "importhub:", str(port), "127.0.0.1", "a-plain-file", settings.SECRET_KEY]
    secrets += [
        value for value in (database.get("PASSWORD"), database.get("HOST"), str(database["NAME"])) if value
    ]
    assert [secret for secret in secrets if secret in text] == []
    assert str(settings.BASE_DIR) not in text
