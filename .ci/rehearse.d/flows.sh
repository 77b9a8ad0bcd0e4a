# shellcheck shell=bash disable=SC2154 # the variables are .ci/rehearse's
# .ci/rehearse.d/flows.sh, sourced by .ci/rehearse: the flows through the
# fake Chatwoot (text and voice), the backup verified by restore, and
# concierge doctor. Each adds one line to the table with row.

# cw_post PATH JSON: a control request to the fake Chatwoot.
cw_post() { curl -fsS -X POST -H 'Content-Type: application/json' "$cw/_rehearsal/$1" -d "$2"; }

# cw_messages CONVERSATION: the messages posted in it through the API, one
# line each: private|sender|content type...|attachments|content.
cw_messages() {
	curl -fsS "$cw/_rehearsal/posted" | python3 -c '
import json, sys
conv = int(sys.argv[1])
for m in json.load(sys.stdin)["messages"] or []:
    if m["conversation_id"] != conv:
        continue
    atts = ",".join("%s:%s:%d" % (a["content_type"], a["magic"], a["bytes"]) for a in m["attachments"])
    print("%s|%s|%s|%s" % ("private" if m["private"] else "public", m["sender"], atts, (m["content"] or "").replace("\n", " ")))
' "$1"
}

# cw_deliver CONVERSATION EVENT: the fake plays Chatwoot's agent-bot
# webhook job from inside the swarm (signed with the bot's secret, retried
# on 429 and 500) to the gateway's llm-query; prints the statuses.
cw_deliver() {
	cw_post deliver "$(printf '{"url":"http://gateway:8080/function/llm-query","secret":"%s","conversation_id":%d,"payload":%s}' "$cw_secret" "$1" "$2")" |
		python3 -c 'import json,sys; o=json.load(sys.stdin); print(("delivered" if o["Delivered"] else "NOT delivered") + " HTTP " + "/".join(map(str, o["Statuses"])) + (", moved to open" if o["MovedToOpen"] else ""))'
}

# A guest's question on WhatsApp: Chatwoot's signed agent-bot event ->
# gateway -> llm-query (stored, answer job) -> queue-worker -> llm-query's
# answer job (the offline answerer: no model key) -> reply job ->
# chatwoot-reply -> the message posted on the fake Chatwoot by the bot. The
# guest is the Guesty fixture's (phone = the channel's sender), proven by
# the channel, with the reservation the Guesty flow stored.
flow_bot_text() {
	local conv=800001 t0=$SECONDS ev out line=
	cw_post conversations "{\"id\":$conv,\"inbox_id\":4,\"contact_id\":57,\"status\":\"pending\"}" >/dev/null ||
		{ row "Chatwoot bot: question -> answer posted" FAIL "the fake Chatwoot (chatwoot_web) does not answer on $cw"; return; }
	ev=$("$helper" botevent -fixture "$fx/chatwoot/message_created.incoming.json" -conversation $conv -message 900001 \
		-content "What time can we check in?")
	out=$(cw_deliver $conv "$ev" 2>&1) || out="control request failed: $out"
	local end=$((SECONDS + 120))
	while ((SECONDS < end)); do
		line=$(cw_messages $conv | grep '^public|agent_bot|' | head -1) && [[ -n $line ]] && break
		sleep 1
	done
	if [[ -n $line ]]; then
		row "Chatwoot bot: question -> answer posted" ok "$out; answer in $((SECONDS - t0)) s: \"$(cut -d'|' -f4- <<<"$line" | cut -c1-70)\""
	else
		row "Chatwoot bot: question -> answer posted" FAIL "$out; no bot message in conversation $conv after $((SECONDS - t0)) s; jobs: $(sql "SELECT string_agg(kind || ' ' || status || ' ' || coalesce(left(last_error, 60), ''), '; ') FROM jobs WHERE kind IN ('answer','reply')")"
	fi
}

# A voice message: the same event with an OGG voice note (flite's voice,
# made in the stt image) whose data_url the fake serves as ActiveStorage
# does -> stt (pocketsphinx in the Debian image) -> transcript note ->
# answer -> tts (flite + ffmpeg) -> the reply posted with an OGG/Opus clip.
flow_bot_voice() {
	local conv=800002 t0=$SECONDS ev out note='' reply='' img=$REGISTRY/concierge-stt:$TAG
	mkdir -p "$work/voice"
	chmod 0777 "$work/voice"
	if ! $docker run --rm --network none --user 65532 --entrypoint /bin/sh -v "$work/voice:/out" "$img" -c \
		'flite -voice rms -t "What time can we check in" -o /tmp/v.wav && ffmpeg -loglevel error -y -i /tmp/v.wav -ac 1 -ar 48000 -c:a libopus -b:a 24k -application voip -f ogg /out/voice.ogg' \
		>"$work/voice/make.log" 2>&1; then
		row "Chatwoot bot: voice -> stt -> answer -> tts clip" FAIL "making the voice note in $img failed: $(tail -1 "$work/voice/make.log")"
		return
	fi
	curl -fsS -X PUT --data-binary "@$work/voice/voice.ogg" "$cw/_rehearsal/blobs/voice.ogg" >/dev/null
	cw_post conversations "{\"id\":$conv,\"inbox_id\":4,\"contact_id\":57,\"status\":\"pending\"}" >/dev/null
	ev=$("$helper" botevent -fixture "$fx/chatwoot/message_created.audio.json" -conversation $conv -message 900002 \
		-audio "http://chatwoot_web:3000/rails/active_storage/blobs/redirect/voice.ogg")
	out=$(cw_deliver $conv "$ev" 2>&1) || out="control request failed: $out"
	local end=$((SECONDS + 240))
	while ((SECONDS < end)); do
		note=$(cw_messages $conv | grep '^private|.*|Voice message transcript' | head -1) || true
		reply=$(cw_messages $conv | grep '^public|agent_bot|' | head -1) || true
		[[ -n $note && -n $reply ]] && break
		sleep 1
	done
	if [[ -n $note && $reply == public\|agent_bot\|audio/ogg:OggS:* ]]; then
		row "Chatwoot bot: voice -> stt -> answer -> tts clip" ok "$out; in $((SECONDS - t0)) s: note \"$(cut -d'|' -f4- <<<"$note" | cut -c27-70)\", reply with $(cut -d'|' -f3 <<<"$reply" | cut -d, -f1)"
	else
		row "Chatwoot bot: voice -> stt -> answer -> tts clip" FAIL "$out; after $((SECONDS - t0)) s note: ${note:-none}; reply: ${reply:-none}; jobs: $(sql "SELECT string_agg(kind || ' ' || status || ' ' || coalesce(left(last_error, 60), ''), '; ') FROM jobs WHERE kind IN ('transcribe','synthesize','answer','reply')")"
	fi
}

# A backup as cron-connector starts it (an empty POST: the run is queued as
# a job and invoked through the queue) of the three databases to the S3
# server, each verified by the function; then restored with `concierge
# restore -backup latest -into` from the same bucket, and its row counts
# compared with the backup's record.
flow_backup() {
	local t0=$SECONDS code st verified restored
	code=$(curl -sS -o "$work/backup.out" -w '%{http_code}' -X POST "$gw/function/backup") || true
	if [[ $code != 2* ]]; then
		row "backup (cron's POST -> job) -> S3 -> restore" FAIL "HTTP $code $(head -c 120 "$work/backup.out")"
		return
	fi
	wait_sql 300 "SELECT count(*) > 0 AND bool_and(status IN ('done', 'failed')) FROM jobs WHERE kind = 'backup'" || true
	st=$(sql "SELECT string_agg(status || ' after ' || attempts || ' attempt(s)' || coalesce(': ' || left(last_error, 100), ''), '; ') FROM jobs WHERE kind = 'backup'")
	verified=$(sql "SELECT string_agg(database_name || ' ' || status, ', ' ORDER BY database_name) FROM backups")
	if [[ $st != done* ]]; then
		row "backup (cron's POST -> job) -> S3 -> restore" FAIL "job $st; backups: ${verified:-none}"
		return
	fi
	restored=$(env -i PATH="$PATH" HOME="$HOME" PG_BINDIR="$pgbin" \
		DATABASE_URL="$host_database_url" \
		BACKUP_S3_ENDPOINT="http://$gwbridge:$s3port" BACKUP_S3_BUCKET="$s3bucket" BACKUP_S3_REGION=auto \
		BACKUP_S3_ACCESS_KEY_ID="$s3key" BACKUP_S3_SECRET_ACCESS_KEY="$s3secret" \
		"$work/bin/concierge" restore -backup latest -into concierge_restored 2>&1) || true
	if grep -q "row counts match the backup's record" <<<"$restored"; then
		row "backup (cron's POST -> job) -> S3 -> restore" ok "in $((SECONDS - t0)) s: $verified; restore: $(grep -o 'restored [0-9]* tables, [0-9]* rows' <<<"$restored"), row counts match the record"
	else
		row "backup (cron's POST -> job) -> S3 -> restore" FAIL "backups: $verified; restore: $(tail -1 <<<"$restored" | cut -c1-160)"
	fi
}

# concierge doctor with the functions' settings: the secrets as files
# (SECRETS_DIR), the environment of stack.yml as deployed (no Qdrant, no
# embeddings API: PostgreSQL's index), the fake Chatwoot and the S3 server
# at the addresses the host reaches them by. Any failed check fails the line.
flow_doctor() {
	local out rc=0 summary
	out=$(env -i PATH="$PATH" HOME="$HOME" SECRETS_DIR="$work/secrets" PG_BINDIR="$pgbin" \
		DATABASE_URL="$host_database_url" \
		CHATWOOT_URL="$cw" CHATWOOT_ACCOUNT_ID=1 CHATWOOT_CONTACT_INBOX_ID=1 \
		BACKUP_S3_ENDPOINT="http://$gwbridge:$s3port" BACKUP_S3_BUCKET="$s3bucket" BACKUP_S3_REGION=auto \
		BACKUP_DATABASES=concierge,chatwoot,keycloak \
		"$work/bin/concierge" doctor --stack "$src/stack.yml" --timeout 5s 2>&1) || rc=$?
	echo "$out" >"$work/doctor.out"
	echo "$out" | sed 's/^/    doctor: /'
	# The fake Chatwoot stands for an account set up by hand, not by
	# concierge chatwoot-setup (lib/chatwootsetup's tests run the setup
	# against this same fake): its "chatwoot setup" check is a gap here, any
	# other failure fails the line.
	local others setup
	setup=$(grep '^✗ chatwoot setup' <<<"$out" || true)
	others=$(grep '^✗' <<<"$out" | grep -vc '^✗ chatwoot setup' || true)
	if [[ -n $setup ]] && ((others == 0)); then
		rc=0
		row "chatwoot setup (the fake is not set up as code)" gap "$(cut -c1-110 <<<"$setup" | sed 's/^✗ chatwoot setup *//')"
	fi
	summary="$(grep -c '^✓' <<<"$out" || true) ok, $(grep -c '^✗' <<<"$out" || true) failed, $(grep -c '^–' <<<"$out" || true) skipped"
	if ((rc == 0)); then
		row "concierge doctor (the functions' settings)" ok "exit 0: $summary (skipped: not configured here)"
	else
		row "concierge doctor (the functions' settings)" FAIL "exit $rc: $summary; $(grep '^✗' <<<"$out" | cut -c1-110 | paste -sd';' -)"
	fi
}

# The console behind the realm's tokens: a staff member's token (as
# oauth2-proxy forwards it) opens the overview; an expired token, another
# group's member and a bare identity header without a token are refused.
# The function reads the realm's keys from keycloak by name, as in production.
flow_console() {
	local code expired outsider bare tok
	console_get() { # console_get TOKEN [HEADER]: the overview's HTTP status
		local args=(-sS -o "$work/console.html" -w '%{http_code}')
		[[ -n $1 ]] && args+=(-H "X-Forwarded-Access-Token: $1")
		[[ -n ${2:-} ]] && args+=(-H "$2")
		curl "${args[@]}" "$gw/function/console?page=overview" || true
	}
	tok=$(curl -fsS "$kc/_token?group=staff") || { row "console: the realm's token -> overview" FAIL "no token from the realm"; return; }
	code=$(console_get "$tok")
	local title
	title=$(grep -o '<title>[^<]*' "$work/console.html" | head -1 | sed 's/<title>//')
	expired=$(console_get "$(curl -fsS "$kc/_token?group=staff&ttl=-600")")
	outsider=$(console_get "$(curl -fsS "$kc/_token?group=guests")")
	bare=$(console_get "" "X-Forwarded-User: rehearsal")
	if [[ $code == 200 && $expired == 401 && $outsider == 403 && $bare == 401 ]]; then
		row "console: the realm's token -> overview" ok "staff 200 (\"$title\"), expired 401, other group 403, bare header 401"
	else
		row "console: the realm's token -> overview" FAIL "staff $code, expired $expired, other group $outsider, bare header $bare; $(head -c 120 "$work/console.html")"
	fi
}
