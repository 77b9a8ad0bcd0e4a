// Package faastest runs a function's handler behind a real HTTP server on
// loopback, against a real PostgreSQL database, with a recording invoker and
// the captured log fntest.Main checks for secrets and PII.
package faastest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
)

// Harness is a running function.
type Harness struct {
	URL     string
	DB      *dbtest.DB
	Invoked *fntest.Recorder
	Clock   *fntest.Clock
	Env     *faas.Env
	// Name is the function's name, which its job invocations are signed for.
	Name string
}

// Start builds the function with ctor against a fresh database and serves
// it over loopback HTTP. env adds settings; the secrets folder is empty
// unless env sets SECRETS_DIR.
func Start(t testing.TB, name string, ctor faas.Constructor, env map[string]string) *Harness {
	t.Helper()
	d := dbtest.New(t)
	return StartWith(t, d, name, ctor, env)
}

// StartWith is Start on an existing database.
func StartWith(t testing.TB, d *dbtest.DB, name string, ctor faas.Constructor, env map[string]string) *Harness {
	t.Helper()
	vars := map[string]string{"SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "debug", "MAX_BODY_BYTES": "65536", "JOB_SIGNING_KEY": fntest.JobKey}
	for k, v := range env {
		vars[k] = v
	}
	h := &Harness{Name: name, DB: d, Invoked: &fntest.Recorder{}, Clock: &fntest.Clock{}}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	fn, e, err := faas.Build(context.Background(), faas.Options{
		Name: name, Lookup: lookup, LogOutput: fntest.LogOutput(), DB: d.Pool, Invoker: h.Invoked, Now: h.Clock.Now,
	}, ctor)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	h.Env = e
	srv := httptest.NewServer(faas.Handler(fn, e.MaxBody))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// Do sends a request and returns the status and body.
func (h *Harness) Do(t testing.TB, method string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, h.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Post sends body with POST.
func (h *Harness) Post(t testing.TB, body []byte, header http.Header) (int, string) {
	t.Helper()
	return h.Do(t, http.MethodPost, body, header)
}

// PostJob posts body as a job invocation, signed for the function the way
// jobs.Invoke signs: what the queue-worker delivers.
func (h *Harness) PostJob(t testing.TB, body []byte, header http.Header) (int, string) {
	t.Helper()
	hd := header.Clone()
	if hd == nil {
		hd = http.Header{}
	}
	if h.Env.JobKeys == nil {
		t.Fatalf("%s: no job-signing key to sign with", h.Name)
	}
	h.Env.JobKeys.Sign(hd, h.Name, body)
	return h.Post(t, body, hd)
}

// RunJob invokes job j as jobs.Invoke would (message body, X-Job-Id,
// signature) and returns the status and body.
func (h *Harness) RunJob(t testing.TB, j jobs.Job) (int, string) {
	t.Helper()
	body, err := json.Marshal(jobs.Message{JobID: j.ID, Kind: j.Kind, Subject: j.Subject})
	if err != nil {
		t.Fatal(err)
	}
	return h.PostJob(t, body, http.Header{jobs.JobIDHeader: {j.ID}, "Content-Type": {"application/json"}})
}
