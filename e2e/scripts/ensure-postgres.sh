#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian cluster 15/main), installing it from Debian if absent, and
# makes sure the role `tether` (password `tether`, CREATEDB) and its database `tether_test` exist.
# Prints that database's URL on stdout; progress goes to stderr. Idempotent, fast when PostgreSQL
# already runs, and safe when several test files run it at once.
set -euo pipefail
PG_VERSION="${TETHER_PG_VERSION:-15}"
PG_PORT="${TETHER_PG_PORT:-5432}"
DB=tether_test

say() { printf '[postgres] %s\n' "$*" >&2; }
fail() { printf '[postgres] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }
as_postgres() { if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }
cluster_field() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v f="$1" '$1==v && $2=="main" {print $f}'; }
sql() { as_postgres psql -p "$PG_PORT" -d postgres -tAc "$1"; }
url="postgres://tether:tether@127.0.0.1:$PG_PORT/$DB"
login() { PGPASSWORD=tether psql -h 127.0.0.1 -p "$PG_PORT" -U tether -d "$DB" -tAc "SELECT 1" 2>&1; }

if command -v psql >/dev/null 2>&1 && login >/dev/null; then
  printf '%s\n' "$url"
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "step install: apt-get install postgresql"
  apt-get update -qq >&2 || fail install "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || fail install "apt-get install postgresql failed"
fi
if [ -z "$(cluster_field 2)" ]; then
  say "step create: pg_createcluster $PG_VERSION main"
  pg_createcluster "$PG_VERSION" main >&2 || [ -n "$(cluster_field 2)" ] || fail create "pg_createcluster $PG_VERSION main failed"
fi
if [ "$(cluster_field 4)" != online ]; then
  say "step start: pg_ctlcluster $PG_VERSION main start"
  # Another caller may have started it meanwhile; only a cluster that is still down is a failure.
  pg_ctlcluster "$PG_VERSION" main start >&2 || [ "$(cluster_field 4)" = online ] ||
    fail start "pg_ctlcluster $PG_VERSION main start failed (see /var/log/postgresql/)"
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || fail ready "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within 10 s"
if [ "$(sql "SELECT 1 FROM pg_roles WHERE rolname='tether'")" != 1 ]; then
  say "step role: creating role tether"
  out=$(sql "CREATE ROLE tether LOGIN PASSWORD 'tether' CREATEDB" 2>&1) ||
    [ "$(sql "SELECT 1 FROM pg_roles WHERE rolname='tether'")" = 1 ] || fail role "CREATE ROLE tether failed: $out"
fi
if [ "$(sql "SELECT 1 FROM pg_database WHERE datname='$DB'")" != 1 ]; then
  say "step database: creating database $DB"
  out=$(sql "CREATE DATABASE $DB OWNER tether" 2>&1) ||
    [ "$(sql "SELECT 1 FROM pg_database WHERE datname='$DB'")" = 1 ] || fail database "CREATE DATABASE $DB failed: $out"
fi
out=$(login) || fail login "tether cannot log in over TCP with its password (pg_hba.conf?): $out"
printf '%s\n' "$url"
