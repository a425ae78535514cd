"""Settings shared by every profile, read once from the environment (and `.env`) with django-environ."""

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_path(name: str, default: Path) -> Path:
    """A folder from the environment; relative paths are taken from the project folder."""
    value = env.str(name, default="")
    path = Path(value) if value else default
    return path if path.is_absolute() else BASE_DIR / path


# Off unless asked for (DEBUG=true): the debug pages show settings, the environment and every URL pattern.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-development-only-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_prometheus",
    "tableconfig",
    "imports",
    "benchmarks",
]

MIDDLEWARE = [
    # django-prometheus: first and last, so the request figures span every other middleware.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server in every profile, so the pages keep their CSS/JS with DEBUG off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "importhub.urls"
WSGI_APPLICATION = "importhub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///db.sqlite3")}
_db = DATABASES["default"]
# A relative SQLite file (sqlite:///db.sqlite3) is taken from the project folder, like the other paths.
if _db["ENGINE"] == "django.db.backends.sqlite3" and _db["NAME"] not in ("", ":memory:"):
    _db["NAME"] = str(BASE_DIR / _db["NAME"])
if _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode: a value too long for its column is an error, never silently truncated.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', innodb_strict_mode=1",
            # Lets the engine stream its own cleaned chunks with LOAD DATA LOCAL INFILE (see README).
            "local_infile": 1,
        }
    )
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    if env("MYSQL_TEST_NAME", default=""):
        _db["TEST"]["NAME"] = env("MYSQL_TEST_NAME")
    # Below MySQL's default wait_timeout (28800 s) so a pooled connection is never found dead.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)
    _db["CONN_HEALTH_CHECKS"] = True
else:
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    _db.setdefault("OPTIONS", {}).update(
        {
            # One file imports in one long transaction: other writers wait for it rather than fail,
            # BEGIN IMMEDIATE takes the write lock up front (no deadlock on lock upgrade), and WAL
            # lets readers (the pages, the API) go on while a file loads.
            "timeout": env.int("SQLITE_TIMEOUT", default=120),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file (not :memory:) so a real qcluster process in the tests can share the test database.
    _db["TEST"] = {"NAME": env("SQLITE_TEST_NAME", default=str(BASE_DIR / "var" / "test_db.sqlite3"))}
    (BASE_DIR / "var").mkdir(exist_ok=True)
# django-prometheus's drop-in wrappers of the same two engines count connections, queries, errors and
# query time (`django_db_*`); `connection.vendor` and every engine feature stay those of Django's backend.
_db["ENGINE"] = _db["ENGINE"].replace("django.db.backends.", "django_prometheus.db.backends.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# django-q2's Task model has a conditional index, which MariaDB ignores (and says so at every migrate).
SILENCED_SYSTEM_CHECKS = ["models.W037"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "var" / "static")
# Outside production whitenoise serves straight from the apps' and STATICFILES_DIRS' folders: no
# collectstatic needed for `make run` (production serves the collected, hashed files).
WHITENOISE_USE_FINDERS = True
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # else whitenoise warns at every start
except OSError:
    pass
MEDIA_ROOT = env_path("MEDIA_ROOT", BASE_DIR / "var" / "media")
MEDIA_URL = "media/"

# Error pages and reports: plain pages that show nothing of the set-up, and secrets hidden from the
# debug page and from error e-mails, also with DEBUG on.
DEFAULT_EXCEPTION_REPORTER_FILTER = "importhub.reporting.SecretsHiddenFilter"
DEFAULT_EXCEPTION_REPORTER = "importhub.reporting.SecretsHiddenReporter"
CSRF_FAILURE_VIEW = "importhub.views.csrf_failure"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- CORS (browser clients on other origins, as Flask-CORS served them) ----------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "importhub.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "importhub API",
    "DESCRIPTION": "Upload distributor files, configure import tables and follow import jobs.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Separate request/response components, so multipart uploads are documented as binary files.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Background work (django-q2) -----------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
Q_WORKERS = env.int("Q_WORKERS", default=2)
Q_TIMEOUT = env.int("Q_TIMEOUT", default=3600)
Q_CLUSTER = {
    "name": "importhub",
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    # retry must exceed timeout, or a slow task is handed to a second worker while still running.
    "retry": env.int("Q_RETRY", default=Q_TIMEOUT + 300),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    # A cluster prefetches at most one task per worker: a cluster that dies takes no extra tasks with it.
    "queue_limit": Q_WORKERS,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.5)

# django-q2 keeps its cluster statistics (read by /readyz) in the cache with the ORM broker, so the cache
# must be one that every web and worker process sees: Redis when configured, else files on disk. Import
# progress and heartbeats are rows of their own in the database (imports.services.heartbeats).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env_path("CACHE_DIR", BASE_DIR / "var" / "cache"),
        }
    }

# --- Uploads and import limits --------------------------------------------------------------
UPLOAD_DIR = env_path("UPLOAD_DIR", BASE_DIR / "var" / "uploads")
UPLOAD_MAX_FILE_BYTES = env.int("UPLOAD_MAX_FILE_BYTES", default=1024**3)
UPLOAD_MAX_REQUEST_BYTES = env.int("UPLOAD_MAX_REQUEST_BYTES", default=2 * 1024**3)
UPLOAD_MAX_FILES = env.int("UPLOAD_MAX_FILES", default=100)
ZIP_MAX_MEMBERS = env.int("ZIP_MAX_MEMBERS", default=1000)
ZIP_MAX_TOTAL_BYTES = env.int("ZIP_MAX_TOTAL_BYTES", default=4 * 1024**3)
ZIP_MAX_RATIO = env.int("ZIP_MAX_RATIO", default=200)
# Uploads are streamed to disk by Django above this size instead of being held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
# Rows per chunk. MySQL: small chunks keep LOAD DATA busy while the next chunk is read and validated,
# and bound memory (measured fastest at 10k). SQLite: 30k measured as fast as plain executemany at 270 MB
# (50k: a little faster, 300 MB; 20k: 0.9x, 250 MB).
IMPORT_CHUNK_ROWS = env.int(
    "IMPORT_CHUNK_ROWS", default=10_000 if _db["ENGINE"].endswith("mysql") else 30_000
)
IMPORT_LOAD_DATA_LOCAL = env("IMPORT_LOAD_DATA_LOCAL", default="auto")  # auto | on | off
# The longest record (one row, with its quoted line breaks) a text file may hold; a longer one fails the file
# with record_too_long. The reader works in 1 MiB blocks whatever this says: it only bounds one row.
IMPORT_MAX_RECORD_BYTES = env.int("IMPORT_MAX_RECORD_BYTES", default=64 * 1024 * 1024)
# SQLite: where a running import writes its rows before one short copy into the table (about the size of
# the file's rows; removed when the import ends).
IMPORT_WORK_DIR = env_path("IMPORT_WORK_DIR", BASE_DIR / "var" / "work")
# Hand freed memory back between chunks (Arrow on the system allocator, glibc mapping large blocks): see
# imports/memory.py. Off keeps the libraries' own allocators, a little faster, with a higher peak.
IMPORT_MEMORY_RETURN = env.bool("IMPORT_MEMORY_RETURN", default=True)
# Seconds without a heartbeat (one per chunk) before a processing job counts as dead, or a waiting job
# whose task is gone from the broker as lost; the stale-job scan runs every minute.
JOB_STALE_AFTER = env.int("JOB_STALE_AFTER", default=120)
# How long the upload of a failed job (status 2, 6, 8) is kept for a retry, and a dry run's for its import;
# a schedule then archives (ARCHIVE_FAILED_FILES) or deletes it every UPLOAD_PURGE_MINUTES.
FAILED_UPLOAD_KEEP_DAYS = env.float("FAILED_UPLOAD_KEEP_DAYS", default=7)
DRY_RUN_KEEP_HOURS = env.float("DRY_RUN_KEEP_HOURS", default=24)
UPLOAD_PURGE_MINUTES = env.int("UPLOAD_PURGE_MINUTES", default=15)
# Data page exports: more matching rows than this are written by a background task (MEDIA_ROOT/exports/),
# with progress on the page and a download link; exports older than EXPORT_KEEP_HOURS are removed.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=50_000)
EXPORT_KEEP_HOURS = env.int("EXPORT_KEEP_HOURS", default=24)

# --- Archive ------------------------------------------------------------------------------------
# Google Drive when GDRIVE_CREDENTIALS(_JSON) and GDRIVE_FOLDER_ID are set, else the local ARCHIVE_DIR.
ARCHIVE_DIR = env_path("ARCHIVE_DIR", BASE_DIR / "var" / "archive")
ARCHIVE_FAILED_FILES = env.bool("ARCHIVE_FAILED_FILES", default=False)
ARCHIVE_MAX_ATTEMPTS = env.int("ARCHIVE_MAX_ATTEMPTS", default=5)
# Seconds before the first re-try of a failed archive task; doubled for each later one.
ARCHIVE_RETRY_DELAY = env.int("ARCHIVE_RETRY_DELAY", default=60)
GDRIVE_CREDENTIALS = env("GDRIVE_CREDENTIALS", default="")
GDRIVE_CREDENTIALS_JSON = env("GDRIVE_CREDENTIALS_JSON", default="")
GDRIVE_FOLDER_ID = env("GDRIVE_FOLDER_ID", default="")
GDRIVE_SUBFOLDERS = env("GDRIVE_SUBFOLDERS", default="none")  # none | table | month
GDRIVE_IMPERSONATE = env("GDRIVE_IMPERSONATE", default="")
# Empty: Google's endpoint. Else the Drive API's base URL (a private endpoint), e.g. https://host/drive/v3/
GDRIVE_API_ENDPOINT = env("GDRIVE_API_ENDPOINT", default="")
# CA bundle (PEM) to trust for Drive, e.g. behind a TLS-inspecting proxy; empty: the usual CAs.
GDRIVE_CA_CERTS = env("GDRIVE_CA_CERTS", default="")
# Retries of each Drive request by the client library (exponential backoff) before the task re-tries.
GDRIVE_NUM_RETRIES = env.int("GDRIVE_NUM_RETRIES", default=5)
# Resumable upload chunk in bytes (rounded up to Drive's 256 KiB unit).
GDRIVE_CHUNK_SIZE = env.int("GDRIVE_CHUNK_SIZE", default=8 * 1024**2)
GDRIVE_TIMEOUT = env.int("GDRIVE_TIMEOUT", default=120)

# --- Distributors, compliance and reminders -------------------------------------------------------
# auto: an upload's dist_id must name an active distributor once any distributor exists; on: always;
# off: never (single-tenant installs).
DISTRIBUTORS_REQUIRED = env("DISTRIBUTORS_REQUIRED", default="auto")  # auto | on | off
if DISTRIBUTORS_REQUIRED not in ("auto", "on", "off"):
    raise ImproperlyConfigured(f"DISTRIBUTORS_REQUIRED: {DISTRIBUTORS_REQUIRED!r} is not auto, on or off.")
# A period's volume is marked as a drop when it is below (1 - share) x the mean of the previous periods.
COMPLIANCE_DROP_SHARE = env.float("COMPLIANCE_DROP_SHARE", default=0.5)
COMPLIANCE_DROP_PERIODS = env.int("COMPLIANCE_DROP_PERIODS", default=3)
# Outgoing mail (reminders, digests): django-environ's EMAIL_URL, e.g. smtp+tls://user:pass@host:587;
# the default prints mails to the worker's log.
EMAIL_URL = env("EMAIL_URL", default="consolemail://")
vars().update(environ.Env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="importhub@localhost")
# Who receives the daily staff digest of missing and late files (empty: no digest).
COMPLIANCE_STAFF_EMAILS = env.list("COMPLIANCE_STAFF_EMAILS", default=[])
# When (server time zone, HH:MM) the daily reminder schedule runs.
REMINDERS_AT = env("REMINDERS_AT", default="07:00")

# --- Unattended intake: inbox folders and a mailbox ----------------------------------------------
# One folder per distributor code under INBOX_DIR (empty: no inbox folders).
INBOX_DIR = env("INBOX_DIR", default="")
# How often the inbox schedule runs (django-q2 schedules run in whole minutes: rounded up, at least 1).
INBOX_POLL_SECONDS = env.int("INBOX_POLL_SECONDS", default=60)
# A file is taken once its size and mtime have not changed for this long.
INBOX_SETTLE_SECONDS = env.int("INBOX_SETTLE_SECONDS", default=30)
# A claim whose scanner is gone (same host: its process has ended; another host: this long) is resumed.
INBOX_CLAIM_STALE_SECONDS = env.int("INBOX_CLAIM_STALE_SECONDS", default=900)
# The mailbox, e.g. imaps://user:pass@mail.example.com:993/INBOX (empty: no mailbox).
INBOX_IMAP_URL = env("INBOX_IMAP_URL", default="")
# A CA file to trust for the IMAP server's certificate (empty: the system's trust store).
INBOX_IMAP_CA_FILE = env("INBOX_IMAP_CA_FILE", default="")
# Reply to each message's sender with its batch's outcome (through EMAIL_URL).
INBOX_REPLY = env.bool("INBOX_REPLY", default=False)

# --- Health and metrics -------------------------------------------------------------------------
# /healthz and /readyz are open (load balancers, probes); /metrics only with `Authorization: Bearer
# <METRICS_TOKEN>` or from a client address (REMOTE_ADDR, never X-Forwarded-For) in METRICS_ALLOWED_IPS
# (addresses or CIDR networks), or to a logged-in superuser. Both empty: nobody else.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_network!r} is not an IP address or network."
        ) from exc

# --- make run (scripts/run.sh) ---------------------------------------------------------------------
# The admin login `make run` creates (ensure_admin): ADMIN_PASSWORD empty means generated and shown once.
ADMIN_USERNAME = env("ADMIN_USERNAME", default="admin")
ADMIN_PASSWORD = env("ADMIN_PASSWORD", default="")
RUN_ADDR = env("RUN_ADDR", default="127.0.0.1:8000")
# Where `make run` writes the server's and the worker's full logs (the terminal shows a summary line each).
RUN_LOG_DIR = env_path("RUN_LOG_DIR", BASE_DIR / "var" / "log")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
