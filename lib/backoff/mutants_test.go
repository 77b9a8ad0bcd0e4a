package backoff

// Tests written for `make mutate`: each names the gremlins mutants of
// backoff.go it kills.

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

// A Retry-After beyond what a time.Duration holds is the longest wait, not
// an overflowed (negative or wrapped) one: 1e10 s is about 317 years, past
// the 292 years of time.Duration, and maxSeconds itself is the first value
// that no longer fits.
// Kills: maxSeconds computed with * instead of / (1e10 s would then be
// converted and overflow), and `s >= maxSeconds` made `>` (maxSeconds
// itself would be converted).
func TestParseRetryAfterBeyondDuration(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for _, v := range []string{"1e10", "9223372037", strconv.FormatFloat(float64(math.MaxInt64)/float64(time.Second), 'g', -1, 64)} {
		if d, ok := ParseRetryAfter(v, now); d != math.MaxInt64 || !ok {
			t.Errorf("ParseRetryAfter(%q) = %d, %v; want %d, true", v, d, ok, int64(math.MaxInt64))
		}
	}
	// Just below the bound the value is converted as it is.
	if d, ok := ParseRetryAfter("9223372036", now); d != 9223372036*time.Second || !ok {
		t.Errorf("ParseRetryAfter(9223372036) = %d, %v", d, ok)
	}
}

// A zero wait on an ended context reports the context's error every time.
// A zero-length timer is ready at once, so a Sleep that started one for d
// == 0 would pick between the timer and ctx.Done at random and answer nil
// about half the time.
// Kills: Sleep's `d <= 0` made `d < 0`.
func TestSleepZeroOnEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 200 {
		if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("attempt %d: Sleep(ended ctx, 0) = %v, want context.Canceled", i, err)
		}
	}
}
