// Package fntest runs a function's handler behind a real HTTP server on
// loopback, against a real PostgreSQL database, with a recording invoker and
// a captured log that is checked for secrets and PII when the test binary
// ends.
package fntest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/jobs"
)

// JobKey is the job-signing key of every harness in the test binary (unless
// its env sets JOB_SIGNING_KEY): random, so no test passes by a key known
// in advance, and checked for in the logs like the fixture secrets.
var JobKey = jobs.RandomKey()

// logSink collects every function log line of the test binary.
var logSink = &syncBuffer{}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Main runs the tests with a database (see dbtest.Main), then fails the
// binary if any log line held a fixture secret or personal value.
func Main(m interface{ Run() int }) int {
	code := dbtest.Main(m)
	if leaks := Leaks(logSink.String()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: function logs hold secrets or PII in clear: %s\n", strings.Join(leaks, "; "))
		return 1
	}
	if code == 0 && logSink.String() == "" && os.Getenv("CONCIERGE_TEST_EXPECT_LOGS") != "" {
		fmt.Fprintln(os.Stderr, "FAIL: no function logs captured")
		return 1
	}
	return code
}

// Leaks lists the fixture secrets and PII values that occur in logs.
func Leaks(logs string) []string {
	var out []string
	for _, s := range append(append([]string{JobKey}, fixtures.Secrets...), fixtures.PII...) {
		if strings.Contains(logs, s) {
			out = append(out, fmt.Sprintf("%q", s[:min(4, len(s))]+"…"))
		}
	}
	return out
}

// Logs returns everything logged so far by functions in this test binary.
func Logs() string { return logSink.String() }

// Invocation is one async call a function made.
type Invocation struct {
	Function string
	Body     []byte
	Header   http.Header
}

// Recorder is a jobs.Invoker that records calls; Fail makes it fail them.
type Recorder struct {
	mu    sync.Mutex
	calls []Invocation
	Fail  error
}

// Async records the call.
func (r *Recorder) Async(_ context.Context, function string, body []byte, header http.Header) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return r.Fail
	}
	r.calls = append(r.calls, Invocation{Function: function, Body: append([]byte(nil), body...), Header: header.Clone()})
	return nil
}

// Calls returns the recorded invocations.
func (r *Recorder) Calls() []Invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Invocation(nil), r.calls...)
}

// Clock is a settable time source.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

// Set fixes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Harness is a running function.
type Harness struct {
	URL     string
	DB      *dbtest.DB
	Invoked *Recorder
	Clock   *Clock
	Env     *fnenv.Env
	// Name is the function's name, which its job invocations are signed for.
	Name string
}

// Start builds the function with ctor against a fresh database and serves
// it over loopback HTTP. env adds settings; the secrets folder is empty
// unless env sets SECRETS_DIR.
func Start(t testing.TB, name string, ctor fnenv.Constructor, env map[string]string) *Harness {
	t.Helper()
	d := dbtest.New(t)
	return StartWith(t, d, name, ctor, env)
}

// StartWith is Start on an existing database.
func StartWith(t testing.TB, d *dbtest.DB, name string, ctor fnenv.Constructor, env map[string]string) *Harness {
	t.Helper()
	vars := map[string]string{"SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "debug", "MAX_BODY_BYTES": "65536", "JOB_SIGNING_KEY": JobKey}
	for k, v := range env {
		vars[k] = v
	}
	h := &Harness{Name: name, DB: d, Invoked: &Recorder{}, Clock: &Clock{}}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	fn, e, err := fnenv.Build(context.Background(), fnenv.Options{
		Name: name, Lookup: lookup, LogOutput: logSink, DB: d.Pool, Invoker: h.Invoked, Now: h.Clock.Now,
	}, ctor)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	h.Env = e
	srv := httptest.NewServer(fnserver.Handler(fn, e.MaxBody))
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

// Knowledge writes a small shared-knowledge folder (house policies and an
// FAQ, in the shape of the repository's knowledge/) for tests, which must
// not depend on files outside their function and lib/ (the template builds
// and tests a function from those alone).
func Knowledge(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"policies.md": "# House policies\n\n## Early check-in and late checkout\nStandard check-in is from 3:00 PM and checkout is by 11:00 AM. Early check-in or late checkout depends on the cleaning schedule; a team member confirms it.\n\n" +
			"## Pets\nPets, dogs and cats included, are not allowed unless the listing says otherwise.\n\n" +
			"## Parties and noise\nParties and events are not allowed. Please respect the quiet hours of each home.\n",
		"faq.md": "# Frequently asked questions\n\n## Towels and linen\nFresh towels and bed linen are provided for every stay.\n",
	}
	for name, body := range files {
		if err := os.WriteFile(dir+"/"+name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
