package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
)

// invoker records async invocations; functions in fail refuse them.
type invoker struct {
	mu    sync.Mutex
	calls []invocation
	fail  map[string]error
}

type invocation struct {
	function string
	header   http.Header
	msg      jobs.Message
}

func (r *invoker) Async(_ context.Context, function string, body []byte, header http.Header) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[function]; err != nil {
		return err
	}
	var m jobs.Message
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	r.calls = append(r.calls, invocation{function: function, header: header.Clone(), msg: m})
	return nil
}

func (r *invoker) setFail(function string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		r.fail = map[string]error{}
	}
	r.fail[function] = err
}

// perJob counts invocations by job id.
func (r *invoker) perJob() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, c := range r.calls {
		out[c.msg.JobID]++
	}
	return out
}

// row is a job in a given state; ages are how long ago, in is from now.
type row struct {
	kind                  jobs.Kind
	subject, status       string
	attempts, redrives    int
	lastError             string
	createdAgo, updateAgo time.Duration
	nextIn                time.Duration
}

func insert(t *testing.T, pool *pgxpool.Pool, r row) string {
	t.Helper()
	if r.kind.Name == "" {
		r.kind = jobs.Vectorize
	}
	if r.createdAgo < r.updateAgo {
		r.createdAgo = r.updateAgo
	}
	var lastError *string
	if r.lastError != "" {
		lastError = &r.lastError
	}
	var id string
	err := pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject, status, attempts, redrives, last_error, trace_id,
			created_at, updated_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'trace-'||$3,
			now() - make_interval(secs => $8), now() - make_interval(secs => $9), now() + make_interval(secs => $10))
		RETURNING id::text`,
		r.kind.Name, r.kind.Function, r.subject, r.status, r.attempts, r.redrives, lastError,
		r.createdAgo.Seconds(), r.updateAgo.Seconds(), r.nextIn.Seconds()).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type state struct {
	status             string
	attempts, redrives int
	lastError          string
	nextIn             time.Duration // next_attempt_at - now()
}

func read(t *testing.T, pool *pgxpool.Pool, id string) state {
	t.Helper()
	var s state
	var secs float64
	err := pool.QueryRow(context.Background(), `SELECT status, attempts, redrives, COALESCE(last_error, ''),
			EXTRACT(EPOCH FROM next_attempt_at - now())::float8 FROM jobs WHERE id = $1`, id).
		Scan(&s.status, &s.attempts, &s.redrives, &s.lastError, &secs)
	if err != nil {
		t.Fatal(err)
	}
	s.nextIn = time.Duration(secs * float64(time.Second))
	return s
}

// travel moves every job d into the past: the database is the clock that
// redrive, Start and Fail read, so this is the fake clock of these tests.
func travel(t *testing.T, pool *pgxpool.Pool, d time.Duration) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `UPDATE jobs SET created_at = created_at - make_interval(secs => $1),
		updated_at = updated_at - make_interval(secs => $1), next_attempt_at = next_attempt_at - make_interval(secs => $1),
		started_at = started_at - make_interval(secs => $1), done_at = done_at - make_interval(secs => $1)`, d.Seconds())
	if err != nil {
		t.Fatal(err)
	}
}

var testRedrive = jobs.RedriveOptions{
	Policy:         jobs.Policy{MaxAttempts: 3, Lease: time.Minute, Base: time.Minute, Max: 10 * time.Minute},
	MaxInvocations: 3,
	Grace:          2 * time.Minute,
	Batch:          50,
}

func TestRedriveActsOnOverdueJobsOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		job    row
		action string // "" when the pass leaves the job alone
		want   state
		// for an invoked job: the back-off window of next_attempt_at
		backoff [2]time.Duration
	}{
		{name: "fresh pending job is left to its dispatch",
			job:  row{status: "pending", updateAgo: 30 * time.Second, nextIn: -30 * time.Second},
			want: state{status: "pending"}},
		{name: "pending job past the grace period",
			job:    row{status: "pending", updateAgo: 3 * time.Minute, nextIn: -3 * time.Minute},
			action: jobs.ActionInvoked, want: state{status: "pending", redrives: 1}, backoff: [2]time.Duration{30 * time.Second, time.Minute}},
		{name: "a pending job created long ago but absorbed an event just now",
			job:  row{status: "pending", createdAgo: time.Hour, updateAgo: 10 * time.Second, nextIn: -time.Hour},
			want: state{status: "pending"}},
		{name: "pending job redriven and waiting for its back-off",
			job:  row{status: "pending", redrives: 1, updateAgo: 5 * time.Minute, nextIn: time.Minute},
			want: state{status: "pending", redrives: 1}},
		{name: "running job within its lease",
			job:  row{status: "running", attempts: 1, updateAgo: 10 * time.Minute, nextIn: time.Minute},
			want: state{status: "running", attempts: 1}},
		{name: "running job whose lease expired becomes retrying",
			job:    row{status: "running", attempts: 1, updateAgo: 6 * time.Minute, nextIn: -time.Second},
			action: jobs.ActionInvoked, want: state{status: "retrying", attempts: 1, redrives: 1, lastError: "attempt 1 did not finish within its lease"},
			backoff: [2]time.Duration{30 * time.Second, time.Minute}},
		{name: "retrying job in its back-off",
			job:  row{status: "retrying", attempts: 1, lastError: "index down", updateAgo: time.Minute, nextIn: time.Minute},
			want: state{status: "retrying", attempts: 1, lastError: "index down"}},
		{name: "retrying job whose back-off ended",
			job:    row{status: "retrying", attempts: 2, redrives: 1, lastError: "index down", updateAgo: 3 * time.Minute, nextIn: -time.Second},
			action: jobs.ActionInvoked, want: state{status: "retrying", attempts: 2, redrives: 2, lastError: "index down"},
			backoff: [2]time.Duration{time.Minute, 2 * time.Minute}},
		{name: "retrying job out of invocations is parked with its last error",
			job:    row{status: "retrying", attempts: 2, redrives: 2, lastError: "index down", updateAgo: 3 * time.Minute, nextIn: -time.Second},
			action: jobs.ActionParked, want: state{status: "failed", attempts: 2, redrives: 2, lastError: "gave up after 3 invocations: index down"}},
		{name: "pending job whose function never ran is parked",
			job:    row{status: "pending", redrives: 2, updateAgo: 20 * time.Minute, nextIn: -time.Second},
			action: jobs.ActionParked, want: state{status: "failed", redrives: 2, lastError: "gave up after 3 invocations: the function never started the job"}},
		{name: "running job that lost its last attempt is parked",
			job:    row{status: "running", attempts: 3, redrives: 2, lastError: "index down", updateAgo: 10 * time.Minute, nextIn: -time.Second},
			action: jobs.ActionParked, want: state{status: "failed", attempts: 3, redrives: 2, lastError: "gave up after 3 invocations: attempt 3 did not finish within its lease"}},
		{name: "done job",
			job:  row{status: "done", attempts: 1, updateAgo: time.Hour, nextIn: -time.Hour},
			want: state{status: "done", attempts: 1}},
		{name: "failed job waits for replay",
			job:  row{status: "failed", attempts: 3, lastError: "x", updateAgo: time.Hour, nextIn: -time.Hour},
			want: state{status: "failed", attempts: 3, lastError: "x"}},
	}
	// One database and one pass for all cases: each job is its own subject.
	d := dbtest.New(t)
	ids := make([]string, len(tests))
	for i := range tests {
		tests[i].job.subject = fmt.Sprintf("listing:%d", i)
		ids[i] = insert(t, d.Pool, tests[i].job)
	}
	inv := &invoker{}
	sum, err := jobs.Redrive(context.Background(), d.Pool, inv, testRedrive)
	if err != nil {
		t.Fatal(err)
	}
	acted := map[string]jobs.Redriven{}
	for _, r := range sum.Jobs {
		acted[r.ID] = r
	}
	calls := map[string][]invocation{}
	for _, c := range inv.calls {
		calls[c.msg.JobID] = append(calls[c.msg.JobID], c)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, subject := ids[i], tt.job.subject
			got := read(t, d.Pool, id)
			if got.status != tt.want.status || got.attempts != tt.want.attempts || got.redrives != tt.want.redrives || got.lastError != tt.want.lastError {
				t.Errorf("job after the pass = %+v, want %+v", got, tt.want)
			}
			r, ok := acted[id]
			if tt.action == "" {
				if ok || len(calls[id]) != 0 {
					t.Errorf("pass acted on the job: %+v, %d invocations", r, len(calls[id]))
				}
				return
			}
			if !ok || r.Action != tt.action || r.Was != tt.job.status {
				t.Fatalf("summary %+v, want %s", r, tt.action)
			}
			if tt.action == jobs.ActionParked {
				if len(calls[id]) != 0 || r.Next != nil {
					t.Errorf("parked job invoked: %+v", calls[id])
				}
				return
			}
			if len(calls[id]) != 1 {
				t.Fatalf("invocations %d, want 1", len(calls[id]))
			}
			c := calls[id][0]
			if c.function != "vectorize" || c.header.Get(jobs.JobIDHeader) != id || c.header.Get("X-Trace-Id") != "trace-"+subject ||
				c.msg != (jobs.Message{JobID: id, Kind: "vectorize", Subject: subject}) {
				t.Errorf("invocation %s %v %+v", c.function, c.header, c.msg)
			}
			if got.nextIn < tt.backoff[0]-5*time.Second || got.nextIn > tt.backoff[1]+5*time.Second {
				t.Errorf("next attempt in %s, want within back-off %v", got.nextIn, tt.backoff)
			}
			if r.Next == nil || r.Invocations != tt.job.redrives+2 {
				t.Errorf("summary job %+v", r)
			}
		})
	}
	if sum.Invoked != 3 || sum.Parked != 3 || sum.LeaseExpired != 2 {
		t.Errorf("summary counts %+v", sum)
	}
	// The bump keeps the next pass off the jobs while they wait.
	again, err := jobs.Redrive(context.Background(), d.Pool, inv, testRedrive)
	if err != nil || len(again.Jobs) != 0 {
		t.Errorf("second pass at once: %+v %v, want nothing", again, err)
	}
}

// Passes on several replicas at once claim disjoint jobs: every overdue job
// is invoked exactly once.
func TestConcurrentPassesInvokeEachJobOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	const n = 60
	for i := range n {
		insert(t, d.Pool, row{status: "pending", subject: fmt.Sprintf("call:%d", i), updateAgo: 5 * time.Minute, nextIn: -5 * time.Minute})
	}
	inv := &invoker{}
	opts := testRedrive
	opts.Batch = 20
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				sum, err := jobs.Redrive(context.Background(), d.Pool, inv, opts)
				if err != nil {
					errs <- err
					return
				}
				if len(sum.Jobs) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	per := inv.perJob()
	if len(per) != n {
		t.Fatalf("%d jobs invoked, want %d", len(per), n)
	}
	for id, c := range per {
		if c != 1 {
			t.Errorf("job %s invoked %d times", id, c)
		}
	}
	if k := dbtest.Count(t, d.Pool, "jobs", "redrives = 1"); k != n {
		t.Errorf("%d jobs count one redrive, want %d", k, n)
	}
}

// A job whose function never runs is re-invoked with growing back-off and
// parked after MaxInvocations.
func TestRedriveBacksOffThenParks(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	id := insert(t, d.Pool, row{status: "pending", subject: "listing:9", updateAgo: 3 * time.Minute, nextIn: -3 * time.Minute})
	inv := &invoker{}
	for redrive := 1; redrive < testRedrive.MaxInvocations; redrive++ {
		sum, err := jobs.Redrive(ctx, d.Pool, inv, testRedrive)
		if err != nil || sum.Invoked != 1 {
			t.Fatalf("redrive %d: %+v %v", redrive, sum, err)
		}
		s := read(t, d.Pool, id)
		ceiling := min(testRedrive.Policy.Base<<(redrive-1), testRedrive.Policy.Max)
		if s.redrives != redrive || s.nextIn < ceiling/2-5*time.Second || s.nextIn > ceiling+5*time.Second {
			t.Fatalf("after redrive %d: %+v, want next attempt within (%s, %s]", redrive, s, ceiling/2, ceiling)
		}
		if sum, _ := jobs.Redrive(ctx, d.Pool, inv, testRedrive); len(sum.Jobs) != 0 {
			t.Fatalf("job re-invoked during its back-off: %+v", sum)
		}
		travel(t, d.Pool, ceiling)
	}
	sum, err := jobs.Redrive(ctx, d.Pool, inv, testRedrive)
	if err != nil || sum.Parked != 1 || sum.Invoked != 0 {
		t.Fatalf("last pass: %+v %v", sum, err)
	}
	if s := read(t, d.Pool, id); s.status != jobs.StatusFailed || s.lastError != "gave up after 3 invocations: the function never started the job" {
		t.Fatalf("parked job %+v", s)
	}
	if n := len(inv.perJob()); n != 1 || inv.perJob()[id] != testRedrive.MaxInvocations-1 {
		t.Errorf("redrive invoked the job %d times, want %d (plus its producer's dispatch)", inv.perJob()[id], testRedrive.MaxInvocations-1)
	}
}

// A refused invocation is not counted against the job, and the pass stops
// invoking that function; other functions' jobs still go out.
func TestRefusedInvocationIsNotCounted(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	var vec []string
	for i := range 3 {
		vec = append(vec, insert(t, d.Pool, row{status: "retrying", subject: fmt.Sprintf("listing:%d", i), attempts: 1, lastError: "index down", updateAgo: time.Hour, nextIn: -time.Duration(i+1) * time.Minute}))
	}
	other := insert(t, d.Pool, row{kind: jobs.ContactSync, status: "pending", subject: "guest:1", updateAgo: time.Hour, nextIn: -time.Hour})
	inv := &invoker{}
	inv.setFail("vectorize", errors.New("gateway answered 502 Bad Gateway"))
	sum, err := jobs.Redrive(ctx, d.Pool, inv, testRedrive)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Invoked != 1 || sum.InvokeFailed != 1 || sum.Skipped != 2 {
		t.Fatalf("summary %+v, want 1 invoked, 1 refused, 2 skipped", sum)
	}
	if c := inv.perJob(); c[other] != 1 || len(c) != 1 {
		t.Fatalf("invocations %v, want only the contact-sync job", c)
	}
	for _, id := range vec {
		if s := read(t, d.Pool, id); s.redrives != 0 || s.lastError != "index down" || s.status != "retrying" || s.nextIn <= 0 {
			t.Errorf("refused job %+v: want redrives 0, last error kept, next attempt later", s)
		}
	}
	// The gateway recovers: the next turn invokes them.
	inv.setFail("vectorize", nil)
	travel(t, d.Pool, testRedrive.Policy.Base)
	if _, err := jobs.Redrive(ctx, d.Pool, inv, testRedrive); err != nil {
		t.Fatal(err)
	}
	for _, id := range vec {
		if n := inv.perJob()[id]; n != 1 {
			t.Errorf("after recovery job %s invoked %d times, want 1", id, n)
		}
	}
}

func TestRedriveBatchTakesTheLongestOverdueFirst(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, insert(t, d.Pool, row{status: "retrying", attempts: 1, subject: fmt.Sprintf("listing:%d", i), updateAgo: time.Hour, nextIn: -time.Duration(10-i) * time.Minute}))
	}
	opts := testRedrive
	opts.Batch = 2
	sum, err := jobs.Redrive(context.Background(), d.Pool, &invoker{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Jobs) != 2 || sum.Jobs[0].ID != ids[0] || sum.Jobs[1].ID != ids[1] {
		t.Fatalf("batch %+v, want %s and %s", sum.Jobs, ids[0], ids[1])
	}
}

func TestTruncatedErrorStaysValidText(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	long := strings.Repeat("é", 1500) // 3000 bytes
	id := insert(t, d.Pool, row{status: "retrying", attempts: 2, redrives: 2, lastError: long, subject: "listing:1", updateAgo: time.Hour, nextIn: -time.Minute})
	if _, err := jobs.Redrive(context.Background(), d.Pool, &invoker{}, testRedrive); err != nil {
		t.Fatal(err)
	}
	s := read(t, d.Pool, id)
	if s.status != "failed" || len(s.lastError) > 2000 || !strings.HasPrefix(s.lastError, "gave up after 3 invocations: éé") {
		t.Fatalf("parked with %d bytes: %.60s", len(s.lastError), s.lastError)
	}
}
