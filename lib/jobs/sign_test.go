package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
)

const (
	keyA = "0123456789abcdef0123456789abcdef-a"
	keyB = "0123456789abcdef0123456789abcdef-b"
)

func keys(t *testing.T, now time.Time, vals ...string) *jobs.Keys {
	t.Helper()
	k, err := jobs.NewKeys(vals...)
	if err != nil {
		t.Fatal(err)
	}
	k.Now = func() time.Time { return now }
	return k
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"job_id":"3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f","kind":"vectorize","subject":"listing:1"}`)
	signed := func(k *jobs.Keys, function string, b []byte, at time.Time) http.Header {
		h := http.Header{}
		k.SignAt(h, function, b, at)
		return h
	}
	a, b := keys(t, now, keyA), keys(t, now, keyB)
	tests := []struct {
		name     string
		verifier *jobs.Keys
		header   http.Header
		body     []byte
		function string
		ok       bool
		reason   string
	}{
		{"signed now", a, signed(a, "vectorize", body, now), body, "vectorize", true, ""},
		{"just inside the age", a, signed(a, "vectorize", body, now.Add(-jobs.SignatureMaxAge)), body, "vectorize", true, ""},
		{"clock skew inside the bound", a, signed(a, "vectorize", body, now.Add(jobs.SignatureMaxSkew)), body, "vectorize", true, ""},
		{"old key during rotation", keys(t, now, keyB, keyA), signed(a, "vectorize", body, now), body, "vectorize", true, ""},
		{"new key during rotation", keys(t, now, keyB, keyA), signed(b, "vectorize", body, now), body, "vectorize", true, ""},
		{"unsigned", a, http.Header{}, body, "vectorize", false, "unsigned"},
		{"wrong key", a, signed(b, "vectorize", body, now), body, "vectorize", false, "does not match"},
		{"stale", a, signed(a, "vectorize", body, now.Add(-jobs.SignatureMaxAge-time.Second)), body, "vectorize", false, "stale"},
		{"future", a, signed(a, "vectorize", body, now.Add(jobs.SignatureMaxSkew+time.Second)), body, "vectorize", false, "future"},
		{"body changed", a, signed(a, "vectorize", body, now), []byte(strings.Replace(string(body), "listing:1", "listing:2", 1)), "vectorize", false, "does not match"},
		{"another function", a, signed(a, "vectorize", body, now), body, "stt", false, "does not match"},
		{"timestamp changed", a, func() http.Header {
			h := signed(a, "vectorize", body, now)
			h.Set(jobs.TimestampHeader, "1800000001")
			return h
		}(), body, "vectorize", false, "does not match"},
		{"malformed timestamp", a, func() http.Header {
			h := signed(a, "vectorize", body, now)
			h.Set(jobs.TimestampHeader, "-1800000000")
			return h
		}(), body, "vectorize", false, "malformed"},
		{"unknown version only", a, func() http.Header {
			h := signed(a, "vectorize", body, now)
			h.Set(jobs.SignatureHeader, strings.Replace(h.Get(jobs.SignatureHeader), "v1=", "v2=", 1))
			return h
		}(), body, "vectorize", false, "does not match"},
		{"a valid entry among others", a, func() http.Header {
			h := signed(a, "vectorize", body, now)
			h.Set(jobs.SignatureHeader, "v2=00 v1=zz "+h.Get(jobs.SignatureHeader))
			return h
		}(), body, "vectorize", true, ""},
		{"oversized header", a, func() http.Header {
			h := signed(a, "vectorize", body, now)
			h.Set(jobs.SignatureHeader, strings.Repeat("v1=00 ", 100)+h.Get(jobs.SignatureHeader))
			return h
		}(), body, "vectorize", false, "malformed"},
		{"no keys", nil, signed(a, "vectorize", body, now), body, "vectorize", false, "no job-signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.verifier.Verify(tt.header, tt.function, tt.body)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("reason %q, want it to say %q", err, tt.reason)
			}
			if err != nil && (strings.Contains(err.Error(), keyA) || strings.Contains(err.Error(), strings.TrimPrefix(tt.header.Get(jobs.SignatureHeader), "v1="))) && tt.header.Get(jobs.SignatureHeader) != "" {
				t.Errorf("reason %q holds a key or the signature", err)
			}
		})
	}
}

func TestKeysFromConfig(t *testing.T) {
	for _, tt := range []struct {
		value string
		keys  bool
		err   string
	}{
		{"", false, ""},
		{keyA, true, ""},
		{keyB + "," + keyA, true, ""},
		{"tiny-key", false, "JOB_SIGNING_KEY"},
		{keyA + ",tiny-key", false, "key 2 of 2"},
	} {
		cfg := config.New(config.FromMap(map[string]string{"JOB_SIGNING_KEY": tt.value, "SECRETS_DIR": t.TempDir()}))
		k := jobs.KeysFrom(cfg)
		if (k != nil) != tt.keys {
			t.Errorf("%q: keys %v", tt.value, k)
		}
		err := cfg.Err()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.value, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: %v, want an error naming %s", tt.value, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "tiny-key"):
			t.Errorf("%q: the error shows the key: %v", tt.value, err)
		}
	}
}

type recording struct {
	header http.Header
	body   []byte
	calls  int
}

func (r *recording) Async(_ context.Context, _ string, body []byte, h http.Header) error {
	r.calls++
	r.header, r.body = h, body
	return nil
}

// Invoke signs through a keyed invoker, anew each time; a keyed invoker
// without keys sends nothing.
func TestInvokeSigns(t *testing.T) {
	j := jobs.Job{ID: "3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f", Kind: "vectorize", Function: "vectorize", Subject: "listing:1"}
	now := time.Now()
	k := keys(t, now, keyA)
	rec := &recording{}
	if err := jobs.Invoke(context.Background(), jobs.WithKeys(rec, k), j); err != nil {
		t.Fatal(err)
	}
	if err := k.Verify(rec.header, "vectorize", rec.body); err != nil {
		t.Fatalf("invocation does not verify: %v", err)
	}
	var m jobs.Message
	if err := json.Unmarshal(rec.body, &m); err != nil || m.JobID != j.ID || rec.header.Get(jobs.JobIDHeader) != j.ID {
		t.Fatalf("message %s %v", rec.body, rec.header)
	}
	// Redrive invokes the same job later: a fresh timestamp.
	k.Now = func() time.Time { return now.Add(time.Hour) }
	if err := jobs.Invoke(context.Background(), jobs.WithKeys(rec, k), j); err != nil {
		t.Fatal(err)
	}
	if err := k.Verify(rec.header, "vectorize", rec.body); err != nil {
		t.Fatalf("re-invocation not signed anew: %v", err)
	}

	none := &recording{}
	if err := jobs.Invoke(context.Background(), jobs.WithKeys(none, nil), j); !errors.Is(err, jobs.ErrNoKeys) || none.calls != 0 {
		t.Fatalf("keyless invoker: %v, %d calls", err, none.calls)
	}
}

// A row is claimed only by an invocation of its own kind, and a refusal
// leaves it as it was.
func TestStartKind(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	p := jobs.Policy{MaxAttempts: 2, Lease: time.Minute, Base: time.Millisecond, Max: time.Millisecond}
	var contact jobs.Job
	if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) (err error) {
		contact, err = jobs.Enqueue(ctx, tx, jobs.ContactSync, "guest:1", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{jobs.Vectorize.Name, ""} {
		if _, err := jobs.StartKind(ctx, d.Pool, contact.ID, kind, p); !errors.Is(err, jobs.ErrWrongKind) {
			t.Errorf("kind %q: %v, want ErrWrongKind", kind, err)
		}
	}
	if s, n := status(t, d, contact.ID); s != jobs.StatusPending || n != 0 {
		t.Fatalf("refused start changed the row: %s, %d attempts", s, n)
	}
	if c, err := jobs.StartKind(ctx, d.Pool, contact.ID, jobs.ContactSync.Name, p); err != nil || c.Attempt != 1 {
		t.Fatalf("own kind: %+v %v", c, err)
	}
}
