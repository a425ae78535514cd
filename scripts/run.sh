#!/usr/bin/env bash
# `make run`: prepare the database, serve the app with a django-q2 worker, then print ONE block (URL, admin login,
# where the logs go). The server's and the worker's full output go to files in RUN_LOG_DIR (default var/log);
# after the block the terminal shows one short line per request and any error. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
export PYTHONUNBUFFERED=1

say() { printf '[run] %s\n' "$*"; }

# RUN_ADDR, RUN_LOG_DIR and DEBUG as the settings read them (environment first, then .env).
{ read -r ADDR; read -r LOG_DIR; read -r DEBUG_ON; } < <(DJANGO_SETTINGS_MODULE=importhub.settings "$PY" -c \
  'from django.conf import settings as s; print(s.RUN_ADDR); print(s.RUN_LOG_DIR); print(s.DEBUG)')
mkdir -p "$LOG_DIR"
setup_log="$LOG_DIR/setup.log"
web_log="$LOG_DIR/web.log"
worker_log="$LOG_DIR/worker.log"

say "Preparing the database: migrations, demo tables, admin login (output in $setup_log)"
if ! { "$PY" manage.py migrate --noinput && "$PY" manage.py load_demo_config; } >"$setup_log" 2>&1; then
  tail -n 30 "$setup_log"
  say "Preparing the database failed; the whole output is in $setup_log"
  exit 1
fi
login=$("$PY" manage.py ensure_admin 2>>"$setup_log") || {
  tail -n 30 "$setup_log"
  exit 1
}

host=${ADDR%:*}
port=${ADDR##*:}
[ "$host" = "$ADDR" ] && host=127.0.0.1 # RUN_ADDR=8000: a port only
case $host in "" | 0.0.0.0 | "[::]") probe_host=127.0.0.1 ;; *) probe_host=$host ;; esac
url="http://$host:$port/"

# Each process in its own process group (job control): a Ctrl-C or a signal to this script's group reaches this
# script only, which stops the worker the way django-q2 expects (its main process first; it stops its children).
set -m
say "Starting the server and the worker (logs: $web_log, $worker_log)"
: >"$web_log"
: >"$worker_log"
"$PY" manage.py qcluster >>"$worker_log" 2>&1 &
worker=$!
"$PY" manage.py runserver --noreload "$ADDR" >>"$web_log" 2>&1 &
web=$!
followers=()

stop() {
  trap "" INT TERM HUP # a second signal (timeout sends two) must not cut the clean stop short
  trap - EXIT
  echo
  say "Stopping the server and the worker..."
  # runserver takes SIGINT as its own Ctrl-C (and bash prints no "Terminated" notice for it).
  kill -INT "$web" 2>/dev/null || true
  kill -TERM "$worker" 2>/dev/null || true
  for group in "${followers[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for _ in $(seq 1 60); do
    kill -0 "$worker" 2>/dev/null || kill -0 "$web" 2>/dev/null || break
    sleep 0.5
  done
  # Whatever is left of either process group after 30 s (a worker stuck in a task) is killed.
  kill -KILL -- "-$worker" "-$web" 2>/dev/null || true
  wait 2>/dev/null || true
  say "Stopped."
}
trap 'stop; exit 0' INT TERM HUP
trap stop EXIT

# Ready: the server answers /healthz and the worker says it is running; either one dying ends the wait.
# In the background, so that a Ctrl-C meanwhile reaches this script (and stops everything).
"$PY" - "$probe_host" "$port" "$worker_log" "$web" "$worker" <<'EOF' &
import os, sys, time, urllib.request

host, port, worker_log, *pids = sys.argv[1:]
deadline = time.monotonic() + 120
web_up = worker_up = False
while time.monotonic() < deadline:
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            sys.exit(1)
    if not web_up:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2).close()
            web_up = True
        except OSError:
            pass
    if not worker_up:
        with open(worker_log, encoding="utf-8", errors="replace") as log:
            worker_up = " running." in log.read()
    if web_up and worker_up:
        sys.exit(0)
    time.sleep(0.25)
sys.exit(1)
EOF
if ! wait $!; then
  say "The server or the worker did not start. Last lines of $web_log:"
  tail -n 15 "$web_log"
  say "Last lines of $worker_log:"
  tail -n 15 "$worker_log"
  exit 1
fi

# From here on the terminal gets one short line per request (static files left out) and every error.
web_from=$(($(stat -c %s "$web_log") + 1))
worker_from=$(($(stat -c %s "$worker_log") + 1))
line=$(printf '%.0s-' $(seq 1 78))
cat <<BLOCK

$line
 importhub is running
   Open         $url
   Admin        ${url}admin/          API docs  ${url}api/docs/
   Admin login  $login
   Logs         $web_log (server), $worker_log (worker), $setup_log (set-up)
   Debug pages  $([ "$DEBUG_ON" = True ] && echo on || echo 'off (DEBUG=true make run turns them on)')
 Ctrl-C stops the server and the worker. Requests and errors follow below.
$line
BLOCK

tail -c "+$web_from" -F "$web_log" 2>/dev/null | sed -u -n -E \
  -e '\#"[A-Z]+ /static/#d' \
  -e 's#^\[[^]]* ([0-9:]+)\] "([A-Z]+) ([^ ]*) [^"]*" ([0-9]+) .*#\1  \2 \3  \4#p' \
  -e 's#^[0-9-]+ ([0-9:]+),[0-9]+ (ERROR|CRITICAL) [^:]*: (.*)#\1  server \2: \3 (details in '"$web_log"')#p' &
followers+=("$(jobs -p %%)")
disown # stopped by its process group, without bash's "Terminated" notice
tail -c "+$worker_from" -F "$worker_log" 2>/dev/null | sed -u -n -E \
  -e 's#^[0-9-]+ ([0-9:]+),[0-9]+ (WARNING|ERROR|CRITICAL) [^:]*: (.*)#\1  worker \2: \3 (details in '"$worker_log"')#p' &
followers+=("$(jobs -p %%)")
disown # stopped by its process group, without bash's "Terminated" notice

set +e
wait -n "$worker" "$web"
say "The $(kill -0 "$web" 2>/dev/null && echo worker || echo server) stopped by itself; see $LOG_DIR/."
exit 1
