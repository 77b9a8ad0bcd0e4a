#!/bin/bash
# Entrypoint of both PostgreSQL services of stack "data" (the members
# `postgres` and `postgres-standby`): decides whether this member starts as
# the primary or as a streaming standby of the other member, prepares the
# data directory for that, then runs the image's entrypoint with the same
# arguments. docs/failover.md describes the pair; this is what makes a member
# follow, take over or rejoin:
#
#   primary, no cluster yet              initdb (the image's entrypoint), unless
#                                        the peer answers as a standby with data
#   primary, the cluster is a standby    promoted first (pg_ctl promote: a new
#                                        timeline), then started as primary
#   primary, the peer answers as primary refuses to start: never two primaries
#   standby, no cluster yet              cloned from the peer (pg_basebackup)
#   standby, the cluster is a standby    started; streams from the peer
#   standby, the cluster was a primary   rewound to the peer (pg_rewind), then
#                                        a standby (the former primary rejoins)
#
# Environment:
#   PGDATA              the cluster (the image's setting)
#   PG_ROLE             primary | standby
#   PG_STANDBY_ENABLED  true when the pair exists (false: a lone primary, no checks)
#   PG_PEER_HOST        the other member's service (data_postgres-standby, ...)
#   PG_SLOT             this member's physical replication slot on the peer
#   PG_REPLICATION_USER the replication login (default replicator)
#   PGPASSFILE          .pgpass with that login's password (a Docker secret, 0400)
# Tests set PG_ENTRYPOINT (default docker-entrypoint.sh), PG_RUN_AS (default
# gosu postgres when run as root), PG_PEER_PORT and PG_RETRY_DELAY.
set -euo pipefail

log() { echo "pg-member[${PG_MEMBER:-?}]: $*" >&2; }
# Swarm restarts the task; the delay keeps a waiting member from spinning.
retry_later() {
  log "$*"
  sleep "${PG_RETRY_DELAY:-10}"
  exit 1
}

: "${PGDATA:?PGDATA must be set}"
: "${PG_ROLE:?PG_ROLE must be primary or standby}"
PG_STANDBY_ENABLED=${PG_STANDBY_ENABLED:-false}
PG_REPLICATION_USER=${PG_REPLICATION_USER:-replicator}
PG_ENTRYPOINT=${PG_ENTRYPOINT:-docker-entrypoint.sh}
if [ -z "${PG_RUN_AS+x}" ]; then
  if [ "$(id -u)" = 0 ]; then PG_RUN_AS="gosu postgres"; else PG_RUN_AS=""; fi
fi

as_postgres() {
  # shellcheck disable=SC2086 # PG_RUN_AS is a command prefix, split on purpose.
  if [ -n "$PG_RUN_AS" ]; then $PG_RUN_AS "$@"; else "$@"; fi
}

# One server per data directory on this node, whichever service it runs in:
# the lock is on the volume and the server inherits it (descriptor 9), so a
# second member scheduled here while the first runs waits instead of
# starting a second postmaster on the same files.
lock=${PG_LOCK_FILE:-$(dirname "$PGDATA")/.pg-member.lock}
exec 9>>"$lock"
flock -n 9 || retry_later "another PostgreSQL server on this node holds $lock; not starting a second one on the same data"

has_cluster() { [ -s "$PGDATA/PG_VERSION" ]; }
is_standby() { [ -f "$PGDATA/standby.signal" ]; }

peer_conn="host=${PG_PEER_HOST:-} port=${PG_PEER_PORT:-5432} user=$PG_REPLICATION_USER dbname=postgres connect_timeout=5 application_name=pg-member"

peer_sql() { as_postgres psql "$peer_conn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# primary, standby or down (unreachable, refused, or no such service).
peer_state() {
  local r
  if r=$(peer_sql 'SELECT pg_is_in_recovery()' 2>/dev/null); then
    if [ "$r" = t ]; then echo standby; else echo primary; fi
  else
    echo down
  fi
}

# This member's slot on the (primary) peer: WAL stays there until we have it.
ensure_slot() {
  peer_sql "SELECT pg_create_physical_replication_slot('$PG_SLOT', true)
            WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$PG_SLOT')" >/dev/null
}

# Promotes the standby cluster here without letting clients in: a local-only
# server, pg_ctl promote (ends recovery on a new timeline, so a former
# primary can later be rewound onto it), clean stop. Same options as the real
# server, like the image's own temporary server during initdb.
promote_here() {
  log "declared primary but the cluster is a standby: promoting it"
  local opts
  opts=$(printf '%q ' "$@")
  as_postgres pg_ctl -D "$PGDATA" -w -t 3600 start -o "$opts -c listen_addresses=''"
  as_postgres pg_ctl -D "$PGDATA" -w -t 3600 promote
  as_postgres pg_ctl -D "$PGDATA" -w -t 600 stop -m fast
  log "promoted"
}

clone() {
  [ "$(peer_state)" = primary ] || retry_later "waiting for the primary $PG_PEER_HOST to clone from"
  if [ -e "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
    retry_later "$PGDATA holds files but no cluster (PG_VERSION): move it aside to clone this standby again"
  fi
  ensure_slot || retry_later "could not create the replication slot $PG_SLOT on $PG_PEER_HOST"
  local tmp="$PGDATA.clone"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if [ "$(id -u)" = 0 ]; then chown "${PG_OWNER:-postgres}:" "$tmp"; fi
  chmod 0700 "$tmp"
  log "cloning from $PG_PEER_HOST (pg_basebackup, slot $PG_SLOT)"
  as_postgres pg_basebackup --pgdata="$tmp" --dbname="$peer_conn" --wal-method=stream \
    --slot="$PG_SLOT" --checkpoint=fast --no-password ||
    retry_later "pg_basebackup from $PG_PEER_HOST failed"
  as_postgres touch "$tmp/standby.signal"
  # A crash before this rename leaves only $tmp, which the next attempt removes.
  if [ -d "$PGDATA" ]; then rmdir "$PGDATA"; fi
  mv "$tmp" "$PGDATA"
  log "cloned"
}

rejoin() {
  [ "$(peer_state)" = primary ] || retry_later "waiting for the primary $PG_PEER_HOST before rejoining it"
  # A crashed former primary: finish its crash recovery with the server's own
  # settings (pg_rewind would run it without our -c options, and its
  # wal_log_hints=off would then fail pg_rewind's own check).
  local state
  state=$(as_postgres pg_controldata -D "$PGDATA" | sed -n 's/^Database cluster state: *//p')
  if [ "$state" != "shut down" ] && [ "$state" != "shut down in recovery" ]; then
    log "the cluster here is \"$state\": finishing its crash recovery first"
    as_postgres postgres --single -F -D "$PGDATA" "$@" template1 </dev/null >/dev/null ||
      retry_later "crash recovery of the former primary failed"
  fi
  log "the cluster here was a primary: rewinding it onto $PG_PEER_HOST (pg_rewind)"
  as_postgres pg_rewind --target-pgdata="$PGDATA" --source-server="$peer_conn" --progress ||
    retry_later "pg_rewind failed: re-clone this member instead (docs/failover.md, \"Rejoin\")"
  # Slots are the primary's business; a standby keeps none (they would pin WAL here).
  find "$PGDATA/pg_replslot" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  as_postgres touch "$PGDATA/standby.signal"
  log "rewound; starting as a standby"
}

case "$PG_ROLE" in
  primary)
    if [ "$PG_STANDBY_ENABLED" = true ]; then
      state=$(peer_state)
      if [ "$state" = primary ]; then
        retry_later "the peer $PG_PEER_HOST answers as a primary: not starting a second primary (docs/failover.md)"
      fi
      if ! has_cluster && [ "$state" = standby ]; then
        retry_later "no cluster here but the standby $PG_PEER_HOST has one: promote that member instead of starting an empty primary (docs/failover.md)"
      fi
    fi
    if has_cluster && is_standby; then
      promote_here "${@:2}"
    fi
    ;;
  standby)
    [ "$PG_STANDBY_ENABLED" = true ] || retry_later "PG_ROLE=standby needs PG_STANDBY_ENABLED=true"
    [[ "${PG_SLOT:-}" =~ ^[a-z0-9_]+$ ]] || retry_later "PG_SLOT must be lower-case letters, digits and underscores"
    [ -n "${PG_PEER_HOST:-}" ] || retry_later "PG_PEER_HOST must name the primary"
    if ! has_cluster; then
      clone
    elif ! is_standby; then
      rejoin "${@:2}"
    fi
    # After a failover the new primary has no slot for us yet.
    if [ "$(peer_state)" = primary ]; then
      ensure_slot || log "could not check the replication slot $PG_SLOT on $PG_PEER_HOST; streaming without it until the next start"
    fi
    ;;
  *)
    retry_later "PG_ROLE must be primary or standby, not '$PG_ROLE'"
    ;;
esac

exec "$PG_ENTRYPOINT" "$@"
