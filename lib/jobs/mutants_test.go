package jobs_test

// Tests written for `make mutate`: each names the gremlins mutants it
// kills.

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
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
