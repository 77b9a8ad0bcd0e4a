// Package backoff is how Concierge waits before trying again, written once
// for every provider client and for the job outbox: exponential back-off
// with jitter, the wait a provider asks for (HTTP Retry-After), and a
// sleep that ends with its context. Modelled on tailscale's util/backoff:
// one type, a policy per caller as a value of it, an injectable clock.
//
// It decides and waits; it does not classify errors. Each client still
// says which failures are worth another attempt and how many attempts a
// call gets, because that differs by provider.
package backoff

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Jitter is how a wait is spread around its exponential value d, so that
// replicas retrying one outage do not come back together.
type Jitter uint8

const (
	// UpperHalf draws the wait from [d/2, d] (the zero value): the jobs'
	// and Chatwoot's back-off.
	UpperHalf Jitter = iota
	// Within20Percent draws it from [0.8d, 1.2d): the embeddings client's,
	// which waits close to the exponential value.
	Within20Percent
	// UpperQuarter draws it from (0.75d, d]: the model client's, as
	// openai-go computed it.
	UpperQuarter
)

// Backoff is one caller's waiting policy. The zero value of Now and Sleep
// is the real clock; tests inject theirs.
type Backoff struct {
	// Base is the wait after the first failed attempt; it doubles with each
	// further one up to Max.
	Base, Max time.Duration
	// Jitter spreads each wait (UpperHalf when zero).
	Jitter Jitter
	// MaxWait is the longest single wait the caller sits out in process
	// (Next); 0 means no bound. A longer one is left to the job's back-off.
	MaxWait time.Duration
	// Now reads the clock for Retry-After dates (time.Now when nil).
	Now func() time.Time
	// Sleep waits d or until ctx ends (the package's Sleep when nil).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Delay is the wait after the n-th failed attempt (n >= 1): Base doubled
// n-1 times, at most Max, spread by Jitter.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	switch b.Jitter {
	case Within20Percent:
		return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	case UpperQuarter:
		return time.Duration(float64(d) * (1 - 0.25*rand.Float64()))
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Why Next refuses to wait.
var (
	// ErrTooLong: the wait is beyond MaxWait.
	ErrTooLong = errors.New("backoff: wait longer than the caller sits out")
	// ErrNoTime: the context ends before the wait would.
	ErrNoTime = errors.New("backoff: no time left to wait")
)

// Next is the wait before the attempt after the n-th failed one: the
// provider's retryAfter when it named one (asked), else Delay(n). It
// returns the wait with ErrTooLong when it is beyond MaxWait, or with
// ErrNoTime when ctx's deadline comes sooner; the caller then gives up and
// leaves the retry to the job, which honours the provider's wait.
func (b Backoff) Next(ctx context.Context, n int, retryAfter time.Duration, asked bool) (time.Duration, error) {
	wait := retryAfter
	if !asked {
		wait = b.Delay(n)
	}
	if b.MaxWait > 0 && wait > b.MaxWait {
		return wait, ErrTooLong
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return wait, ErrNoTime
	}
	return wait, nil
}

// Wait sleeps d on b's clock, or until ctx ends (ctx's error).
func (b Backoff) Wait(ctx context.Context, d time.Duration) error {
	if b.Sleep != nil {
		return b.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// RetryAfter reads a Retry-After value on b's clock (ParseRetryAfter).
func (b Backoff) RetryAfter(v string) (time.Duration, bool) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	return ParseRetryAfter(v, now())
}

// Sleep waits d or until ctx ends, whichever comes first, and returns
// ctx's error if it ended. A wait of 0 or less returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxSeconds is the longest delay-seconds a time.Duration holds.
const maxSeconds = float64(math.MaxInt64) / float64(time.Second)

// ParseRetryAfter reads HTTP Retry-After (RFC 9110 10.2.3), relative to
// now: delay-seconds (decimals accepted, as some providers send them) or an
// HTTP date; a date in the past is 0. ok is false when v is empty,
// unreadable or a negative number: the caller backs off as if none was
// given.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s >= maxSeconds {
			return math.MaxInt64, true // the caller's own bound applies
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
