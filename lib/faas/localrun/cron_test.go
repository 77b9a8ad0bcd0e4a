package localrun_test

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/faas/localrun"
	"github.com/harborstays/concierge/lib/stack"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		expr, from string
		want       []string // the next activations, in order
	}{
		{"* * * * *", "2026-03-01T03:14:30Z", []string{"2026-03-01T03:15:00Z", "2026-03-01T03:16:00Z"}},
		{"*/15 * * * *", "2026-03-01T03:14:00Z", []string{"2026-03-01T03:15:00Z", "2026-03-01T03:30:00Z", "2026-03-01T03:45:00Z", "2026-03-01T04:00:00Z"}},
		{"17 3 * * *", "2026-03-01T03:17:00Z", []string{"2026-03-02T03:17:00Z", "2026-03-03T03:17:00Z"}},
		{"0 9 * * mon-fri", "2026-03-06T10:00:00Z", []string{"2026-03-09T09:00:00Z", "2026-03-10T09:00:00Z"}}, // Friday -> Monday
		{"30 2 1 jan,jul *", "2026-03-01T00:00:00Z", []string{"2026-07-01T02:30:00Z", "2027-01-01T02:30:00Z"}},
		// Day of month and weekday both restricted: either matches.
		{"0 0 13 * 5", "2026-03-01T00:00:00Z", []string{"2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"}},
		{"5-10/5 0 * * *", "2026-03-01T00:00:00Z", []string{"2026-03-01T00:05:00Z", "2026-03-01T00:10:00Z", "2026-03-02T00:05:00Z"}},
		{"@hourly", "2026-03-01T03:14:00Z", []string{"2026-03-01T04:00:00Z", "2026-03-01T05:00:00Z"}},
		{"@daily", "2026-03-01T03:14:00Z", []string{"2026-03-02T00:00:00Z"}},
	}
	for _, tt := range tests {
		s, err := localrun.ParseSchedule(tt.expr)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		// Whatever the machine's zone, schedules are UTC.
		from := at(tt.from).In(time.FixedZone("UTC+5", 5*3600))
		for _, w := range tt.want {
			from = s.Next(from)
			if !from.Equal(at(w)) {
				t.Errorf("%q: next %s, want %s", tt.expr, from.UTC().Format(time.RFC3339), w)
				break
			}
		}
	}
	for _, bad := range []string{"", "* * * *", "0 * * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "every minute",
		"0 0 * * 7", // Sunday is 0 only, as in cron-connector: refused at start rather than read otherwise
	} {
		if _, err := localrun.ParseSchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestStackSchedules(t *testing.T) {
	st, err := stack.Load("../../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range localrun.StackSchedules(st) {
		if _, err := localrun.ParseSchedule(s.Schedule); err != nil {
			t.Errorf("%s: %v", s.Function, err)
		}
		got[s.Function] = s.Schedule
	}
	if got["redrive"] != "* * * * *" || got["backup"] == "" || got["purge"] == "" || got["aircall-hook"] != "" {
		t.Errorf("schedules %v", got)
	}
	if _, err := localrun.StartCron(localrun.New(localrun.Options{}), []localrun.Scheduled{{Function: "x", Schedule: "* * *"}}, localrun.CronOptions{}); err == nil || !strings.Contains(err.Error(), "function x") {
		t.Errorf("bad schedule: %v, want an error naming the function", err)
	}
}

// fakeClock moves only when told; After channels fire as it passes them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// advance moves the clock once the scheduler is waiting on it.
func (c *fakeClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("scheduler never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// calls records the invocations the gateway ran.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) fn(name string) func(handler.Request) (handler.Response, error) {
	return func(req handler.Request) (handler.Response, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if req.Method != http.MethodPost || len(req.Body) != 0 {
			name += " (bad request)"
		}
		c.n[name]++
		return handler.Response{StatusCode: http.StatusOK}, nil
	}
}

func (c *calls) wait(t *testing.T, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		ok := true
		for k, v := range want {
			ok = ok && c.n[k] >= v
		}
		c.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("invocations %v, want %v", c.n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCronInvokesThroughTheQueue(t *testing.T) {
	g := localrun.New(localrun.Options{Workers: 2, Log: zerolog.Nop()})
	rec := &calls{n: map[string]int{}}
	g.Register("redrive", rec.fn("redrive"))
	g.Register("purge", rec.fn("purge"))
	g.Declare("backup", "not built")
	clock := &fakeClock{now: at("2026-03-01T03:14:30Z")}
	c, err := localrun.StartCron(g, []localrun.Scheduled{
		{Function: "redrive", Schedule: "* * * * *"},
		{Function: "purge", Schedule: "*/15 * * * *"},
		{Function: "backup", Schedule: "17 3 * * *"},
	}, localrun.CronOptions{Clock: clock, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		by   time.Duration
		want map[string]int // cumulative
	}{
		{30 * time.Second, map[string]int{"redrive": 1, "purge": 1}}, // 03:15
		{time.Minute, map[string]int{"redrive": 2, "purge": 1}},      // 03:16
		{time.Minute, map[string]int{"redrive": 3, "purge": 1}},      // 03:17: backup is not built
		{30 * time.Second, map[string]int{"redrive": 3, "purge": 1}}, // 03:17:30, nothing due
		// Asleep ten minutes: the missed ticks collapse into one.
		{10 * time.Minute, map[string]int{"redrive": 4, "purge": 1}}, // 03:27:30
		{30 * time.Second, map[string]int{"redrive": 5, "purge": 1}}, // 03:28
		{time.Minute, map[string]int{"redrive": 6, "purge": 1}},      // 03:29
		{time.Minute, map[string]int{"redrive": 7, "purge": 2}},      // 03:30
	}
	for _, s := range steps {
		clock.advance(t, s.by)
		rec.wait(t, s.want)
	}
	c.Close()
	c.Close() // idempotent
	g.Close() // drains the queue: every queued call has run
	if want := map[string]int{"redrive": 7, "purge": 2}; !maps.Equal(rec.n, want) {
		t.Errorf("invocations %v, want %v", rec.n, want)
	}
}
