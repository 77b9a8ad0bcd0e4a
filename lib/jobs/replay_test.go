package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
)

func TestReplayByKind(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a := insert(t, d.Pool, row{status: "failed", subject: "listing:1", attempts: 8, redrives: 7, lastError: "gave up after 8 invocations: index down", updateAgo: time.Hour})
	b := insert(t, d.Pool, row{status: "failed", subject: "call:2", attempts: 1, lastError: "no such call", updateAgo: time.Hour})
	other := insert(t, d.Pool, row{kind: jobs.ContactSync, status: "failed", subject: "guest:1", attempts: 8, lastError: "chatwoot down", updateAgo: time.Hour})
	running := insert(t, d.Pool, row{status: "running", subject: "listing:5", attempts: 1, nextIn: time.Hour})

	res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{Kind: "vectorize"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requeued) != 2 || len(res.Absorbed) != 0 || len(res.Untouched) != 0 {
		t.Fatalf("result %+v", res)
	}
	for _, id := range []string{a, b} {
		if s := read(t, d.Pool, id); s.status != "pending" || s.attempts != 0 || s.redrives != 0 || s.lastError != "" || s.nextIn > time.Second {
			t.Errorf("replayed job %s = %+v, want pending with fresh counters", id, s)
		}
	}
	if s := read(t, d.Pool, other); s.status != "failed" {
		t.Errorf("job of another kind: %+v", s)
	}
	if s := read(t, d.Pool, running); s.status != "running" {
		t.Errorf("running job: %+v", s)
	}
	// What the job had is kept.
	var outcome, lastError string
	var attempts, redrives int
	err = d.Pool.QueryRow(ctx, "SELECT outcome, attempts, redrives, last_error FROM job_replays WHERE job_id = $1", a).Scan(&outcome, &attempts, &redrives, &lastError)
	if err != nil || outcome != "requeued" || attempts != 8 || redrives != 7 || lastError != "gave up after 8 invocations: index down" {
		t.Errorf("history: %s %d %d %q (%v)", outcome, attempts, redrives, lastError, err)
	}
	// Re-queued, not invoked: the caller dispatches, and redrive leaves the
	// jobs to that dispatch for the grace period.
	jobsOut := res.Jobs()
	if len(jobsOut) != 2 || jobsOut[0].Function != "vectorize" || !strings.HasPrefix(jobsOut[0].TraceID, "trace-") {
		t.Errorf("jobs to dispatch %+v", jobsOut)
	}
	if sum, _ := jobs.Redrive(ctx, d.Pool, &invoker{}, testRedrive); len(sum.Jobs) != 0 {
		t.Errorf("redrive right after replay: %+v", sum)
	}
	travel(t, d.Pool, testRedrive.Grace)
	if sum, _ := jobs.Redrive(ctx, d.Pool, &invoker{}, testRedrive); sum.Invoked != 2 {
		t.Errorf("redrive after the grace period: %+v, want the 2 replayed jobs", sum)
	}
	// Nothing failed of that kind is left: a second replay does nothing.
	if res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{Kind: "vectorize"}, false); err != nil || len(res.Requeued)+len(res.Absorbed) != 0 {
		t.Errorf("second replay: %+v %v", res, err)
	}
}

// One pending job per kind and subject: the newest failed job of a subject
// is re-queued and older ones absorbed into it, or all into a pending job
// that already covers the subject.
func TestReplayAbsorbsJobsOfTheSameSubject(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	older := insert(t, d.Pool, row{status: "failed", subject: "listing:1", attempts: 8, lastError: "e1", createdAgo: 3 * time.Hour, updateAgo: 2 * time.Hour})
	newer := insert(t, d.Pool, row{status: "failed", subject: "listing:1", attempts: 8, lastError: "e2", createdAgo: 2 * time.Hour, updateAgo: time.Hour})
	covered := insert(t, d.Pool, row{status: "failed", subject: "listing:2", attempts: 8, lastError: "e3", updateAgo: time.Hour})
	pending := insert(t, d.Pool, row{status: "pending", subject: "listing:2"})

	res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{All: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requeued) != 1 || res.Requeued[0].ID != newer {
		t.Fatalf("requeued %+v, want only %s", res.Requeued, newer)
	}
	into := map[string]string{}
	for _, a := range res.Absorbed {
		into[a.ID] = a.AbsorbedInto
	}
	if len(into) != 2 || into[older] != newer || into[covered] != pending {
		t.Fatalf("absorbed %v, want %s->%s and %s->%s", into, older, newer, covered, pending)
	}
	for _, id := range []string{older, covered} {
		if s := read(t, d.Pool, id); s.status != "done" {
			t.Errorf("absorbed job %s: %+v", id, s)
		}
	}
	if n := dbtest.Count(t, d.Pool, "job_replays", "outcome = 'absorbed' AND absorbed_into IS NOT NULL"); n != 2 {
		t.Errorf("absorbed history rows = %d", n)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "status = 'pending'"); n != 2 {
		t.Errorf("pending jobs = %d, want 2 (one per subject)", n)
	}
}

func TestReplayByID(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	failed := insert(t, d.Pool, row{status: "failed", subject: "listing:1", attempts: 3, lastError: "x", updateAgo: time.Hour})
	done := insert(t, d.Pool, row{status: "done", subject: "listing:2", attempts: 1})
	missing := "00000000-0000-0000-0000-000000000001"
	res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{IDs: []string{strings.ToUpper(failed), done, missing}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Requeued) != 1 || res.Requeued[0].ID != failed {
		t.Errorf("requeued %+v", res.Requeued)
	}
	want := []jobs.Untouched{{ID: done, Status: "done"}, {ID: missing}}
	if len(res.Untouched) != 2 || res.Untouched[0] != want[0] || res.Untouched[1] != want[1] {
		t.Errorf("untouched %+v, want %+v", res.Untouched, want)
	}
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	id := insert(t, d.Pool, row{status: "failed", subject: "listing:1", attempts: 3, lastError: "x", updateAgo: time.Hour})
	res, err := jobs.Replay(context.Background(), d.Pool, jobs.ReplayFilter{All: true}, true)
	if err != nil || len(res.Requeued) != 1 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if s := read(t, d.Pool, id); s.status != "failed" || s.attempts != 3 {
		t.Errorf("dry run changed the job: %+v", s)
	}
	if n := dbtest.Count(t, d.Pool, "job_replays", ""); n != 0 {
		t.Errorf("dry run wrote %d history rows", n)
	}
}

func TestReplayFilterValidation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	for _, f := range []jobs.ReplayFilter{
		{},
		{Kind: "vectorize", All: true},
		{Kind: "vectorize", IDs: []string{"00000000-0000-0000-0000-000000000001"}},
		{IDs: []string{"42; DROP TABLE jobs"}},
	} {
		if _, err := jobs.Replay(context.Background(), d.Pool, f, false); fault.KindOf(err) != fault.Invalid {
			t.Errorf("filter %+v: %v, want an invalid-input error", f, err)
		}
	}
}
