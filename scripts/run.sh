#!/usr/bin/env bash
# Serve the app and a django-q2 worker together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
ADDR=${RUN_ADDR:-127.0.0.1:8000}

"$PY" manage.py qcluster &
worker=$!
"$PY" manage.py runserver --noreload "$ADDR" &
web=$!
trap 'kill $worker $web 2>/dev/null; wait $worker $web 2>/dev/null; exit 0' INT TERM
echo "importhub on http://$ADDR/ (admin: http://$ADDR/admin/, API docs: http://$ADDR/api/docs/). Ctrl-C stops."
echo "Debug pages are off unless DEBUG=true is set (e.g. DEBUG=true make run)."
wait -n $worker $web
kill $worker $web 2>/dev/null || true
wait || true
