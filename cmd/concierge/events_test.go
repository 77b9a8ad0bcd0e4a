package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/jobs"
)

// `concierge replay-events --source aircall` applies the events stored
// unparsed that the decoder reads now, once, and reports the others.
func TestReplayEventsCommand(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	summary := strings.Replace(string(fixtures.Read("local/aircall.summary.created.json")),
		`"content": "The guest lands around noon`, `"content": {"summary": {"text": "The guest lands around noon`, 1)
	summary = strings.Replace(summary, `WhatsApp."`, `WhatsApp."}}`, 1)
	broken := strings.Replace(string(fixtures.Read("local/aircall.summary.created.json")), `"content": "The guest`, `"contents": "The guest`, 1)
	for key, body := range map[string]string{"legacy-summary": summary, "legacy-broken": broken} {
		if _, err := d.Pool.Exec(ctx, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, parse_error)
			VALUES ('aircall', 'summary.created', $1, $2, false, 'data.content: is required')`, key, body); err != nil {
			t.Fatal(err)
		}
	}
	gw := &gatewayStub{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	// The vectorize job an applied event queues is invoked signed.
	env := config.FromMap(map[string]string{"DATABASE_URL": d.URL, "GATEWAY_URL": srv.URL, "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn",
		"JOB_SIGNING_KEY": jobs.RandomKey()})
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := replayEvents(ctx, args, env, &out); err != nil {
			t.Fatalf("replay-events %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}

	out := run("--source", "aircall", "--dry-run")
	for _, want := range []string{"would apply 1 event(s)", "summary.created", "still unparsed, left as they were: 1", "data.content: is required", "dry run: nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := dbtest.Count(t, d.Pool, "calls", ""); n != 0 {
		t.Fatalf("dry run wrote %d calls", n)
	}

	out = run("--source", "aircall")
	if !strings.Contains(out, "applied 1 event(s)") || !strings.Contains(out, "stored") {
		t.Errorf("output:\n%s", out)
	}
	if n := dbtest.Count(t, d.Pool, "calls", "id = 1843377012 AND summary LIKE 'The guest lands around noon%'"); n != 1 {
		t.Errorf("summary not applied")
	}
	if len(gw.calls) != 1 || !strings.HasPrefix(gw.calls[0], "vectorize ") {
		t.Errorf("gateway got %v, want one vectorize", gw.calls)
	}

	out = run("--source", "aircall")
	if strings.Contains(out, "applied") || !strings.Contains(out, "still unparsed, left as they were: 1") || len(gw.calls) != 1 {
		t.Errorf("second run: %v\n%s", gw.calls, out)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", ""); n != 1 {
		t.Errorf("%d jobs after two runs, want 1", n)
	}
}

func TestReplayEventsUsage(t *testing.T) {
	var out bytes.Buffer
	if err := replayEvents(context.Background(), []string{"-h"}, config.FromMap(nil), &out); err != nil || !strings.Contains(out.String(), "--source SOURCE") {
		t.Errorf("-h: %v %s", err, out.String())
	}
	if err := replayEvents(context.Background(), []string{"--source", "guesty"}, config.FromMap(nil), io.Discard); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "aircall") {
		t.Errorf("unknown source: %v", err)
	}
	if err := replayEvents(context.Background(), nil, config.FromMap(nil), io.Discard); fault.KindOf(err) != fault.Invalid {
		t.Errorf("no source: %v", err)
	}
	if err := replayEvents(context.Background(), []string{"--colour"}, config.FromMap(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("unknown flag: %v", err)
	}
}
