"""Test profile: development settings with fast hashing, tasks run inline unless a test starts a cluster,
and every file the tests write under var/test."""

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, Q_CLUSTER, env, env_path

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run inline, except in a real qcluster that a worker test starts with Q_SYNC=0.
Q_CLUSTER = {**Q_CLUSTER, "sync": env.bool("Q_SYNC", default=True)}
# Separate folders per test run when several run at once (set TEST_VAR, SQLITE_TEST_NAME, MYSQL_TEST_NAME).
TEST_VAR = env_path("TEST_VAR", BASE_DIR / "var" / "test")
UPLOAD_DIR = TEST_VAR / "uploads"
ARCHIVE_DIR = TEST_VAR / "archive"
MEDIA_ROOT = TEST_VAR / "media"
IMPORT_WORK_DIR = TEST_VAR / "work"
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    CACHES = {"default": {**CACHES["default"], "LOCATION": TEST_VAR / "cache"}}
