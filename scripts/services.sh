#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1, starting them (installing them first on a
# machine that has neither) when they do not. The tests use both for real.
set -euo pipefail

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # name port
  for _ in $(seq 1 60); do
    answers 127.0.0.1 "$2" && return 0
    sleep 0.5
  done
  echo "services: $1 does not answer on 127.0.0.1:$2" >&2
  return 1
}

apt_install() {
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "services: installing $*"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "services: $* missing; install it, or set DATABASE_URL / CELERY_BROKER_URL" >&2
    return 1
  fi
}

if ! answers 127.0.0.1 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  wait_for PostgreSQL 5432
fi

if ! answers 127.0.0.1 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis 6379
fi
echo "services: PostgreSQL and Redis answer"
