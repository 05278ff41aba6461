#!/usr/bin/env bash
# Run the site embedded: SQLite, a filesystem broker, one Celery worker and gunicorn on 127.0.0.1.
# Called by `make demo` once the virtual environment is installed.
#
# However it ends (Ctrl-C, the terminal closing, SIGTERM to make, a step failing), the script
# stops every process it started and waits for them before it exits, so a second `make demo`
# starts cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8000}"
BIN="${VENV:-.venv}/bin"
# The embedded database, the broker's files and the secret key; settings read VAR_DIR too.
var="${VAR_DIR:-var}"
mkdir -p "$var"

signal_all() { # signal: sent to every process this script started that is still running
  jobs >/dev/null # forgets the ones that have ended
  local pids
  pids=$(jobs -p)
  # Unquoted: one word per process id.
  [ -z "$pids" ] || kill "-$1" $pids 2>/dev/null || true
}
stop() { # exit status
  trap - EXIT
  # A second Ctrl-C does not wait for a scoring in progress: SIGQUIT is the cold shutdown of
  # Celery (the task goes back to the queue) and the quick one of gunicorn.
  trap 'signal_all QUIT' INT TERM HUP
  signal_all TERM
  until wait; do :; done # a trapped signal interrupts `wait`: wait again
  exit "$1"
}
trap 'stop $?' EXIT
trap 'stop 130' INT
trap 'stop 129' HUP
trap 'stop 143' TERM

# bash runs a trap only once the foreground command it waits for has ended, but interrupts a
# `wait` at once: each step runs in the background and is waited for, so a signal stops it now.
run() {
  "$@" &
  wait "$!"
}

# The worker and gunicorn run in sessions of their own, away from the terminal: its signals reach
# this script alone, which stops each with one SIGTERM. Were they in the terminal's process group,
# its SIGHUP would make Celery restart itself and gunicorn reload, and both would outlive it.
detached() {
  "$BIN/python" -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' "$@" &
}

# A real secret for this machine, made once: the demo runs with DEBUG off, as production does.
# Settings read it from VAR_DIR when SECRET_KEY is not set, so every manage.py command finds it.
if [ -z "${SECRET_KEY:-}" ] && [ ! -s "$var/secret_key" ]; then
  (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$var/secret_key")
fi
export DEBUG="${DEBUG:-false}"

run "$BIN/python" manage.py migrate --noinput
run "$BIN/python" manage.py collectstatic --noinput --verbosity 0
run "$BIN/python" manage.py seed_demo

# -B runs the periodic sweep that picks up submissions left queued or scoring too long.
detached "$BIN/celery" -A leaderboard worker -B --schedule "$var/celerybeat-schedule" \
  --loglevel=INFO --concurrency=2

# The command that makes a staff account, with what it needs to find this demo's database.
superuser="$BIN/python manage.py createsuperuser"
if [ -n "${VAR_DIR:-}" ]; then
  superuser="VAR_DIR=$(printf '%q' "$VAR_DIR") $superuser"
fi
echo
echo "  The leaderboard is at http://127.0.0.1:${PORT}/  (Ctrl-C stops the site and the worker;"
echo "  a second Ctrl-C does not wait for a scoring in progress)"
echo "  Staff account: ${superuser}, then http://127.0.0.1:${PORT}/admin/"
echo
detached "$BIN/gunicorn" leaderboard.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile -
web=$!
# Until gunicorn ends (it cannot bind the port, say) or a signal comes.
status=0
wait "$web" || status=$?
stop "$status"
