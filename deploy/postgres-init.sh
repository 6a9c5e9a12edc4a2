#!/bin/sh
# Run once by the postgres image on an empty data dir: a role and a database for the bridge's
# PostgreSQL store (compose profile "pg"), with the password from BRIDGE_DB_PASSWORD.
set -eu
[ -n "${BRIDGE_DB_PASSWORD:-}" ] || { echo "postgres-init: BRIDGE_DB_PASSWORD is empty: no bridge role created" >&2; exit 0; }
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$BRIDGE_DB_PASSWORD" <<'SQL'
CREATE ROLE bridge LOGIN PASSWORD :'pw';
CREATE DATABASE bridge OWNER bridge;
SQL
