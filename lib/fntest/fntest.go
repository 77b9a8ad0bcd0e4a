// Package fntest holds what tests of functions and of the packages behind
// them share: a recording invoker, a settable clock, a small knowledge
// folder, and the captured log that is checked for secrets and PII when the
// test binary ends (Main). The function harness itself is faastest.
package fntest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
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

// LogOutput is where functions under test log: Main checks it for leaks
// when the test binary ends.
func LogOutput() io.Writer { return logSink }

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
