package jobs_test

// Tests written for `make mutate`: each names the gremlins mutants it
// kills.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A pass logs what it did when it did something, and only then: a pass a
// minute with nothing to do writes nothing, and a pass that invoked jobs
// counts them without a warning.
// Kills: Redrive's `len(sum.Jobs) > 0` made >= or negated (a line every
// minute, or none when jobs moved), the redrive count's `err != nil`
// negated (a warning after every successful count).
func TestRedrivePassLogs(t *testing.T) {
	d := dbtest.New(t)
	var logs lockedBuffer
	ctx := logging.WithLogger(context.Background(), logging.New("redrive", &logs, "info"))
	inv := &invoker{}

	if _, err := jobs.Redrive(ctx, d.Pool, inv, jobs.RedriveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); got != "" {
		t.Errorf("a pass with nothing to do logged %q", got)
	}

	j := enqueue(t, d, "listing:L1")
	if _, err := d.Pool.Exec(context.Background(), `UPDATE jobs SET updated_at = now() - interval '1 hour',
		next_attempt_at = now() - interval '1 hour' WHERE id = $1`, j.ID); err != nil {
		t.Fatal(err)
	}
	sum, err := jobs.Redrive(ctx, d.Pool, inv, jobs.RedriveOptions{})
	if err != nil || sum.Invoked != 1 {
		t.Fatalf("Redrive = %+v, %v; want one job invoked", sum, err)
	}
	got := logs.String()
	if !strings.Contains(got, `"message":"redrive pass"`) || !strings.Contains(got, `"invoked":1`) {
		t.Errorf("the pass that invoked a job logged %q", got)
	}
	if strings.Contains(got, "could not count redrives") || strings.Contains(got, `"level":"warn"`) {
		t.Errorf("a counted pass warned: %q", got)
	}
	var redrives int
	if err := d.Pool.QueryRow(context.Background(), "SELECT redrives FROM jobs WHERE id = $1", j.ID).Scan(&redrives); err != nil || redrives != 1 {
		t.Errorf("redrives = %d (%v), want 1", redrives, err)
	}
}

// A subject is parsed whole or refused: a half-readable one (one number
// unreadable, another kind's prefix) or a zero id names no record.
// Kills: ParseConversationSubject's `err1 != nil || err2 != nil` made &&;
// ParseMessageSubject's `len(parts) == 3 && parts[0] == "message"` made
// ||, its `err1 == nil && err2 == nil` made || (which a number out of
// range passes), its `m > 0` made >=;
// ParseCallSubject's `id > 0` made >=.
func TestSubjectsRefuseHalfReadable(t *testing.T) {
	for _, s := range []string{"conversation:x:5", "conversation:5:x"} {
		if a, c, err := jobs.ParseConversationSubject(s); err == nil {
			t.Errorf("ParseConversationSubject(%q) = %d, %d, accepted", s, a, c)
		}
	}
	// strconv.ParseInt answers a number out of range with the largest int64
	// and an error: a positive id that must still be refused.
	for _, s := range []string{"conversation:1:2", "call:1:2", "message:5:x", "message:x:5", "message:1:0", "message:0:1",
		"message:99999999999999999999:5", "message:5:99999999999999999999"} {
		if a, m, err := jobs.ParseMessageSubject(s); err == nil {
			t.Errorf("ParseMessageSubject(%q) = %d, %d, accepted", s, a, m)
		}
	}
	for _, s := range []string{"call:0", "call:x", "call:"} {
		if id, err := jobs.ParseCallSubject(s); err == nil {
			t.Errorf("ParseCallSubject(%q) = %d, accepted", s, id)
		}
	}
	// The subject a reservation's jobs carry, and the reason a snoozed job
	// records (its last_error while it waits).
	if s := jobs.ReservationSubject("r-1"); s != "reservation:r-1" {
		t.Errorf("ReservationSubject = %q", s)
	}
	if s := (&jobs.NotReady{Wait: time.Minute, Reason: "transcript on its way"}).Error(); s != "waiting: transcript on its way" {
		t.Errorf("NotReady.Error = %q", s)
	}
}

// WakeOrEnqueue wakes the subject's job that waits out its back-off (the
// same row, due now, its trace kept) instead of adding a second one; with
// none waiting it enqueues a pending job.
// Kills: WakeOrEnqueue's `err != nil` after the wake negated (a woken job
// reported as an error).
func TestWakeOrEnqueue(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	wake := func(trace string) jobs.Job {
		t.Helper()
		var j jobs.Job
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) (err error) {
			j, err = jobs.WakeOrEnqueue(ctx, tx, jobs.Vectorize, "listing:W", trace)
			return err
		}); err != nil {
			t.Fatalf("WakeOrEnqueue: %v", err)
		}
		return j
	}
	first := wake("trace-1")
	if s, _ := status(t, d, first.ID); s != jobs.StatusPending || first.TraceID != "trace-1" {
		t.Fatalf("nothing waiting: %+v is %s, want a pending job", first, s)
	}
	p := jobs.Policy{MaxAttempts: 5, Lease: time.Minute, Base: time.Hour, Max: time.Hour}
	c, err := jobs.Start(ctx, d.Pool, first.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := jobs.Fail(ctx, d.Pool, c, fault.New(fault.Unavailable, "index down"), p); err != nil || st != jobs.StatusRetrying {
		t.Fatalf("Fail = %s, %v", st, err)
	}
	woken := wake("trace-2")
	if woken.ID != first.ID || woken.TraceID != "trace-1" || woken.Function != jobs.Vectorize.Function {
		t.Errorf("woken %+v, want job %s with its own trace", woken, first.ID)
	}
	var due bool
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT bool_and(next_attempt_at <= now()), count(*) FROM jobs WHERE subject = 'listing:W'`).Scan(&due, &n); err != nil {
		t.Fatal(err)
	}
	if !due || n != 1 {
		t.Errorf("after the wake: due %v, %d jobs; want the one job, due now", due, n)
	}
}

// Dispatch warns about the invocation that failed, naming its job, and
// only that one; an invocation that went through is a debug line.
// Kills: Dispatch's `err != nil` negated (the warning about the jobs that
// were invoked, silence about the one that was not).
func TestDispatchWarnsOnlyOnFailure(t *testing.T) {
	var logs lockedBuffer
	ctx := logging.WithLogger(context.Background(), logging.New("dispatch", &logs, "debug"))
	inv := &invoker{fail: map[string]error{"refusing-fn": errors.New("gateway said 502")}}
	jobs.Dispatch(ctx, inv, []jobs.Job{
		{ID: "job-ok", Kind: jobs.Vectorize.Name, Function: jobs.Vectorize.Function, Subject: "listing:1"},
		{ID: "job-refused", Kind: jobs.Vectorize.Name, Function: "refusing-fn", Subject: "listing:2"},
	})
	if len(inv.calls) != 1 || inv.calls[0].msg.JobID != "job-ok" {
		t.Fatalf("invoked %+v, want job-ok only", inv.calls)
	}
	level := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct {
			Level   string `json:"level"`
			JobID   string `json:"job_id"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		level[line.JobID] = line.Level + ": " + line.Message
	}
	if got := level["job-refused"]; got != "warn: async invocation failed; redrive will retry" {
		t.Errorf("refused job logged %q, want the warning", got)
	}
	if got := level["job-ok"]; got != "debug: job dispatched" {
		t.Errorf("invoked job logged %q, want a debug line", got)
	}
}

// EnqueueOnce writes a slot's job once: the first call creates it, a
// repeat (pending, or after the run ended) finds the same job, with the
// trace of the call that wrote it.
// Kills: EnqueueOnce's `err == nil` after the insert negated (the new job
// reported as an error) and `err != nil` after the lookup negated (the
// existing job reported as an error).
func TestEnqueueOnce(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	once := func(trace string) (jobs.Job, bool) {
		t.Helper()
		var j jobs.Job
		var created bool
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) (err error) {
			j, created, err = jobs.EnqueueOnce(ctx, tx, jobs.Backup, "schedule:2026-12-06T02:17Z", trace)
			return err
		}); err != nil {
			t.Fatalf("EnqueueOnce: %v", err)
		}
		return j, created
	}
	first, created := once("trace-1")
	if !created || first.ID == "" || first.Kind != jobs.Backup.Name || first.Function != jobs.Backup.Function {
		t.Fatalf("first call: %+v created %v", first, created)
	}
	again, created := once("trace-2")
	if created || again.ID != first.ID || again.TraceID != "trace-1" {
		t.Errorf("repeat while pending: %+v created %v, want job %s unchanged", again, created, first.ID)
	}
	c, err := jobs.Start(ctx, d.Pool, first.ID, jobs.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Done(ctx, d.Pool, c); err != nil {
		t.Fatal(err)
	}
	after, created := once("trace-3")
	if created || after.ID != first.ID {
		t.Errorf("repeat after the run: %+v created %v, want job %s", after, created, first.ID)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "kind = $1", jobs.Backup.Name); n != 1 {
		t.Errorf("%d backup jobs, want 1", n)
	}
}

// A key of exactly MinKeyLen characters is long enough; one shorter is not.
// Sign and Verify take any invocation: the shortest and the longest
// function names with an empty body too (the signed payload is sized from
// them), and a signature for one function is no use at another.
// Kills: NewKeys' `len(v) < MinKeyLen` made <=; payload's capacity
// `len("v1\n")+len(ts)+len(function)+…` with its first or second + made -
// (a negative capacity: make panics for "stt" or "guesty-reconcile" with
// an empty body).
func TestSignAnyInvocation(t *testing.T) {
	if _, err := jobs.NewKeys(strings.Repeat("k", jobs.MinKeyLen-1)); err == nil {
		t.Error("a key one character short accepted")
	}
	keys, err := jobs.NewKeys(strings.Repeat("k", jobs.MinKeyLen))
	if err != nil {
		t.Fatalf("a key of exactly MinKeyLen characters: %v", err)
	}
	for _, fn := range []string{jobs.Transcribe.Function, jobs.GuestyReconcile.Function, jobs.Vectorize.Function} {
		for _, body := range [][]byte{nil, []byte(`{"job_id":"j"}`)} {
			h := http.Header{}
			keys.Sign(h, fn, body)
			if err := keys.Verify(h, fn, body); err != nil {
				t.Errorf("%s with body %q: %v", fn, body, err)
			}
			if err := keys.Verify(h, fn+"x", body); err == nil {
				t.Errorf("%s's signature accepted for %sx", fn, fn)
			}
		}
	}
}

// A producer that queues the subject while replay requeues its failed
// job wins: replay waits for the producer's row, then absorbs the failed
// job into the producer's pending one instead of failing or leaving it.
// Kills: Replay's `pe.Code == "23505"` negated (the replay fails) and the
// lookup's `err != nil` after it negated (the failed job left failed and
// unreported).
func TestReplayAbsorbsIntoJobQueuedMeanwhile(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	failed := insert(t, d.Pool, row{status: "failed", subject: "listing:race", attempts: 8, lastError: "index down", updateAgo: time.Hour})
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	queued, err := jobs.Enqueue(ctx, tx, jobs.Vectorize, "listing:race", "producer")
	if err != nil {
		t.Fatal(err)
	}
	type replayed struct {
		res jobs.ReplayResult
		err error
	}
	done := make(chan replayed, 1)
	go func() {
		res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{Kind: jobs.Vectorize.Name}, false)
		done <- replayed{res, err}
	}()
	// Replay's requeue waits on the producer's uncommitted pending row
	// (the one-pending index); commit only once it does.
	deadline := time.Now().Add(time.Minute)
	for {
		var waiting int
		if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("replay finished without waiting for the producer: %+v %v", r.res, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("replay never waited for the producer's row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Replay: %v", r.err)
	}
	if len(r.res.Requeued) != 0 || len(r.res.Absorbed) != 1 || r.res.Absorbed[0].ID != failed || r.res.Absorbed[0].AbsorbedInto != queued.ID {
		t.Fatalf("result %+v, want job %s absorbed into %s", r.res, failed, queued.ID)
	}
	if s := read(t, d.Pool, failed); s.status != jobs.StatusDone {
		t.Errorf("the failed job is %s, want done (absorbed)", s.status)
	}
	if s := read(t, d.Pool, queued.ID); s.status != jobs.StatusPending {
		t.Errorf("the producer's job is %s, want pending", s.status)
	}
}

// A requeue that fails for any other reason than a pending job queued
// meanwhile fails the replay with its own cause, and changes nothing.
// The failure is played by a trigger that refuses the replay history.
// Kills: Replay's `errors.As(err, &pe) && pe.Code == "23505"` made ||
// (any database error taken for a producer's job: the replay reports a
// lookup's "no rows" instead of what failed).
func TestReplayFailureKeepsItsCause(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	failed := insert(t, d.Pool, row{status: "failed", subject: "listing:refused", attempts: 8, lastError: "index down", updateAgo: time.Hour})
	if _, err := d.Pool.Exec(ctx, `
		CREATE FUNCTION refuse_replay() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'replay history refused'; END $$;
		CREATE TRIGGER refuse_replay BEFORE INSERT ON job_replays FOR EACH ROW EXECUTE FUNCTION refuse_replay();`); err != nil {
		t.Fatal(err)
	}
	_, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{Kind: jobs.Vectorize.Name}, false)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Message != "replay history refused" {
		t.Fatalf("Replay = %v, want the trigger's refusal", err)
	}
	if s := read(t, d.Pool, failed); s.status != jobs.StatusFailed {
		t.Errorf("the job is %s after a failed replay, want failed", s.status)
	}
}

// A pass with DefaultRedrive leaves a pending job written half a minute
// ago to its producer's own invocation (the default grace is two minutes)
// and invokes one written three minutes ago.
// Kills: DefaultRedrive's `Grace: 2 * time.Minute` made 2 / time.Minute
// (no grace: every pending job invoked twice, by its producer and by the
// next pass).
func TestDefaultRedriveGrace(t *testing.T) {
	d := dbtest.New(t)
	fresh := insert(t, d.Pool, row{status: "pending", subject: "listing:fresh", updateAgo: 30 * time.Second, nextIn: -30 * time.Second})
	old := insert(t, d.Pool, row{status: "pending", subject: "listing:old", updateAgo: 3 * time.Minute, nextIn: -3 * time.Minute})
	inv := &invoker{}
	sum, err := jobs.Redrive(context.Background(), d.Pool, inv, jobs.DefaultRedrive)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Invoked != 1 || len(inv.calls) != 1 || inv.calls[0].msg.JobID != old {
		t.Errorf("invoked %+v, want only %s (not %s, within the grace)", inv.calls, old, fresh)
	}
}
