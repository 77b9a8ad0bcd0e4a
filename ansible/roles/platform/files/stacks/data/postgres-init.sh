#!/bin/bash
# Runs once, when the PostgreSQL data directory is first initialised
# (docker-entrypoint-initdb.d). Creates one role and one database per
# application; passwords come from Docker secrets (read by psql itself, so
# they never appear on a command line). Later password changes are
# applied by hand: ALTER ROLE ... PASSWORD (see docs/deploy.md).
set -euo pipefail

create_app_db() {
  local role="$1" db="$2" password_file="$3"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$role" -v db="$db" -v pwfile="$password_file" <<'SQL'
\set pw `cat :pwfile`
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create_app_db chatwoot chatwoot /run/secrets/postgres-chatwoot-password
create_app_db keycloak keycloak /run/secrets/postgres-keycloak-password
create_app_db concierge concierge /run/secrets/postgres-concierge-password
# The backup function verifies every dump by restoring it into a scratch
# database, which it creates and drops.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c 'ALTER ROLE concierge CREATEDB;'

# Extensions that need a superuser (pgvector is not a trusted extension).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname chatwoot \
  -c 'CREATE EXTENSION IF NOT EXISTS vector;'
for ext in pg_trgm unaccent; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname concierge \
    -c "CREATE EXTENSION IF NOT EXISTS ${ext};"
done
