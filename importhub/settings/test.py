"""Test profile: the development settings with fast hashing and tasks run inline unless a test starts a cluster."""

from .base import *  # noqa: F403
from .base import BASE_DIR, Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
UPLOAD_DIR = BASE_DIR / "var" / "test" / "uploads"
ARCHIVE_DIR = BASE_DIR / "var" / "test" / "archive"
MEDIA_ROOT = BASE_DIR / "var" / "test" / "media"
