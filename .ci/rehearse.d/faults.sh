# shellcheck shell=bash disable=SC2154 # the variables are .ci/rehearse's
# .ci/rehearse.d/faults.sh, sourced by .ci/rehearse: faults under traffic.
# Each adds one line to the fault table with frow: distinct signed
# deliveries sent (the load loop retries an unacknowledged one like the
# provider would), acknowledged with a 2xx at last, stored exactly once
# (one webhook_events row per delivery, by its dedupe key), and the
# attempts answered with anything but a 2xx (or nothing).

# frow NAME SENT ACK ONCE NON2XX RESULT DETAIL
frow() {
	frows+=("$(printf '%-46s %5s %5s %5s %7s %-5s %s' "$1" "$2" "$3" "$4" "$5" "$6" "$7")")
	[[ $6 == ok ]] || failures=$((failures + 1))
}

# Distinct delivery ids per phase: Aircall call ids from load_next up,
# Guesty svix-ids msg_rehearsal_<phase>_<n>.
load_next=$(($(date +%s) * 1000))
declare -A load_pid=() load_first=()

# load_start PHASE KIND RATE [COUNT]: the load loop in the background.
load_start() {
	local phase=$1 kind=$2 rate=$3 count=${4:-0} fixture secret
	case $kind in
	aircall) fixture=$fx/aircall/call.ended.json secret=$aircall_token ;;
	guesty) fixture=$fx/guesty/reservation.new.json secret=$guesty_secret ;;
	esac
	load_first[$phase]=$load_next
	load_next=$((load_next + 100000))
	rm -f "$work/stop-$phase"
	"$helper" load -gateway "$gw" -kind "$kind" -fixture "$fixture" -secret "$secret" -rate "$rate" -count "$count" \
		-stop "$work/stop-$phase" -max 10m -first "${load_first[$phase]}" -prefix "msg_rehearsal_$phase" >"$work/load-$phase.json" 2>"$work/load-$phase.err" &
	load_pid[$phase]=$!
}

# load_stop PHASE: stop sending, wait for the retries to end; sets sent,
# ack, non2xx, load_detail from the summary.
load_stop() {
	local phase=$1
	touch "$work/stop-$phase"
	wait "${load_pid[$phase]}" || true
	read -r sent ack non2xx load_detail < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
st = ", ".join("%s x%d" % kv for kv in sorted(s["statuses"].items()))
print(s["sent"], s["acknowledged"], s["non2xx"] + s["errors"],
      "%.0f s at %.0f/s; retried %d, given up %d, max latency %d ms%s" % (s["seconds"], s["sent"] / max(s["seconds"], 1), s["retried"], s["given_up"], s["max_latency_ms"], ("; " + st) if st else ""))
' "$work/load-$phase.json" 2>/dev/null || echo "0 0 0 load loop failed: $(tail -1 "$work/load-$phase.err")")
}

# stored_once PHASE KIND: sets once (deliveries with exactly one
# webhook_events row), dup (more than one) and lost (none) for the phase.
stored_once() {
	local phase=$1 kind=$2 first=${load_first[$1]} q
	case $kind in
	aircall) q="SELECT payload->'data'->>'id' AS k, count(*) AS c FROM webhook_events WHERE source = 'aircall'
		AND (payload->'data'->>'id') ~ '^[0-9]+\$' AND (payload->'data'->>'id')::bigint BETWEEN $first AND $((first + 99999)) GROUP BY 1" ;;
	guesty) q="SELECT dedupe_key AS k, count(*) AS c FROM webhook_events WHERE source = 'guesty' AND dedupe_key LIKE 'msg\\_rehearsal\\_${phase//_/\\_}\\_%' GROUP BY 1" ;;
	esac
	read -r once dup < <(sql "WITH d AS ($q) SELECT count(*) FILTER (WHERE c = 1) || ' ' || count(*) FILTER (WHERE c > 1) FROM d")
	lost=$((sent - once - dup))
}

# fault_result NAME PHASE KIND ZERO_NON2XX EXTRA: the fault's table line.
fault_result() {
	local name=$1 phase=$2 kind=$3 zero=$4 extra=$5 res=ok
	stored_once "$phase" "$kind"
	((ack == sent && once == sent && sent > 0)) || res=FAIL
	((zero == 0 || non2xx == 0)) || res=FAIL
	frow "$name" "$sent" "$ack" "$once" "$non2xx" "$res" "$extra; lost $lost, duplicated $dup; $load_detail"
}

# held FUNCTION SINCE: how many calls the gateway held as a scale from zero
# (its "[Scale] function=F 0 => N requested" lines) since SINCE.
held() {
	timeout 30 $docker service logs --raw --since "$2" openfaas_gateway 2>/dev/null | grep -c "\[Scale [0-9]*\] function=$1 0 =>" || true
}

# wait_converged SERVICE SECONDS: until the service's update completed and
# its tasks run healthy containers.
wait_converged() {
	local svc=$1 st end=$((SECONDS + $2))
	while ((SECONDS < end)); do
		st=$($docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$svc")
		[[ $st == completed || -z $st ]] && return 0
		[[ $st == paused || $st == rollback_* ]] && return 1
		sleep 1
	done
	return 1
}

# A rolling update by the engine (what an operator or `docker service
# update --force` does): faas-swarm created the service without an update
# order, so Swarm stops a task before it starts its successor. Deliveries
# keep coming at 10/s; the target is no attempt answered with a non-2xx.
fault_rolling_force() {
	local fn=$1 phase=roll_force t0 since
	load_start $phase aircall 10
	sleep 5
	t0=$SECONDS since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	$docker service update --detach --force "$fn" >/dev/null
	wait_converged "$fn" 180 || true
	local took=$((SECONDS - t0)) order
	order=$($docker service inspect -f '{{if .Spec.UpdateConfig}}{{.Spec.UpdateConfig.Order}}{{else}}stop-first{{end}}' "$fn")
	sleep 5
	load_stop $phase
	fault_result "rolling update $fn (update --force)" $phase aircall 1 \
		"$($docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$fn") replicas, $order, $took s, held as scaled to zero $(held "$fn" "$since")"
}

# A release: the function's image under a new tag deployed with faas-cli
# (faas-swarm updates the service start-first), deliveries at 10/s.
fault_rolling_deploy() {
	local fn=$1 phase=roll_deploy t0 took since min
	$docker tag "$REGISTRY/concierge-$fn:$TAG" "$REGISTRY/concierge-$fn:$TAG-2"
	# faas-swarm's update sets the replicas to com.openfaas.scale.min: a
	# function an alert scaled up loses the extra tasks in the same update,
	# and a request on a keep-alive connection the watchdog closes at the
	# end of its grace gets EOF (502). That is a scale-down, measured apart
	# from the rolling update: back to the minimum first.
	min=$($docker service inspect -f '{{index .Spec.Labels "com.openfaas.scale.min"}}' "$fn")
	$docker service scale --detach "$fn=${min:-1}" >/dev/null
	wait_converged "$fn" 60 || true
	# ...and kept there: the load below fires APIHighInvocationRate, whose
	# scale-up during the update would be undone by it (a silence, as an
	# operator sets one for a deploy).
	local ends
	ends=$(date -u -d '+4 min' +%Y-%m-%dT%H:%M:%SZ)
	$docker run --rm --network functions rehearsal/tool:latest post http://alertmanager:9093/api/v2/silences \
		'{"matchers":[{"name":"alertname","value":"APIHighInvocationRate","isRegex":false}],"startsAt":"'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'","endsAt":"'"$ends"'","createdBy":"rehearse","comment":"a deploy"}' >/dev/null 2>&1 || true
	sleep 12
	load_start $phase guesty 10
	sleep 5
	t0=$SECONDS since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	(cd "$src" && TAG=$TAG-2 "$faas_cli" deploy -f "$fnstack" -g "$gw" --filter "$fn") >"$work/deploy-$fn.log" 2>&1 ||
		cat "$work/deploy-$fn.log" >&2
	sleep 2
	wait_converged "$fn" 180 || true
	took=$((SECONDS - t0))
	sleep 5
	load_stop $phase
	fault_result "rolling update $fn (faas-cli deploy)" $phase guesty 1 \
		"$($docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$fn") replicas, $($docker service inspect -f '{{.Spec.UpdateConfig.Order}}' "$fn"), $took s, endpoint $($docker service inspect -f '{{.Spec.EndpointSpec.Mode}}' "$fn"), held as scaled to zero $(held "$fn" "$since")"
}

# PostgreSQL stopped for 5 s and started again while Aircall deliveries
# come at 10/s: the hooks answer 5xx (nothing is acknowledged that is not
# stored), the load loop retries like Aircall, and every delivery is
# stored exactly once.
fault_postgres_restart() {
	local phase=pg_restart t0
	load_start $phase aircall 10
	sleep 5
	t0=$SECONDS
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null
	sleep 5
	pg_start
	local down=$((SECONDS - t0))
	sleep 20
	load_stop $phase
	fault_result "PostgreSQL stopped ${down} s under deliveries" $phase aircall 0 "retried until stored"
}

# The queue-worker and NATS Streaming restarted while Aircall deliveries
# queue vectorize jobs (one per call): whatever the queue held is gone
# with NATS's memory store, and redrive (every minute) re-drives what is
# overdue. Checked at the end with the mid-job kill: every job done, each
# once.
qr_first=
fault_queue_restart() {
	local phase=queue_restart
	load_start $phase aircall 10
	sleep 5
	# Every NATS Streaming service of the stack (one, or a cluster's
	# nodes), then the queue-workers.
	local svc nats
	mapfile -t nats < <($docker service ls --format '{{.Name}}' | grep -E '^openfaas_nats(-[0-9]+)?$')
	for svc in "${nats[@]}" openfaas_queue-worker; do
		$docker service update --detach --force "$svc" >/dev/null
	done
	for svc in "${nats[@]}" openfaas_queue-worker; do
		wait_converged "$svc" 120 || true
	done
	sleep 10
	load_stop $phase
	qr_first=${load_first[$phase]} qr_sent=$sent qr_at=$SECONDS
	fault_result "queue-worker and NATS restarted (deliveries)" $phase aircall 0 "restarted ${nats[*]#openfaas_} queue-worker"
}

# A function container killed mid-job: a burst of calls queues vectorize
# jobs while a session holds a SHARE lock on chunks, so the jobs vectorize
# claims (running, leased) wait on their chunk writes; then `docker kill`
# of every vectorize container, and the lock is let go. What they held
# stays leased (5 min) until redrive invokes it again; checked at the end:
# every job done, none finished twice.
km_first='' km_cut=''
fault_kill_midjob_start() {
	local phase=kill_midjob running=0 lockpid end
	psql_su -d concierge -c "BEGIN; LOCK TABLE chunks IN SHARE MODE; SELECT pg_sleep(90); COMMIT" >/dev/null 2>&1 &
	lockpid=$!
	sleep 1
	load_start $phase aircall 50 150
	end=$((SECONDS + 45))
	while ((SECONDS < end)); do
		running=$(sql "SELECT count(*) FROM jobs WHERE kind = 'vectorize' AND status = 'running'")
		((running >= 5)) && break
		sleep 0.5
	done
	$docker ps -q --filter 'name=^vectorize\.' | xargs -r $docker kill >/dev/null
	km_cut=$(sql "SELECT count(*) FROM jobs WHERE kind = 'vectorize' AND status = 'running'")
	km_kill_at=$SECONDS
	kill "$lockpid" 2>/dev/null
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%LOCK TABLE chunks%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$lockpid" 2>/dev/null || true
	load_stop $phase
	km_first=${load_first[$phase]} km_sent=$sent
	fault_result "vectorize killed mid-job (deliveries)" $phase aircall 0 "$km_cut jobs running at the kill"
}

# A voice message's transcription cut: the guest's voice note through the
# fake Chatwoot; once stt's transcribe job runs, `docker kill` of every stt
# container. The job's lease (3 min) runs out, redrive invokes it again, and
# the guest gets one transcript note and one spoken answer — Chatwoot's side
# shows a job done twice, which the database alone would not.
ks_conv=800003 ks_cut=0 ks_at=0
fault_kill_stt_start() {
	local ev end
	cw_post conversations "{\"id\":$ks_conv,\"inbox_id\":4,\"contact_id\":57,\"status\":\"pending\"}" >/dev/null || return 0
	ev=$("$helper" botevent -fixture "$fx/chatwoot/message_created.audio.json" -conversation $ks_conv -message 900003 \
		-audio "http://chatwoot_web:3000/rails/active_storage/blobs/redirect/voice.ogg")
	cw_deliver $ks_conv "$ev" >/dev/null 2>&1 || true
	end=$((SECONDS + 60))
	while ((SECONDS < end)); do
		[[ $(sql "SELECT count(*) FROM jobs WHERE kind = 'transcribe' AND subject = 'message:1:900003' AND status = 'running'") == 1 ]] && break
		sleep 0.2
	done
	$docker ps -q --filter 'name=^stt\.' | xargs -r $docker kill >/dev/null
	ks_cut=$(sql "SELECT count(*) FROM jobs WHERE kind = 'transcribe' AND subject = 'message:1:900003' AND status = 'running'")
	ks_at=$SECONDS
}

fault_kill_stt_check() {
	local left=$((ks_at + 3 * 60 + 90 - SECONDS)) notes=0 replies=0 st res=ok end
	((left > 30)) || left=30
	end=$((SECONDS + left))
	while ((SECONDS < end)); do
		replies=$(cw_messages $ks_conv | grep -c '^public|agent_bot|' || true)
		((replies > 0)) && break
		sleep 2
	done
	sleep 5
	notes=$(cw_messages $ks_conv | grep -c '^private|.*|Voice message transcript' || true)
	replies=$(cw_messages $ks_conv | grep -c '^public|agent_bot|' || true)
	st=$(sql "SELECT status || ' after ' || attempts || ' attempt(s)' FROM jobs WHERE kind = 'transcribe' AND subject = 'message:1:900003'")
	((ks_cut == 1 && notes == 1 && replies == 1)) || res=FAIL
	frow "stt killed mid-transcription (voice note)" 1 - "$replies" - "$res" "transcribe job running at the kill: $ks_cut; now $st; Chatwoot: $notes transcript note(s), $replies answer(s)"
}

# jobs_once FIRST SENT: the vectorize jobs of calls FIRST.. end done, each
# once: sets jdone, jtotal, jretried, jtwice (jobs whose "job done" was
# logged more than once) after waiting up to the lease and a redrive pass.
jobs_once() {
	local first=$1 n=$2 wait=$3 q
	q="FROM jobs WHERE kind = 'vectorize' AND subject ~ '^call:[0-9]+\$' AND split_part(subject, ':', 2)::bigint BETWEEN $first AND $((first + 99999))"
	wait_sql "$wait" "SELECT count(*) FILTER (WHERE status = 'done') >= $n $q" || true
	read -r jtotal jdone jretried < <(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE status = 'done') || ' ' || count(*) FILTER (WHERE attempts > 1) $q")
	sql "SELECT id $q" >"$work/jobs-$first"
	# Every vectorize container's log, the killed ones' too (`docker
	# service logs` can hang on a task whose container was killed).
	jtwice=$($docker ps -a -q --filter 'name=^vectorize\.' | xargs -r -n1 timeout 30 $docker logs 2>&1 | grep '"job done"' | grep -o '"job_id":"[^"]*"' | cut -d'"' -f4 |
		grep -Fxf "$work/jobs-$first" | sort | uniq -d | wc -l)
}

fault_jobs_check() {
	fault_kill_stt_check
	# The lease (5 min for vectorize) from the kill, and a redrive pass;
	# the queue's jobs are re-driven within the same wait (grace + a pass).
	local left=$((km_kill_at + 5 * 60 + 90 - SECONDS)) res
	((left > 30)) || left=30
	echo "    waiting up to $left s for the killed jobs' lease and a redrive pass"
	jobs_once "$km_first" "$km_sent" "$left"
	res=ok
	((jdone == km_sent && jtwice == 0 && km_cut > 0)) || res=FAIL
	frow "vectorize killed mid-job (jobs)" "$km_sent" - "$jdone" - "$res" "$km_cut cut by the kill; vectorize jobs $jtotal, done $jdone, re-driven $jretried, finished twice $jtwice"
	left=$((qr_at + 4 * 60 - SECONDS))
	((left > 30)) || left=30
	jobs_once "$qr_first" "$qr_sent" "$left"
	res=ok
	((jdone == qr_sent && jtwice == 0)) || res=FAIL
	frow "queue-worker and NATS restarted (jobs)" "$qr_sent" - "$jdone" - "$res" "vectorize jobs $jtotal, done $jdone, re-driven $jretried, finished twice $jtwice"
}
