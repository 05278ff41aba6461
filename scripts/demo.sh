#!/usr/bin/env bash
# Run the site embedded: SQLite, a filesystem broker, one Celery worker and gunicorn on 127.0.0.1.
# Called by `make demo` once the virtual environment is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8000}"
BIN="${VENV:-.venv}/bin"
mkdir -p var
# A real secret for this machine, made once: the demo runs with DEBUG off, as production does.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s var/secret_key ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key
  SECRET_KEY="$(cat var/secret_key)"
  export SECRET_KEY
fi
export DEBUG="${DEBUG:-false}"

"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py collectstatic --noinput --verbosity 0
"$BIN/python" manage.py seed_demo

# -B runs the periodic sweep that picks up submissions left queued or scoring too long.
"$BIN/celery" -A leaderboard worker -B --schedule var/celerybeat-schedule --loglevel=INFO --concurrency=2 &
worker=$!
stop() {
  kill "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
}
trap stop EXIT INT TERM

echo
echo "  The leaderboard is at http://127.0.0.1:${PORT}/  (Ctrl-C stops the site and the worker)"
echo "  Staff account: ${BIN}/python manage.py createsuperuser, then http://127.0.0.1:${PORT}/admin/"
echo
"$BIN/gunicorn" leaderboard.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile - 
