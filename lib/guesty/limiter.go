package guesty

import (
	"context"
	"sync"
	"time"

	"github.com/harborstays/concierge/lib/backoff"
)

// Limits are request budgets per trailing window.
type Limits struct {
	PerSecond, PerMinute, PerHour int
}

// GuestyLimits are the Open API's published limits: 15 requests a second,
// 120 a minute, 5,000 an hour (open-api-docs.guesty.com/docs/rate-limits).
var GuestyLimits = Limits{PerSecond: 15, PerMinute: 120, PerHour: 5000}

// windowMargin widens every window a little: requests leave here in order
// but reach Guesty with some jitter, and a request counted in the next
// window by us but in this one by Guesty costs a 429.
const windowMargin = 100 * time.Millisecond

// limiter keeps this process under Limits with a sliding-window log: no
// more than n requests in any interval of a window's length, which also
// keeps every fixed window Guesty may count under n. (A token bucket with
// a burst of n can send nearly 2n within one aligned second.) One limiter
// per process: replicas share Guesty's budget, so a deployment that runs
// several replicas of a Guesty caller gives each a share (Limits).
type limiter struct {
	mu      sync.Mutex
	windows []*window
	// paused holds every request until then: Guesty answered 429 with a
	// Retry-After, and every request before it would be refused too.
	paused time.Time
	now    func() time.Time
}

type window struct {
	n    int
	span time.Duration
	log  []time.Time // send times within span, oldest first
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	lim := &limiter{now: now}
	for _, w := range []struct {
		n    int
		span time.Duration
	}{{l.PerSecond, time.Second}, {l.PerMinute, time.Minute}, {l.PerHour, time.Hour}} {
		if w.n > 0 {
			lim.windows = append(lim.windows, &window{n: w.n, span: w.span + windowMargin})
		}
	}
	return lim
}

// reserve records a request at now and returns 0, or returns how long the
// caller must wait before asking again.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := l.paused.Sub(now)
	for _, w := range l.windows {
		cut := 0
		for cut < len(w.log) && now.Sub(w.log[cut]) >= w.span {
			cut++
		}
		w.log = w.log[cut:]
		if len(w.log) >= w.n {
			wait = max(wait, w.log[len(w.log)-w.n].Add(w.span).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, w := range l.windows {
		w.log = append(w.log, now)
	}
	return 0
}

// pause holds every request until d from now.
func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.paused) {
		l.paused = until
	}
}

// wait blocks until a request may be sent, or returns a *RateLimitError
// with the wait when it is longer than budget: a step must not spend its
// time budget sleeping; the job is retried after the wait instead.
func (l *limiter) wait(ctx context.Context, budget time.Duration) error {
	start := l.now()
	for {
		now := l.now()
		d := l.reserve(now)
		if d <= 0 {
			return nil
		}
		if now.Add(d).Sub(start) > budget {
			return &RateLimitError{Wait: d}
		}
		if err := backoff.Sleep(ctx, d); err != nil {
			return err
		}
	}
}
