#!/bin/sh
# Entrypoint wrapper for images that read secrets only from environment
# variables (Chatwoot, Keycloak): every Docker secret mounted in /run/secrets
# whose file name is a valid upper-case variable name (POSTGRES_PASSWORD, ...)
# is exported with the file's content, then the real entrypoint runs.
# Secrets thus never appear in the service spec (`docker service inspect`).
set -eu
for f in /run/secrets/*; do
  [ -f "$f" ] || continue
  name=${f##*/}
  case "$name" in
    *[!A-Z0-9_]* | [0-9]*) continue ;;
  esac
  value=$(cat "$f")
  export "$name=$value"
done
exec "$@"
