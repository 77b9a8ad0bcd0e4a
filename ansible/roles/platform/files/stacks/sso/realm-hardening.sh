#!/bin/bash
# One-shot service `realm-hardening` of stack "sso": what the realm import
# cannot do, or does only for a realm it creates (the import skips an
# existing realm, and Keycloak makes the master realm itself). Idempotent;
# runs at every deploy that changes the stack's files.
#
#   master realm     brute-force detection on (its admin console is reachable
#                    only from the administrators' addresses: Traefik)
#   staff realm      brute-force detection on (also for a realm imported
#                    before this setting existed), and a one-time password at
#                    every browser sign-in: a copy of the built-in browser
#                    flow ("browser-otp") whose OTP step is required rather
#                    than "if the user has one", bound as the realm's browser
#                    flow. A user without OTP is made to set it up (Keycloak's
#                    CONFIGURE_TOTP required action) before getting in.
#
# Environment: KEYCLOAK_URL (default http://keycloak:8080), KEYCLOAK_ADMIN_USER,
# KC_CLI_PASSWORD (kcadm reads the password from it; a Docker secret exported
# by secrets-env, never on a command line), CONCIERGE_REALM.
set -euo pipefail

realm=${CONCIERGE_REALM:?CONCIERGE_REALM must name the staff realm}
flow=browser-otp
config=$(mktemp)
kc() { /opt/keycloak/bin/kcadm.sh "$@" --config "$config"; }

for _ in {1..60}; do
  if kc config credentials --server "${KEYCLOAK_URL:-http://keycloak:8080}" --realm master \
    --user "${KEYCLOAK_ADMIN_USER:-admin}" >/dev/null 2>&1; then
    break
  fi
  echo "realm-hardening: Keycloak is not answering yet"
  sleep 10
done
kc get realms/master --fields realm >/dev/null

# Growing waits after 5 failures, up to 15 minutes; never a permanent lockout
# (an attacker could then lock every account out).
brute=(-s bruteForceProtected=true -s permanentLockout=false -s failureFactor=5
  -s waitIncrementSeconds=60 -s maxFailureWaitSeconds=900 -s maxDeltaTimeSeconds=43200
  -s quickLoginCheckMilliSeconds=1000 -s minimumQuickLoginWaitSeconds=60)
kc update realms/master "${brute[@]}"
kc update "realms/$realm" "${brute[@]}"
echo "realm-hardening: brute-force detection on in master and $realm"

if ! kc get authentication/flows -r "$realm" --fields alias --format csv --noquotes | grep -qx "$flow"; then
  kc create authentication/flows/browser/copy -r "$realm" -s newName="$flow"
fi
# id,displayName,requirement of every step of the copy.
executions=$(kc get "authentication/flows/$flow/executions" -r "$realm" \
  --fields id,displayName,requirement --format csv --noquotes)
otp_flow=$(grep -F 'Conditional OTP' <<<"$executions" | head -1 | cut -d, -f1)
condition=$(grep -F 'Condition - user configured' <<<"$executions" | head -1 | cut -d, -f1)
otp_form=$(grep -F 'OTP Form' <<<"$executions" | head -1 | cut -d, -f1)
if [ -z "$otp_flow" ] || [ -z "$condition" ] || [ -z "$otp_form" ]; then
  echo "realm-hardening: the browser flow copy has no conditional OTP step; its steps are:" >&2
  echo "$executions" >&2
  exit 1
fi
for step in "$otp_flow:REQUIRED" "$condition:DISABLED" "$otp_form:REQUIRED"; do
  kc update "authentication/flows/$flow/executions" -r "$realm" \
    -b "{\"id\":\"${step%%:*}\",\"requirement\":\"${step##*:}\"}"
done
kc update "authentication/required-actions/CONFIGURE_TOTP" -r "$realm" -s enabled=true
kc update "realms/$realm" -s browserFlow="$flow"
echo "realm-hardening: $realm signs in with password and one-time password ($flow)"
rm -f "$config"
