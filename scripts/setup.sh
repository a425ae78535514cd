#!/usr/bin/env bash
# Idempotent set-up: virtualenv, system headers for mysqlclient, Python packages, MySQL database.
# `scripts/setup.sh test` also installs what the test suite needs: Debian's chromium for the browser tests and
# dovecot-imapd for the mailbox tests.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
PURPOSE=${1:-run}

say() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

apt_install() {
  # Installs Debian/Ubuntu packages when we can; otherwise stops with the exact command to run.
  command -v apt-get >/dev/null 2>&1 || { say "Missing system packages: $*. Install them with your package manager."; exit 1; }
  say "Installing system packages: $*"
  if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }; then
    say "Could not install them. Run:  sudo apt-get install -y $*"
    exit 1
  fi
}

command -v "$PYTHON" >/dev/null 2>&1 || { say "Python 3.11+ is required ($PYTHON not found)."; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "Python 3.11+ is required, found $("$PYTHON" -V)."; exit 1; }

# mysqlclient compiles against the MySQL/MariaDB client headers and Python's own headers.
need=()
pkg-config --version >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null || need+=(default-libmysqlclient-dev)
include_dir=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$include_dir/Python.h" ] || need+=(python3-dev)
command -v gcc >/dev/null 2>&1 || need+=(build-essential)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

# The browser tests drive the distribution's Chromium through Playwright's bundled driver; Playwright's own
# browser download (`playwright install`) is never used, since these machines and intranets have no internet.
if [ "$PURPOSE" = test ] && [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
# The mailbox tests start Debian's dovecot as a test process with a throw-away configuration (tests/inbox/
# dovecot.py); the system service the package may start is not used: stopped and disabled.
if [ "$PURPOSE" = test ] && [ ! -x /usr/sbin/dovecot ]; then
  apt_install dovecot-imapd
  as_root systemctl disable dovecot.service >/dev/null 2>&1 || true
  as_root systemctl stop dovecot.service >/dev/null 2>&1 || as_root service dovecot stop >/dev/null 2>&1 || true
fi

stamp="$VENV/.installed"
if [ ! -x "$VENV/bin/python" ]; then
  say "Creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
  say "Installing Python packages"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
  touch "$stamp"
fi

mkdir -p var
if [[ "${DATABASE_URL:-}" == mysql://* ]]; then
  # Create the database (utf8mb4) if the server lets us; tests make their own test_<name> database.
  "$VENV/bin/python" scripts/mysql_create_db.py
fi
