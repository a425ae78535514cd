"""Error reports (the DEBUG page, error e-mails) that never show a secret: by name, and by value."""

from __future__ import annotations

import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

SUBSTITUTE = SafeExceptionReporterFilter.cleansed_substitute
# Containers of the traceback's variables bigger than this are left to the masking of the rendered page.
MASKED_ITEMS_MAX = 200
# Settings and environment variables hidden by name (Django's own list, plus our connection URLs and keys).
HIDDEN_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|PWD|SIGNATURE|COOKIE|CREDENTIAL|PRIVATE|DSN"
    r"|DATABASE_URL|REDIS_URL|EMAIL_URL|INBOX_IMAP_URL|BROKER_URL|CACHE_URL",
    flags=re.I,
)
# Local variables of the traceback: a narrower list, so that a loop's `key` stays readable.
HIDDEN_VARIABLES = re.compile(r"PASS|PWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|COOKIE", flags=re.I)
# The password of `scheme://user:password@host` (also `redis://:password@host`).
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)(?P<at>@)", re.I)
# `password=...` in connection strings, `"password": "..."` in JSON (not `password: str` in source lines).
PASSWORD_PAIR = re.compile(
    r"""(?P<head>(?:\b(?:password|passwd|pwd)\s*=|["'](?:password|passwd|pwd)["']\s*:)\s*["']?)"""
    r"""(?P<password>[^\s"',;&]+)""",
    re.I,
)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)


def secrets_masked(text: str) -> str:
    """The text with the passwords of URLs, password pairs and private keys replaced by stars."""
    text = URL_PASSWORD.sub(lambda m: f"{m['head']}{SUBSTITUTE}{m['at']}", text)
    text = PASSWORD_PAIR.sub(lambda m: f"{m['head']}{SUBSTITUTE}", text)
    return PRIVATE_KEY.sub(SUBSTITUTE, text)


def _values_masked(value, *, depth: int = 3):
    """Strings masked, also inside small plain dicts (and their secret names), lists and tuples; bigger ones
    are left to the masking of the rendered page."""
    if isinstance(value, str):
        return secrets_masked(value)
    if depth and type(value) in (dict, list, tuple) and len(value) <= MASKED_ITEMS_MAX:
        if type(value) is dict:
            return {
                k: SUBSTITUTE
                if isinstance(k, str) and HIDDEN_NAMES.search(k)
                else _values_masked(v, depth=depth - 1)
                for k, v in value.items()
            }
        return type(value)(_values_masked(v, depth=depth - 1) for v in value)
    return value


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Django's filter, active with DEBUG on too, hiding our secret names and any value holding a password."""

    hidden_settings = HIDDEN_NAMES

    def is_active(self, request) -> bool:
        # Django's filter steps aside with DEBUG on; the debug page is shown to whoever triggers the error.
        return True

    def cleanse_setting(self, key, value):
        # Django recurses into dicts, lists and tuples through this method: the strings are masked as leaves.
        return super().cleanse_setting(key, secrets_masked(value) if isinstance(value, str) else value)

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return {
            name: SUBSTITUTE
            if isinstance(name, str) and HIDDEN_VARIABLES.search(name)
            else _values_masked(value)
            for name, value in variables
        }.items()


class SecretsHiddenReporter(ExceptionReporter):
    """The exception's message and everything else on the page pass through the same masking as the values."""

    def get_traceback_html(self):
        return secrets_masked(str(super().get_traceback_html()))

    def get_traceback_text(self):
        return secrets_masked(str(super().get_traceback_text()))
