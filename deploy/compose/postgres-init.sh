#!/usr/bin/env bash
# Run once by the official postgres image (/docker-entrypoint-initdb.d/) when it initialises an
# empty data directory: one login role and one database per service, each role able to connect
# to its own database only (PUBLIC may connect to none) — what `jiph up` provisions locally
# (jiph/stack/postgres.py). Passwords are read from files (Compose secrets), never from the
# command line. Existing roles and databases are left as they are, so it is safe to run again.
set -euo pipefail

services="${JIPH_SERVICES:-intake triage deployment reporting}"
secrets_dir="${JIPH_DB_PASSWORD_DIR:-/run/secrets}"

for service in $services; do
  role="jiph_${service}"
  password_file="${secrets_dir}/${role}_db_password"
  if [ ! -s "$password_file" ]; then
    echo "postgres-init: ${password_file} is missing or empty" >&2
    exit 1
  fi
  password="$(cat "$password_file")"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set role="$role" --set password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'role', :'role') \gexec
SQL
  echo "postgres-init: role and database ${role} ready"
done
