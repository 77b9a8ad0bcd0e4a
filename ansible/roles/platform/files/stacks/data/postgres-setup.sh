#!/bin/bash
# One-shot service of stack "data": on the current primary, creates or
# updates the logins the pair needs and drops a slot nobody will read again.
# Runs at every deploy that changes it (a new image, config, password or
# primary); exits non-zero while the primary is not ready, so Swarm retries.
#   replicator         REPLICATION, and what pg_rewind reads (docs/failover.md)
#   postgres_exporter  pg_monitor, for the metrics (replication lag)
# Environment: PGHOST (the primary's service), PG_STANDBY_ENABLED;
# SECRETS_DIR for tests (default /run/secrets).
set -euo pipefail
secrets=${SECRETS_DIR:-/run/secrets}
export PGUSER=postgres PGDATABASE=postgres PGCONNECT_TIMEOUT=5
PGPASSWORD=$(cat "$secrets/postgres-superuser-password")
export PGPASSWORD

if ! state=$(psql -XAtqc 'SELECT pg_is_in_recovery()'); then
  echo "postgres-setup: $PGHOST is not answering yet"
  exit 1
fi
if [ "$state" != f ]; then
  echo "postgres-setup: $PGHOST is a standby, not the primary"
  exit 1
fi

repl_pw=$(cat "$secrets/postgres-replication-password")
exporter_pw=$(cat "$secrets/postgres-exporter-password")
if [ -z "$repl_pw" ] || [ -z "$exporter_pw" ]; then
  echo "postgres-setup: a password secret is empty"
  exit 1
fi
# The passwords reach psql through its environment (\getenv), never argv.
REPL_PW=$repl_pw EXPORTER_PW=$exporter_pw psql -X -v ON_ERROR_STOP=1 -v standby_enabled="${PG_STANDBY_ENABLED:-false}" <<'SQL'
\getenv repl_pw REPL_PW
\getenv exporter_pw EXPORTER_PW
SELECT 'CREATE ROLE replicator' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'replicator') \gexec
ALTER ROLE replicator WITH LOGIN REPLICATION PASSWORD :'repl_pw';
-- What pg_rewind needs from a non-superuser source (PostgreSQL 16 docs, pg_rewind).
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO replicator;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO replicator;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO replicator;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO replicator;
SELECT 'CREATE ROLE postgres_exporter' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgres_exporter') \gexec
ALTER ROLE postgres_exporter WITH LOGIN PASSWORD :'exporter_pw';
GRANT pg_monitor TO postgres_exporter;
-- With the standby switched off its slot would hold WAL back (up to
-- max_slot_wal_keep_size) for nobody.
SELECT slot_name, pg_drop_replication_slot(slot_name) AS dropped
  FROM pg_replication_slots
 WHERE :'standby_enabled' <> 'true' AND slot_type = 'physical' AND NOT active
   AND slot_name IN ('postgres', 'postgres_standby');
SQL
echo "postgres-setup: logins ready on $PGHOST"
