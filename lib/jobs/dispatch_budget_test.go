package jobs

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// stalled is a gateway whose /async-function hangs: it records the
// deadline each call got and returns only when the call's context ends.
type stalled struct {
	mu        sync.Mutex
	deadlines []time.Time
	errs      []error
}

func (s *stalled) Async(ctx context.Context, _ string, _ []byte, _ http.Header) error {
	d, _ := ctx.Deadline()
	<-ctx.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadlines = append(s.deadlines, d)
	s.errs = append(s.errs, ctx.Err())
	return ctx.Err()
}

// A stalled queue does not hold the caller: Dispatch gives up within its
// budget (the jobs are durable; redrive starts them later), even when the
// caller's own context has no deadline.
func TestDispatchGivesUpWithinItsBudget(t *testing.T) {
	inv := &stalled{}
	before := time.Now()
	Dispatch(context.Background(), inv, []Job{{ID: "1", Function: "vectorize"}, {ID: "2", Function: "vectorize"}})
	if len(inv.deadlines) != 2 {
		t.Fatalf("%d invocations, want 2", len(inv.deadlines))
	}
	for i, d := range inv.deadlines {
		// The budget is set when Dispatch starts, a moment after before:
		// a second of slack, against the caller's no deadline at all.
		if d.IsZero() || d.After(before.Add(DispatchBudget+time.Second)) {
			t.Errorf("invocation %d: deadline %v, want one within %v of the start", i, d.Sub(before), DispatchBudget)
		}
		if !errors.Is(inv.errs[i], context.DeadlineExceeded) {
			t.Errorf("invocation %d ended with %v, want the budget's deadline", i, inv.errs[i])
		}
	}
	// A caller's nearer deadline still holds.
	inv = &stalled{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	Dispatch(ctx, inv, []Job{{ID: "3", Function: "vectorize"}})
	if len(inv.deadlines) != 1 || !inv.deadlines[0].Equal(want) {
		t.Errorf("deadlines %v, want the caller's %v", inv.deadlines, want)
	}
}
