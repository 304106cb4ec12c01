#!/usr/bin/env bash
# Installs (Debian package) and starts a local PostgreSQL for the tests; prints its URL.
# Idempotent: a running cluster and an existing role/database are reused.
set -euo pipefail
USER_NAME=weather
PASSWORD=weather
DB=weather
log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# Pick the newest installed cluster, creating one if the package did not.
line=$(pg_lsclusters --no-header 2>/dev/null | sort -k1,1nr | head -n 1 || true)
if [ -z "$line" ]; then
  ver=$(ls /usr/lib/postgresql | sort -nr | head -n 1)
  pg_createcluster "$ver" main >&2
  line=$(pg_lsclusters --no-header | sort -k1,1nr | head -n 1)
fi
ver=$(echo "$line" | awk '{print $1}')
name=$(echo "$line" | awk '{print $2}')
port=$(echo "$line" | awk '{print $3}')
status=$(echo "$line" | awk '{print $4}')
if [ "$status" != "online" ]; then
  log "starting cluster $ver/$name on port $port"
  pg_ctlcluster "$ver" "$name" start >&2
fi
for _ in $(seq 1 50); do
  if su postgres -c "psql -p $port -Atqc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
psql_admin() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -Atq $*"; }
if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname='$USER_NAME'\"")" != "1" ]; then
  psql_admin "-c \"create role $USER_NAME login createdb password '$PASSWORD'\""
fi
if [ "$(psql_admin "-c \"select 1 from pg_database where datname='$DB'\"")" != "1" ]; then
  psql_admin "-c \"create database $DB owner $USER_NAME\""
fi
echo "postgresql+psycopg://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB"
