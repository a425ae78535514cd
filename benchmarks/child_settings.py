"""Settings of the benchmarks' child processes: the settings the benchmark runs with (BENCH_PARENT_SETTINGS),
with every folder in the run's scratch folder (BENCH_SCRATCH_DIR), no Google Drive, no e-mail, and a task
queue of its own (BENCH_QUEUE), so nothing a child does reaches a user's archive, files or workers.
BENCH_Q_SYNC=1 runs tasks inline (the engine's measurement: its archive task ends in the scratch folder)."""

import importlib
import os
from pathlib import Path

_parent = importlib.import_module(os.environ["BENCH_PARENT_SETTINGS"])
globals().update({name: value for name, value in vars(_parent).items() if name.isupper()})

_scratch = Path(os.environ["BENCH_SCRATCH_DIR"])
TEST_VAR = _scratch
UPLOAD_DIR = _scratch / "uploads"
ARCHIVE_DIR = _scratch / "archive"
MEDIA_ROOT = _scratch / "media"
IMPORT_WORK_DIR = _scratch / "work"
GDRIVE_CREDENTIALS = ""
GDRIVE_CREDENTIALS_JSON = ""
GDRIVE_FOLDER_ID = ""
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DISTRIBUTORS_REQUIRED = "off"
Q_CLUSTER = {
    **_parent.Q_CLUSTER,
    "cluster_name": os.environ["BENCH_QUEUE"],
    "sync": os.environ.get("BENCH_Q_SYNC") == "1",
}
if _parent.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    CACHES = {"default": {**_parent.CACHES["default"], "LOCATION": _scratch / "cache"}}
