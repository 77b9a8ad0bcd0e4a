package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestRunKeepsOrderAndRunsConcurrently(t *testing.T) {
	var running, most atomic.Int32
	slow := func(r Result) func(context.Context) Result {
		return func(ctx context.Context) Result {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
			running.Add(-1)
			return r
		}
	}
	checks := []Check{
		{Name: "c", Run: slow(Pass("three"))},
		{Name: "a", Run: slow(Failed("one", "do this"))},
		{Name: "b", Run: slow(Skipped("two"))},
	}
	start := time.Now()
	outs := Run(t.Context(), checks, time.Second)
	if time.Since(start) > 140*time.Millisecond || most.Load() != 3 {
		t.Fatalf("not concurrent: %s, at most %d at once", time.Since(start), most.Load())
	}
	var names []string
	for _, o := range outs {
		names = append(names, o.Name)
	}
	if strings.Join(names, ",") != "c,a,b" || outs[1].State != Fail || Failures(outs) != 1 {
		t.Fatalf("outcomes %+v", outs)
	}
}

func TestRunTimeoutAndPanic(t *testing.T) {
	outs := Run(t.Context(), []Check{
		{Name: "stuck", Setting: "SOME_URL", Run: func(context.Context) Result { time.Sleep(time.Second); return Pass("late") }},
		{Name: "own budget", Timeout: 300 * time.Millisecond, Run: func(ctx context.Context) Result {
			select {
			case <-time.After(150 * time.Millisecond):
				return Pass("in time")
			case <-ctx.Done():
				return Failed("cut", "")
			}
		}},
		{Name: "crash", Run: func(context.Context) Result { panic("boom") }},
	}, 100*time.Millisecond)
	if o := outs[0]; o.State != Fail || !strings.Contains(o.Found, "no answer within 100ms") || !strings.Contains(o.Fix, "SOME_URL") {
		t.Fatalf("stuck: %+v", o)
	}
	if o := outs[1]; o.State != OK {
		t.Fatalf("own budget: %+v", o)
	}
	if o := outs[2]; o.State != Fail || !strings.Contains(o.Found, "boom") {
		t.Fatalf("crash: %+v", o)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	err := WriteText(&b, []Outcome{
		{Name: "postgres", Result: Pass("PostgreSQL 16.4")},
		{Name: "chatwoot api token", Result: Failed("refused\nby the server", "CHATWOOT_API_TOKEN: the bot's")},
		{Name: "guesty api", Result: Skipped("not used")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "✓ postgres            PostgreSQL 16.4\n" +
		"✗ chatwoot api token  refused by the server — fix: CHATWOOT_API_TOKEN: the bot's\n" +
		"– guesty api          not used\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, []Outcome{{Name: "x", Result: Failed("a", "b"), Elapsed: 1500 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK       bool
		Failures int
		Checks   []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Failures != 1 || got.Checks[0]["state"] != "fail" || got.Checks[0]["fix"] != "b" || got.Checks[0]["ms"] != 1500.0 {
		t.Fatalf("got %s", b.String())
	}
}

// report runs every check over env (SECRETS_DIR an empty folder unless
// env names one) and returns the results by name.
func report(t *testing.T, env map[string]string, o Options) map[string]Result {
	t.Helper()
	if _, ok := env["SECRETS_DIR"]; !ok {
		env["SECRETS_DIR"] = t.TempDir()
	}
	o.Lookup = config.FromMap(env)
	if o.StackFile == "" {
		o.StackFile = "testdata/stack.yml"
	}
	d := New(o)
	defer d.Close()
	out := map[string]Result{}
	for _, oc := range Run(t.Context(), d.Checks(), 10*time.Second) {
		out[oc.Name] = oc.Result
	}
	return out
}

// want checks one result: its state, and that found and fix contain the
// given words.
func want(t *testing.T, res map[string]Result, name string, state State, found, fix string) {
	t.Helper()
	r, ok := res[name]
	if !ok {
		t.Fatalf("no check %q", name)
	}
	if r.State != state || !strings.Contains(r.Found, found) || !strings.Contains(r.Fix, fix) {
		t.Errorf("%s: got %s %q (fix %q); want %s with %q (fix %q)", name, r.State, r.Found, r.Fix, state, found, fix)
	}
}

func TestNothingConfigured(t *testing.T) {
	res := report(t, map[string]string{}, Options{})
	for name, r := range res {
		if r.State != Skip {
			t.Errorf("%s: %s %q", name, r.State, r.Found)
		}
	}
	want(t, res, "postgres", Skip, "local default in use: make run's own cluster", "")
	want(t, res, "backup bucket", Skip, "local default in use: folder BACKUP_DIR=.data/backups", "")
	want(t, res, "guesty api", Skip, "local default in use: no Guesty API", "")
	want(t, res, "qdrant payload indexes", Skip, "not checked: QDRANT_URL unset", "")
}

func TestSecretsNeverReported(t *testing.T) {
	dir := t.TempDir()
	const secret = "groq-secret-value-0123456789"
	if err := os.WriteFile(dir+"/groq-api-key", []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := New(Options{Lookup: config.FromMap(map[string]string{"SECRETS_DIR": dir})})
	r := d.check("echo", "", func(context.Context, *config.Config) Result {
		return Failed("the key "+secret+" was refused", "replace "+secret)
	}).Run(t.Context())
	if strings.Contains(r.Found+r.Fix, secret) || !strings.Contains(r.Found, "[redacted]") {
		t.Fatalf("got %+v", r)
	}
}

func containsStr(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }
