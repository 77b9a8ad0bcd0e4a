package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// Each jitter keeps every wait in its window around the exponential value,
// which doubles from Base and stops at Max.
func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter Jitter
		lo, hi func(d time.Duration) time.Duration
	}{
		{"upper half", UpperHalf, func(d time.Duration) time.Duration { return d / 2 }, func(d time.Duration) time.Duration { return d }},
		{"within 20%", Within20Percent, func(d time.Duration) time.Duration { return d * 8 / 10 }, func(d time.Duration) time.Duration { return d * 12 / 10 }},
		{"upper quarter", UpperQuarter, func(d time.Duration) time.Duration { return d * 3 / 4 }, func(d time.Duration) time.Duration { return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Second, Jitter: tc.jitter}
			want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
			for i, d := range want {
				n := i + 1
				for range 50 {
					if got := b.Delay(n); got < tc.lo(d) || got > tc.hi(d) {
						t.Fatalf("Delay(%d) = %s, want in [%s, %s]", n, got, tc.lo(d), tc.hi(d))
					}
				}
			}
			// Far past the cap the doubling stops instead of overflowing.
			if got := b.Delay(200); got < tc.lo(b.Max) || got > tc.hi(b.Max) {
				t.Errorf("Delay(200) = %s", got)
			}
			// Down to a zero base: the jitter's bound is never below one.
			for _, base := range []time.Duration{0, 1, 2, 3} {
				if got := (Backoff{Base: base, Max: base, Jitter: tc.jitter}).Delay(2); got < tc.lo(base) || got > tc.hi(base) {
					t.Errorf("Delay(2) with base %d ns = %d ns", base, got)
				}
			}
		})
	}
}

func TestNext(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 4 * time.Second, MaxWait: 10 * time.Second}
	ctx := t.Context()
	if d, err := b.Next(ctx, 1, 7*time.Second, true); d != 7*time.Second || err != nil {
		t.Errorf("asked 7s: %s %v", d, err)
	}
	if d, err := b.Next(ctx, 1, 0, true); d != 0 || err != nil {
		t.Errorf("asked 0: %s %v", d, err)
	}
	if d, err := b.Next(ctx, 3, 0, false); d < 2*time.Second || d > 4*time.Second || err != nil {
		t.Errorf("no ask, third failure: %s %v", d, err)
	}
	if d, err := b.Next(ctx, 1, 10*time.Second, true); d != 10*time.Second || err != nil {
		t.Errorf("asked exactly MaxWait: %s %v", d, err)
	}
	if d, err := b.Next(ctx, 1, 11*time.Second, true); d != 11*time.Second || !errors.Is(err, ErrTooLong) {
		t.Errorf("asked beyond MaxWait: %s %v", d, err)
	}
	if _, err := (Backoff{}).Next(ctx, 1, time.Hour, true); err != nil {
		t.Errorf("no MaxWait bounds nothing: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d, err := b.Next(short, 1, 5*time.Second, true); d != 5*time.Second || !errors.Is(err, ErrNoTime) {
		t.Errorf("deadline before the wait: %s %v", d, err)
	}
	if _, err := b.Next(short, 1, time.Second, true); err != nil {
		t.Errorf("deadline after the wait: %v", err)
	}
}

func TestWaitUsesInjectedClock(t *testing.T) {
	var slept []time.Duration
	b := Backoff{Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
		Now: func() time.Time { return time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC) }}
	if err := b.Wait(t.Context(), time.Hour); err != nil || len(slept) != 1 || slept[0] != time.Hour {
		t.Errorf("Wait: %v, slept %v", err, slept)
	}
	if d, ok := b.RetryAfter("Sun, 06 Dec 2026 07:00:30 GMT"); d != 30*time.Second || !ok {
		t.Errorf("RetryAfter on the injected clock: %s %v", d, ok)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("short sleep: %v", err)
	}
	if err := Sleep(t.Context(), 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sleep: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %s", d)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("zero sleep on an ended context: %v", err)
	}
	if err := (Backoff{}).Wait(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("real Wait on an ended context: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"soon", 0, false},
		{"later", 0, false},
		{"0", 0, true},
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-1", 0, false},
		{"-3", 0, false},
		{"1e300", math.MaxInt64, true},
		{"Sun, 06 Dec 2026 07:00:30 GMT", 30 * time.Second, true},
		{"Sun, 06 Dec 2026 06:59:00 GMT", 0, true},
	} {
		d, ok := ParseRetryAfter(c.v, now)
		if d != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", c.v, d, ok, c.want, c.ok)
		}
	}
}
