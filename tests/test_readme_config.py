"""Every environment variable the code reads is documented in `.env.example` and in the README's configuration
tables, and the defaults agree: the value `.env.example` sets (a line left commented out names a default that is
computed) and the README's default are the code's own, read from settings loaded with an empty environment, on
SQLite and on MySQL where they differ."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# Loads a settings module with nothing in the environment but `environment`, .env ignored, and records what each
# django-environ read returned (the default, since nothing is set) and the settings' own values of the same name.
PROBE = r"""
import json, os, runpy, sys
from pathlib import Path
import environ

environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
seen = {}
original = environ.Env.get_value

def recording(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
    value = original(self, var, cast=cast, default=default, parse_default=parse_default)
    seen.setdefault(var, value)
    return value

environ.Env.get_value = recording
module, root = sys.argv[1], Path(sys.argv[2])
settings = __import__(module, fromlist=["*"])

def plain(value):
    if isinstance(value, Path):
        return value.relative_to(root).as_posix() if value.is_relative_to(root) else str(value)
    if isinstance(value, str) and value.startswith(f"{root}/"):
        return Path(value).relative_to(root).as_posix()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value

defaults = {}
for var, value in seen.items():
    # env_path() reads "" and falls back on a folder: the setting of the same name holds the folder.
    if value == "" and isinstance(getattr(settings, var, None), Path):
        value = getattr(settings, var)
    defaults[var] = plain(value)
if "CACHE_DIR" in defaults:
    defaults["CACHE_DIR"] = plain(settings.CACHES["default"]["LOCATION"])
if module == "importhub.settings.base":
    gunicorn = runpy.run_path(str(root / "deploy" / "gunicorn.conf.py"))
    for var in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "FORWARDED_ALLOW_IPS"):
        defaults[var] = gunicorn[var.removeprefix("GUNICORN_").lower()]
print(json.dumps(defaults))
"""
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "ci-only-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
    "ALLOWED_HOSTS": "imports.example.com",
}
MYSQL = {"DATABASE_URL": "mysql://importhub@127.0.0.1:3306/importhub"}
# Defaults that are not a value but a rule: what the README's Default column says, and what the code has.
DESCRIBED = {
    "SECRET_KEY": ("development-only key", lambda value: value.startswith("django-insecure-")),
    "ADMIN_PASSWORD": ("generated", lambda value: value == ""),
    "MYSQL_TEST_NAME": ("test_ + the database's name", lambda value: value == ""),
    "PROMETHEUS_MULTIPROC_DIR": ("unset", lambda value: value is None),
}
# Defaults computed from other values or the machine: .env.example shows them commented out.
COMPUTED = {"SECRET_KEY", "MYSQL_TEST_NAME", "PROMETHEUS_MULTIPROC_DIR", "Q_RETRY", "GUNICORN_WORKERS"}
TRUE = {"true", "on", "ok", "y", "yes", "1"}
UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def _probe(module: str, environment: dict[str, str]) -> dict:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module, str(ROOT)],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def code_defaults() -> dict[str, object]:
    """Each variable's default; {"mysql": ..., "sqlite": ...} where the database decides it."""
    sqlite = _probe("importhub.settings.base", {})
    mysql = _probe("importhub.settings.base", MYSQL)
    defaults: dict[str, object] = {}
    for var in sqlite.keys() | mysql.keys():
        if var in sqlite and var in mysql and sqlite[var] != mysql[var] and var != "DATABASE_URL":
            defaults[var] = {"mysql": mysql[var], "sqlite": sqlite[var]}
        else:
            defaults[var] = sqlite.get(var, mysql.get(var))
    # Read by the production and test profiles only (production's required ones have no default).
    for module, environment in (
        ("importhub.settings.production", PRODUCTION),
        ("importhub.settings.test", {}),
    ):
        for var, value in _probe(module, environment).items():
            defaults.setdefault(var, value)
    # Read with os.environ outside the settings: the profile switch, and prometheus_client's folder.
    defaults["DJANGO_ENV"] = "development"
    defaults["PROMETHEUS_MULTIPROC_DIR"] = None
    return defaults


def _os_environ_reads() -> set[str]:
    """Variables the application's Python code reads with os.environ (writes such as setdefault left out)."""
    names = set()
    pattern = re.compile(
        r'os\.environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"|"([A-Z][A-Z0-9_]+)" in os\.environ'
    )
    for folder in ("importhub", "imports", "tableconfig", "deploy"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in pattern.finditer(path.read_text()):
                names.add(match[1] or match[2])
    return names


def _env_example() -> dict[str, str | None]:
    """.env.example's variables: the value set, or None for a line left commented out (`# NAME=...`)."""
    found: dict[str, str | None] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]+)=(.*)", line):
            found[m[1]] = m[2]
        elif m := re.fullmatch(r"# ([A-Z][A-Z0-9_]+)=.*", line):
            found.setdefault(m[1], None)
    return found


def _readme_rows() -> list[tuple[str, str]]:
    """(variable, default) from every README table headed Variable | Default | Meaning."""
    rows = []
    in_table = False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| Variable | Default |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        if not in_table or line.startswith("|---"):
            continue
        names_cell, default_cell = (c.strip() for c in line.strip("|").split("|")[:2])
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", names_cell)
        separator = " / " if " / " in names_cell else ", "
        defaults = default_cell.split(separator) if len(names) > 1 else [default_cell]
        if len(defaults) == 1:
            defaults *= len(names)  # one default said once for all: "empty"
        assert len(defaults) == len(names), f"README row {line!r}: one default per variable, or one for all"
        rows += zip(names, (d.strip() for d in defaults), strict=True)
    return rows


def _like(text: str, default: object) -> object:
    """A documented value read the way the code reads it (the default's type says how)."""
    if isinstance(default, bool):
        return text.lower() in TRUE
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, list):
        return [v for v in text.split(",") if v]
    return text


def _readme_value(text: str, var: str, defaults: dict) -> str:
    """The README's way of writing a value, as the plain text an environment variable would hold."""
    text = text.replace("`", "").strip()
    if text == "empty":
        return ""
    if m := re.fullmatch(r"(\d+) (KiB|MiB|GiB)", text):
        return str(int(m[1]) * UNITS[m[2]])
    expression = re.sub(
        r"[A-Z][A-Z0-9_]{2,}",
        lambda m: str(defaults.get(m[0], m[0])),
        text.replace("×CPU", f"*{os.cpu_count()}"),
    )
    if expression != text and re.fullmatch(r"[\d+*]+", expression):
        return str(eval(expression))  # digits, + and * only (checked just above)
    return text


def test_config_every_variable_read_is_documented_in_env_example_and_readme(code_defaults):
    read = set(code_defaults) | _os_environ_reads()
    documented_env = set(_env_example())
    documented_readme = {var for var, _ in _readme_rows()}
    assert sorted(read - documented_env) == [], ".env.example lacks these"
    assert sorted(read - documented_readme) == [], "the README's configuration table lacks these"
    assert sorted(documented_env - read) == [], ".env.example documents variables nothing reads"
    assert sorted(documented_readme - read) == [], "the README documents variables nothing reads"


def test_config_env_example_sets_the_defaults_and_comments_out_computed_ones(code_defaults):
    wrong = {}
    for var, text in _env_example().items():
        default = code_defaults.get(var)
        computed = isinstance(default, dict) or var in COMPUTED
        if text is None:
            # Commented out: only where the default is computed (a copied .env must not pin it).
            if not computed:
                wrong[var] = f"commented out, but its default is simply {default!r}: set it"
        elif computed:
            wrong[var] = f"sets {text!r}, but its default is computed ({default!r}): comment it out"
        elif var == "DATABASE_URL":
            if text != default:
                wrong[var] = f"{text!r} != {default!r}"
        elif _like(text, default) != default:
            wrong[var] = f"{text!r} != {default!r}"
    assert wrong == {}


def test_config_readme_defaults_are_the_code_defaults(code_defaults):
    wrong = {}
    for var, text in _readme_rows():
        default = code_defaults[var]
        if var in DESCRIBED:
            phrase, check = DESCRIBED[var]
            if text.replace("`", "") != phrase or not check(default):
                wrong[var] = f"README {text!r}, code {default!r}: say {phrase!r}"
        elif isinstance(default, dict):
            # One default per database, named: "10000 (MySQL), 30000 (SQLite)".
            expected = f"{default['mysql']} (MySQL), {default['sqlite']} (SQLite)"
            if text != expected:
                wrong[var] = f"README {text!r}, code: {expected!r}"
        else:
            value = _readme_value(text, var, code_defaults)
            if _like(value, default) != default and not (value == "" and default in ("", [], None)):
                wrong[var] = f"README {text!r}, code {default!r}"
    assert wrong == {}


def test_config_readme_names_the_chunk_size_each_database_uses(code_defaults):
    assert code_defaults["IMPORT_CHUNK_ROWS"] == {"mysql": 10_000, "sqlite": 30_000}
    assert ("IMPORT_CHUNK_ROWS", "10000 (MySQL), 30000 (SQLite)") in _readme_rows()
