"""Fixtures for the reliability suite: real worker and web processes, a Redis database of its own, an uploader."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from .cluster import Gunicorn, Process, QCluster, wait_for

# A Redis database number of its own: the suite empties it before and after each test that uses it. Test runs
# going on at the same time (SQLITE_TEST_NAME, TEST_VAR...) share it, so they take turns through a lock.
REDIS_URL = os.environ.get("RELIABILITY_REDIS_URL", "redis://127.0.0.1:6379/5")
REDIS_LOCK = "importhub-reliability:lock"
REDIS_LOCK_SECONDS = 1200


@pytest.fixture
def demo_tables(transactional_db):
    call_command("load_demo_config", verbosity=0)


@pytest.fixture
def processes(transactional_db, tmp_path):
    """Start processes that are stopped (and their groups killed) before the test database is flushed."""
    started: list[Process] = []

    class Starter:
        logs = tmp_path

        def cluster(self, name: str, **env: str) -> QCluster:
            cluster = QCluster(tmp_path / f"qcluster-{name}.log", **env)
            started.append(cluster)
            return cluster

        def gunicorn(self, name: str = "web", **kwargs) -> Gunicorn:
            server = Gunicorn(tmp_path / f"{name}.log", **kwargs)
            started.append(server)
            return server

        def running(self, *items: Process, timeout: float = 60) -> None:
            wait_for(
                lambda: all(p.ready() for p in items), timeout=timeout, what="processes to start", logs=items
            )

    yield Starter()
    for process in reversed(started):
        process.stop()


@pytest.fixture
def cluster_broker(monkeypatch):
    """This process enqueues (through the ORM broker, as the web server does) instead of running tasks inline."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def _redis_clear(client) -> None:
    """Everything in the suite's database except the lock between test runs."""
    keys = [key for key in client.scan_iter(count=1000) if key != REDIS_LOCK.encode()]
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


@pytest.fixture
def redis_url():
    import redis

    client = redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not answering at {REDIS_URL} (.ci/run starts it)")
        pytest.skip(f"needs Redis at {REDIS_URL} (RELIABILITY_REDIS_URL)")
    lock = client.lock(REDIS_LOCK, timeout=REDIS_LOCK_SECONDS, blocking_timeout=REDIS_LOCK_SECONDS)
    if not lock.acquire():
        pytest.fail(f"another test run held {REDIS_LOCK} in {REDIS_URL} for {REDIS_LOCK_SECONDS}s")
    try:
        _redis_clear(client)
        yield REDIS_URL
        _redis_clear(client)
    finally:
        lock.release()
        client.close()


@pytest.fixture
def redis_everywhere(redis_url, settings, monkeypatch):
    """This process too on Redis, as a web server with REDIS_URL is: the broker it enqueues to and the cache."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    return redis_url


@pytest.fixture
def uploader(transactional_db, django_user_model):
    """A user allowed to upload (`.user`), and an API token for them (`.token`)."""
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user(username="uploader", password="pw-uploader")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="imports", codename="add_importjob")
    )
    return SimpleNamespace(user=user, token=Token.objects.create(user=user).key)
