package jobs_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func enqueue(t *testing.T, d *dbtest.DB, subject string) jobs.Job {
	t.Helper()
	var j jobs.Job
	err := pgx.BeginFunc(context.Background(), d.Pool, func(tx pgx.Tx) (err error) {
		j, err = jobs.Enqueue(context.Background(), tx, jobs.Vectorize, subject, "trace")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func status(t *testing.T, d *dbtest.DB, id string) (s string, attempts int) {
	t.Helper()
	if err := d.Pool.QueryRow(context.Background(), "SELECT status, attempts FROM jobs WHERE id = $1", id).Scan(&s, &attempts); err != nil {
		t.Fatal(err)
	}
	return s, attempts
}

func TestLifecycle(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	p := jobs.Policy{MaxAttempts: 2, Lease: time.Minute, Base: time.Millisecond, Max: time.Millisecond}

	j := enqueue(t, d, "listing:1")
	if again := enqueue(t, d, "listing:1"); again.ID != j.ID {
		t.Fatalf("second pending job for the same subject: %s, want coalesced into %s", again.ID, j.ID)
	}
	c, err := jobs.Start(ctx, d.Pool, j.ID, p)
	if err != nil || c.Attempt != 1 || c.Subject != "listing:1" {
		t.Fatalf("start: %+v %v", c, err)
	}
	if _, err := jobs.Start(ctx, d.Pool, j.ID, p); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("second start while the lease holds: %v, want ErrBusy", err)
	}
	// While it runs, a new event for the subject gets its own pending job.
	if next := enqueue(t, d, "listing:1"); next.ID == j.ID {
		t.Fatal("a running job absorbed a new event")
	}
	if s, err := jobs.Fail(ctx, d.Pool, c, fault.New(fault.Unavailable, "index down"), p); s != jobs.StatusRetrying {
		t.Fatalf("first failure: %s (%v), want retrying", s, err)
	}
	c, err = jobs.Start(ctx, d.Pool, j.ID, p)
	if err != nil || c.Attempt != 2 {
		t.Fatalf("retry start: %+v %v", c, err)
	}
	if s, _ := jobs.Fail(ctx, d.Pool, c, errors.New("still down"), p); s != jobs.StatusFailed {
		t.Fatalf("last attempt: %s, want failed", s)
	}
	if _, err := jobs.Start(ctx, d.Pool, j.ID, p); !errors.Is(err, jobs.ErrFinished) {
		t.Fatalf("start of a failed job: %v, want ErrFinished", err)
	}

	ok := enqueue(t, d, "listing:2")
	c, _ = jobs.Start(ctx, d.Pool, ok.ID, p)
	if err := jobs.Done(ctx, d.Pool, c); err != nil {
		t.Fatal(err)
	}
	if s, n := status(t, d, ok.ID); s != jobs.StatusDone || n != 1 {
		t.Fatalf("done job: %s after %d attempts", s, n)
	}
	if _, err := jobs.Start(ctx, d.Pool, ok.ID, p); !errors.Is(err, jobs.ErrFinished) {
		t.Fatalf("repeated invocation of a done job: %v, want ErrFinished", err)
	}
	bad := enqueue(t, d, "listing:3")
	c, _ = jobs.Start(ctx, d.Pool, bad.ID, p)
	if s, _ := jobs.Fail(ctx, d.Pool, c, fault.New(fault.Invalid, "no such listing"), p); s != jobs.StatusFailed {
		t.Fatalf("permanent error: %s, want failed at once", s)
	}
	if _, err := jobs.Start(ctx, d.Pool, "00000000-0000-0000-0000-000000000000", p); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	p := jobs.Policy{Base: time.Second, Max: time.Minute}
	for n := 1; n <= 10; n++ {
		d := p.Backoff(n)
		if d < 0 || d > p.Max {
			t.Fatalf("backoff(%d) = %s outside [0, %s]", n, d, p.Max)
		}
		ceiling := p.Base << (n - 1)
		if ceiling > p.Max {
			ceiling = p.Max
		}
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, ceiling/2, ceiling)
		}
	}
}

// throttled is a provider error carrying Retry-After.
type throttled struct{ wait time.Duration }

func (e throttled) Error() string             { return "throttled" }
func (e throttled) RetryDelay() time.Duration { return e.wait }
func (e throttled) Unwrap() error             { return fault.New(fault.Unavailable, "provider throttled") }

func TestFailHonoursRetryAfter(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	p := jobs.Policy{MaxAttempts: 5, Lease: time.Minute, Base: time.Second, Max: 2 * time.Second}
	for _, tc := range []struct {
		name     string
		err      error
		min, max time.Duration
	}{
		{"no hint: the policy's back-off", fault.New(fault.Unavailable, "down"), 0, 2 * time.Second},
		{"hint longer than the back-off wins", throttled{90 * time.Second}, 89 * time.Second, 91 * time.Second},
		{"hint shorter than the back-off is ignored", throttled{time.Millisecond}, 0, 2 * time.Second},
		{"absurd hint is bounded", throttled{30 * 24 * time.Hour}, 6*time.Hour - time.Minute, 6*time.Hour + time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := enqueue(t, d, "listing:"+tc.name)
			c, err := jobs.Start(ctx, d.Pool, j.ID, p)
			if err != nil {
				t.Fatal(err)
			}
			if s, err := jobs.Fail(ctx, d.Pool, c, tc.err, p); s != jobs.StatusRetrying {
				t.Fatalf("status %s (%v), want retrying", s, err)
			}
			var wait time.Duration
			if err := d.Pool.QueryRow(ctx, "SELECT next_attempt_at - now() FROM jobs WHERE id = $1", j.ID).Scan(&wait); err != nil {
				t.Fatal(err)
			}
			if wait < tc.min || wait > tc.max {
				t.Fatalf("next attempt in %s, want within [%s, %s]", wait, tc.min, tc.max)
			}
		})
	}
}

func TestEnqueueAfterIsNotStartedEarly(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	p := jobs.Policy{MaxAttempts: 2, Lease: time.Minute, Base: time.Millisecond, Max: time.Millisecond}
	var j jobs.Job
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) (err error) {
		j, err = jobs.EnqueueAfter(ctx, tx, jobs.TranscribeCall, "call:1", "trace", time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Start(ctx, d.Pool, j.ID, p); !errors.Is(err, jobs.ErrNotDue) {
		t.Fatalf("start before due: %v, want ErrNotDue", err)
	}
	if s, n := status(t, d, j.ID); s != jobs.StatusPending || n != 0 {
		t.Fatalf("after an early invocation: %s with %d attempts, want pending with none", s, n)
	}
	// Redrive leaves it alone until due, and then invokes it at once: the
	// grace for a producer's own invocation does not apply.
	opts := jobs.RedriveOptions{Policy: p, MaxInvocations: 3, Grace: time.Hour, Batch: 10}
	sum, err := jobs.Redrive(ctx, d.Pool, &invoker{}, opts)
	if err != nil || len(sum.Jobs) != 0 {
		t.Fatalf("redrive before due: %+v %v", sum, err)
	}
	if _, err := d.Pool.Exec(ctx, "UPDATE jobs SET not_before = now() - interval '1s', next_attempt_at = now() - interval '1s' WHERE id = $1", j.ID); err != nil {
		t.Fatal(err)
	}
	sum, err = jobs.Redrive(ctx, d.Pool, &invoker{}, opts)
	if err != nil || len(sum.Jobs) != 1 || sum.Jobs[0].Action != jobs.ActionInvoked {
		t.Fatalf("redrive once due: %+v %v", sum, err)
	}
	if c, err := jobs.Start(ctx, d.Pool, j.ID, p); err != nil || c.Attempt != 1 {
		t.Fatalf("start once due: %+v %v", c, err)
	}
}

// An attempt whose lease expired while a later attempt runs cannot record
// an outcome over the later one.
func TestStaleAttemptChangesNothing(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	p := jobs.Policy{MaxAttempts: 5, Lease: time.Minute, Base: time.Millisecond, Max: time.Millisecond}
	j := enqueue(t, d, "listing:stale")
	first, err := jobs.Start(ctx, d.Pool, j.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, "UPDATE jobs SET next_attempt_at = now() - interval '1 second' WHERE id = $1", j.ID); err != nil {
		t.Fatal(err)
	}
	second, err := jobs.Start(ctx, d.Pool, j.ID, p)
	if err != nil || second.Attempt != 2 {
		t.Fatalf("second attempt: %+v %v", second, err)
	}
	if _, err := jobs.Fail(ctx, d.Pool, first, fault.New(fault.Invalid, "stale"), p); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Snooze(ctx, d.Pool, first, time.Minute, "stale"); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Done(ctx, d.Pool, first); err != nil {
		t.Fatal(err)
	}
	if s, n := status(t, d, j.ID); s != jobs.StatusRunning || n != 2 {
		t.Fatalf("after the stale attempt's outcomes: %s with %d attempts, want the second still running", s, n)
	}
	if err := jobs.Done(ctx, d.Pool, second); err != nil {
		t.Fatal(err)
	}
	if s, _ := status(t, d, j.ID); s != jobs.StatusDone {
		t.Fatalf("after the second attempt: %s, want done", s)
	}
}
