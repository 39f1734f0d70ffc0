#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian cluster 15/main), installing it from Debian if absent, and
# makes sure the role `tether` (password `tether`, CREATEDB) exists. Prints an admin URL for that role
# on stdout; progress goes to stderr. Idempotent and fast when PostgreSQL already runs.
set -euo pipefail
PG_VERSION="${TETHER_PG_VERSION:-15}"
PG_PORT="${TETHER_PG_PORT:-5432}"

say() { printf '[postgres] %s\n' "$*" >&2; }
fail() { printf '[postgres] FAILED at step "%s": %s\n' "$1" "$2" >&2; exit 1; }
as_postgres() { if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "step install: apt-get install postgresql"
  apt-get update -qq >&2 || fail install "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || fail install "apt-get install postgresql failed"
fi
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1==v && $2=="main"' | grep -q .; then
  say "step create: pg_createcluster $PG_VERSION main"
  pg_createcluster "$PG_VERSION" main >&2 || fail create "pg_createcluster $PG_VERSION main failed"
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
  say "step start: pg_ctlcluster $PG_VERSION main start"
  pg_ctlcluster "$PG_VERSION" main start >&2 || fail start "pg_ctlcluster $PG_VERSION main start failed (see /var/log/postgresql/)"
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || fail ready "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within 10 s"
if ! as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_roles WHERE rolname='tether'" | grep -q 1; then
  say "step role: creating role tether"
  as_postgres psql -p "$PG_PORT" -qc "CREATE ROLE tether LOGIN PASSWORD 'tether' CREATEDB" >&2 || fail role "CREATE ROLE tether failed"
fi
printf 'postgres://tether:tether@127.0.0.1:%s/postgres\n' "$PG_PORT"
