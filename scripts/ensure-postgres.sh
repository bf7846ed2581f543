#!/usr/bin/env bash
# Makes sure the PostgreSQL server the integration tests use answers on 127.0.0.1:5432:
# starts the local cluster when it is down, waits for it (with a deadline), and drops the
# databases left by earlier test runs. With CI=true a server that cannot be reached fails the run.
set -euo pipefail

host=127.0.0.1
port=5432
admin_url="${YEYAK_TEST_PG_URL:-postgres://postgres@${host}:${port}/postgres}"

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL client tools are not installed" >&2
  [ "${CI:-}" = "true" ] && exit 1 || exit 0
fi

if ! ready; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      echo "ensure-postgres: starting PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  fi
  deadline=$((SECONDS + 60))
  until ready; do
    if [ $SECONDS -ge $deadline ]; then
      echo "ensure-postgres: PostgreSQL did not answer on $host:$port within 60 s" >&2
      [ "${CI:-}" = "true" ] && exit 1 || { echo "ensure-postgres: PostgreSQL tests will be skipped" >&2; exit 0; }
    fi
    sleep 0.5
  done
fi

# Drop databases left behind by earlier runs (each test creates its own yeyak_t_* database).
stale=$(psql "$admin_url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'yeyak\_t\_%'" 2>/dev/null || true)
for db in $stale; do
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
done
echo "ensure-postgres: PostgreSQL is ready on $host:$port"
