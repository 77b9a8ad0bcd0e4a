package faas_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"

	"github.com/harborstays/concierge/lib/jobs"
)

const testKey = "0123456789abcdef0123456789abcdef"

func env(t *testing.T, vars map[string]string) *faas.Env {
	t.Helper()
	m := map[string]string{"SECRETS_DIR": t.TempDir()}
	for k, v := range vars {
		m[k] = v
	}
	cfg := config.New(config.FromMap(m))
	// No database: nothing here may reach one.
	return &faas.Env{Name: "vectorize", Config: cfg, JobKeys: jobs.KeysFrom(cfg)}
}

// A function that runs jobs does not start without the key, and says which.
func TestNewNeedsTheKeyAndItsOwnKinds(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		kinds []jobs.Kind
		want  string
	}{
		{"no key", nil, []jobs.Kind{jobs.Vectorize}, "job-signing-key"},
		{"key too short", map[string]string{"JOB_SIGNING_KEY": "tiny"}, []jobs.Kind{jobs.Vectorize}, "JOB_SIGNING_KEY"},
		{"another function's kind", map[string]string{"JOB_SIGNING_KEY": testKey}, []jobs.Kind{jobs.Vectorize, jobs.Answer}, "answer belongs to llm-query"},
		{"no kinds", map[string]string{"JOB_SIGNING_KEY": testKey}, nil, "runs no job kinds"},
		{"ok", map[string]string{"JOB_SIGNING_KEY": testKey}, []jobs.Kind{jobs.Vectorize}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := faas.NewRunner(env(t, tt.vars), tt.kinds...)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("%v, want an error naming %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "tiny"):
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

// Refusals come before any database access: the runner has no database
// here, so one that looked the job up would panic instead of answering.
func TestRefusesBeforeTheDatabase(t *testing.T) {
	e := env(t, map[string]string{"JOB_SIGNING_KEY": testKey})
	r, err := faas.NewRunner(e, jobs.Vectorize)
	if err != nil {
		t.Fatal(err)
	}
	const id = "3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f"
	body := func(kind string) []byte {
		b, _ := json.Marshal(jobs.Message{JobID: id, Kind: kind, Subject: "listing:1"})
		return b
	}
	signed := func(b []byte, function string, at time.Time) http.Header {
		h := http.Header{jobs.JobIDHeader: {id}}
		e.JobKeys.SignAt(h, function, b, at)
		return h
	}
	now := time.Now()
	tests := []struct {
		name   string
		body   []byte
		header http.Header
	}{
		{"unsigned", body("vectorize"), http.Header{jobs.JobIDHeader: {id}}},
		{"stale", body("vectorize"), signed(body("vectorize"), "vectorize", now.Add(-jobs.SignatureMaxAge-time.Minute))},
		{"future", body("vectorize"), signed(body("vectorize"), "vectorize", now.Add(jobs.SignatureMaxSkew+time.Minute))},
		{"other function", body("vectorize"), signed(body("vectorize"), "stt", now)},
		{"kind of another function", body("answer"), signed(body("answer"), "vectorize", now)},
		{"X-Job-Id of another job", body("vectorize"), func() http.Header {
			h := signed(body("vectorize"), "vectorize", now)
			h.Set(jobs.JobIDHeader, "00000000-0000-0000-0000-000000000001")
			return h
		}()},
		{"unsigned garbage", []byte("not json"), nil},
	}
	want := faas.Refused()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := handler.Request{Body: tt.body, Header: tt.header, Method: http.MethodPost}
			req.WithContext(context.Background())
			ran := false
			res := r.Run(req, func(context.Context, jobs.Claimed) (any, error) { ran = true; return nil, nil })
			if ran || res.StatusCode != http.StatusUnauthorized || string(res.Body) != string(want.Body) {
				t.Fatalf("%d %s (work ran: %v), want %d %s", res.StatusCode, res.Body, ran, want.StatusCode, want.Body)
			}
		})
	}
}
