package jobs

// Tests of unexported helpers, written for `make mutate`: each names the
// gremlins mutants it kills.

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Zero or negative options take the defaults; set ones are kept.
// Kills: withDefaults' `o.Policy.Base <= 0`, both `o.MaxInvocations <= 0`
// and `o.Batch <= 0` made < (a zero option kept as zero: no back-off, a
// job parked before its first redrive, a pass that claims nothing) and
// the first `o.MaxInvocations <= 0` negated.
func TestWithDefaults(t *testing.T) {
	z := RedriveOptions{}.withDefaults()
	if z.Policy != DefaultPolicy || z.MaxInvocations != DefaultPolicy.MaxAttempts || z.Batch != DefaultRedrive.Batch || z.Grace != 0 {
		t.Errorf("zero options: %+v", z)
	}
	neg := RedriveOptions{Policy: Policy{Base: -time.Second}, MaxInvocations: -1, Batch: -5, Grace: -time.Minute}.withDefaults()
	if neg.Policy != DefaultPolicy || neg.MaxInvocations != DefaultPolicy.MaxAttempts || neg.Batch != DefaultRedrive.Batch || neg.Grace != 0 {
		t.Errorf("negative options: %+v", neg)
	}
	// MaxInvocations follows the policy's attempts, and the default when
	// the policy has none.
	own := Policy{MaxAttempts: 3, Lease: time.Minute, Base: time.Second, Max: time.Minute}
	if o := (RedriveOptions{Policy: own}).withDefaults(); o.Policy != own || o.MaxInvocations != 3 {
		t.Errorf("own policy: %+v", o)
	}
	if o := (RedriveOptions{Policy: Policy{Base: time.Second}}).withDefaults(); o.MaxInvocations != DefaultPolicy.MaxAttempts {
		t.Errorf("policy without attempts: MaxInvocations %d", o.MaxInvocations)
	}
	set := RedriveOptions{Policy: own, MaxInvocations: 5, Batch: 10, Grace: 5 * time.Second}
	if o := set.withDefaults(); o != set {
		t.Errorf("set options changed: %+v", o)
	}
}

// Back-off works down to a nanosecond base (the jitter's bound is never
// below one), and stays in its window. The computation is lib/backoff's
// now (its TestDelay kills `int64(d/2)+1` made -1, on which rand.Int64N
// panics); this keeps Policy.Backoff handing it Base and Max.
func TestBackoffTinyBase(t *testing.T) {
	for _, base := range []time.Duration{0, 1, 2, 3} {
		p := Policy{Base: base, Max: base}
		for n := 1; n <= 3; n++ {
			if d := p.Backoff(n); d < base/2 || d > base {
				t.Errorf("Backoff(%d) with base %d ns = %d ns", n, base, d)
			}
		}
	}
}

// A stored error is cut at 2000 bytes on a rune boundary; a message of
// exactly 2000 bytes is kept whole, and bytes that start no rune are
// dropped rather than cut through.
// Kills: truncate's `len(msg) <= 2000` made < (an index out of range at
// exactly 2000 bytes) and `cut > 0` made >= (a negative index on a
// message without a rune start).
func TestTruncateBounds(t *testing.T) {
	exact := strings.Repeat("a", 2000)
	if got := truncate(exact); got != exact {
		t.Errorf("2000 bytes became %d", len(got))
	}
	if got := truncate(exact + "b"); got != exact {
		t.Errorf("2001 bytes became %d", len(got))
	}
	// "é" is two bytes: at 1999 + "é" the cut falls inside the rune.
	if got := truncate(strings.Repeat("a", 1999) + "éé"); got != strings.Repeat("a", 1999) || !utf8.ValidString(got) {
		t.Errorf("cut inside a rune: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := truncate(strings.Repeat("\x80", 2500)); got != "" {
		t.Errorf("continuation bytes only: %q", got)
	}
}
