package jobs

// Tests of unexported helpers, written for `make mutate`: each names the
// gremlins mutants it kills.

import (
	"encoding/hex"
	"fmt"
	"net/http"
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

// Verify's bounds let in what they are sized for: a signature header of
// four v1 entries each followed by a space (272 bytes), and a timestamp of
// 12 characters (zero-padded: the signature covers the digits as sent).
// Its refusals name their reason for the log: a header missing either half
// is unsigned, and a signature from the future says by how much.
// Kills: `len(sig) > maxSignatureHeader` and `len(ts) > 12` made >= (the
// bound's own size refused); `ts == "" || sig == ""` made && (a half-signed
// invocation logged as malformed or mismatched); `(-age).Round` made
// `(+age)` (a negative duration in the future's message).
func TestVerifyBounds(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	k, err := NewKeys(strings.Repeat("k", MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	k.Now = func() time.Time { return now }
	body := []byte(`{"job_id":"j"}`)
	sign := func(ts string) string {
		return "v1=" + hex.EncodeToString(mac(k.keys[0], payload(ts, "vectorize", body)))
	}
	ts := fmt.Sprint(now.Unix())

	const bound = 4 * (len("v1=") + 64 + 1) // four entries of 32 hex-encoded bytes, each with a space
	good := sign(ts)
	full := "v9=" + strings.Repeat("0", bound-len(good)-len("v9=")-1) + " " + good
	if len(full) != bound {
		t.Fatalf("test header is %d bytes, want %d", len(full), bound)
	}
	h := http.Header{}
	h.Set(TimestampHeader, ts)
	h.Set(SignatureHeader, full)
	if err := k.Verify(h, "vectorize", body); err != nil {
		t.Errorf("a signature header of %d bytes: %v", bound, err)
	}
	h.Set(SignatureHeader, "v9=0"+full)
	if err := k.Verify(h, "vectorize", body); err == nil || !strings.Contains(err.Error(), "malformed signature") {
		t.Errorf("a signature header over the bound: %v", err)
	}

	padded := fmt.Sprintf("%012d", now.Unix())
	h = http.Header{}
	h.Set(TimestampHeader, padded)
	h.Set(SignatureHeader, sign(padded))
	if err := k.Verify(h, "vectorize", body); err != nil {
		t.Errorf("a 12-character timestamp: %v", err)
	}
	h.Set(TimestampHeader, "0"+padded)
	h.Set(SignatureHeader, sign("0"+padded))
	if err := k.Verify(h, "vectorize", body); err == nil || !strings.Contains(err.Error(), "malformed timestamp") {
		t.Errorf("a 13-character timestamp: %v", err)
	}

	for name, h := range map[string]http.Header{
		"timestamp only": {TimestampHeader: {ts}},
		"signature only": {SignatureHeader: {good}},
	} {
		if err := k.Verify(h, "vectorize", body); err == nil || err.Error() != "unsigned" {
			t.Errorf("%s: %v, want unsigned", name, err)
		}
	}

	future := fmt.Sprint(now.Add(10 * time.Minute).Unix())
	h = http.Header{}
	h.Set(TimestampHeader, future)
	h.Set(SignatureHeader, sign(future))
	if err := k.Verify(h, "vectorize", body); err == nil || err.Error() != "signed 10m0s in the future" {
		t.Errorf("signed 10 minutes ahead: %v", err)
	}
}
