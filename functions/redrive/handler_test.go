package function

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/jobs"

	"github.com/harborstays/concierge/lib/testenv"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func start(t *testing.T, env map[string]string) *faastest.Harness {
	t.Helper()
	return faastest.Start(t, Name, New, env)
}

// job inserts a job in status, last written ago and due at now()+in.
func job(t *testing.T, h *faastest.Harness, k jobs.Kind, subject, status string, ago, in time.Duration) string {
	t.Helper()
	var id string
	err := h.DB.Pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject, status, trace_id, created_at, updated_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, 'trace-redrive-test', now() - make_interval(secs => $5), now() - make_interval(secs => $5), now() + make_interval(secs => $6))
		RETURNING id::text`, k.Name, k.Function, subject, status, ago.Seconds(), in.Seconds()).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPostRunsOnePass(t *testing.T) {
	h := start(t, nil)
	overdue := job(t, h, jobs.Vectorize, "listing:1", "pending", 10*time.Minute, -10*time.Minute)
	job(t, h, jobs.Vectorize, "listing:2", "pending", 10*time.Second, 0) // its dispatch is under way
	lost := job(t, h, jobs.ContactSync, "guest:1", "running", 10*time.Minute, -time.Second)

	// cron-connector posts an empty body.
	code, body := h.Post(t, nil, nil)
	if code != http.StatusOK {
		t.Fatalf("POST: %d %s", code, body)
	}
	var sum jobs.RedriveSummary
	if err := json.Unmarshal([]byte(body), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Invoked != 2 || sum.LeaseExpired != 1 || len(sum.Jobs) != 2 {
		t.Fatalf("summary %s", body)
	}
	calls := h.Invoked.Calls()
	if len(calls) != 2 {
		t.Fatalf("invocations %+v", calls)
	}
	got := map[string]string{}
	for _, c := range calls {
		got[c.Header.Get("X-Job-Id")] = c.Function
		if c.Header.Get("X-Trace-Id") != "trace-redrive-test" {
			t.Errorf("invocation lost the job's trace id: %v", c.Header)
		}
	}
	if got[overdue] != "vectorize" || got[lost] != "chatwoot-reply" {
		t.Errorf("invoked %v", got)
	}
	// A second pass right away finds nothing due: the pass moved the jobs'
	// next attempt past their back-off.
	if code, body := h.Post(t, nil, nil); code != http.StatusOK || !strings.Contains(body, `"invoked":0`) {
		t.Errorf("second POST: %d %s", code, body)
	}
	if n := len(h.Invoked.Calls()); n != 2 {
		t.Errorf("invocations after the second pass = %d, want 2", n)
	}
}

func TestGetServesMetrics(t *testing.T) {
	h := start(t, nil)
	job(t, h, jobs.Vectorize, "listing:1", "pending", 10*time.Minute, -10*time.Minute)
	job(t, h, jobs.Vectorize, "listing:2", "pending", time.Second, 0)
	job(t, h, jobs.Vectorize, "listing:3", "retrying", time.Minute, time.Minute)
	job(t, h, jobs.ContactSync, "guest:1", "failed", time.Hour, 0)
	ctx := context.Background()
	for range 2 {
		if err := incidents.Record(ctx, h.DB.Pool, incidents.Incident{Provider: "llm", Setting: "LLM_MODEL", Code: "model_decommissioned", Message: "retired"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, parse_error)
		VALUES ('aircall', 'summary.created', 'k1', '{}', false, 'data.call_id: must be a call id'),
		       ('aircall', 'summary.created', 'k2', '{}', false, 'data.content: is required')`); err != nil {
		t.Fatal(err)
	}

	res, err := http.Get(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	text := string(raw)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`concierge_jobs{status="pending",kind="vectorize"} 2`,
		`concierge_jobs{status="retrying",kind="vectorize"} 1`,
		`concierge_jobs{status="failed",kind="contact-sync"} 1`,
		`concierge_jobs{status="failed",kind="vectorize"} 0`,
		`concierge_jobs_overdue{kind="vectorize"} 1`,
		`concierge_provider_config_errors_total{provider="llm",setting="LLM_MODEL",code="model_decommissioned"} 2`,
		`concierge_webhook_parse_failures{source="aircall",event_type="summary.created"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}

	for _, hdr := range []http.Header{nil, {"Accept": {"application/json"}}} {
		url := h.URL
		if hdr == nil {
			url += "?format=json"
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st jobs.Stats
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("JSON summary: %v %s", err, res.Header.Get("Content-Type"))
		}
		if st.Totals.Pending != 2 || st.Totals.Retrying != 1 || st.Totals.Failed != 1 || st.Totals.Overdue != 1 || st.Kinds["vectorize"].Pending != 2 {
			t.Errorf("JSON summary %+v", st)
		}
	}
	// Reading the metrics invokes nothing.
	if n := len(h.Invoked.Calls()); n != 0 {
		t.Errorf("GET invoked %d functions", n)
	}
}

func TestMethods(t *testing.T) {
	h := start(t, nil)
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if code, body := h.Do(t, m, nil, nil); code != http.StatusMethodNotAllowed || !strings.Contains(body, "GET, POST") {
			t.Errorf("%s: %d %s", m, code, body)
		}
	}
}

func TestSettings(t *testing.T) {
	d := dbtest.New(t)
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REDRIVE_GRACE": "soon"}, "REDRIVE_GRACE"},
		{map[string]string{"REDRIVE_GRACE": "-1m"}, "REDRIVE_GRACE"},
		{map[string]string{"REDRIVE_MAX_INVOCATIONS": "0"}, "REDRIVE_MAX_INVOCATIONS"},
		{map[string]string{"REDRIVE_BATCH": "many"}, "REDRIVE_BATCH"},
		{map[string]string{"REDRIVE_GRACE": "90s", "REDRIVE_MAX_INVOCATIONS": "5", "REDRIVE_BATCH": "10"}, ""},
		// Redrive signs every re-invocation: no key, no start.
		{map[string]string{"JOB_SIGNING_KEY": ""}, "job-signing-key"},
		{map[string]string{"JOB_SIGNING_KEY": "short"}, "JOB_SIGNING_KEY"},
	}
	for _, tt := range tests {
		env := map[string]string{"SECRETS_DIR": t.TempDir(), "JOB_SIGNING_KEY": fntest.JobKey}
		for k, v := range tt.env {
			env[k] = v
		}
		_, _, err := faas.Build(context.Background(), faas.Options{Name: Name, Lookup: config.FromMap(env), LogOutput: io.Discard, DB: d.Pool, Invoker: &fntest.Recorder{}}, New)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

// With PostgreSQL down a pass answers 503 and changes nothing; the next
// minute's pass does the work.
func TestDatabaseDown(t *testing.T) {
	cluster := dbtest.Cluster()
	if cluster == nil {
		testenv.Skip(t, "tests run against CONCIERGE_TEST_DATABASE_URL; cannot stop that server")
	}
	h := start(t, nil)
	id := job(t, h, jobs.Vectorize, "listing:1", "pending", 10*time.Minute, -10*time.Minute)
	ctx := context.Background()
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = cluster.Start(ctx)
		}
	})
	for _, m := range []string{http.MethodPost, http.MethodGet} {
		if code, body := h.Do(t, m, nil, nil); code != http.StatusServiceUnavailable || strings.Contains(body, "postgres://") {
			t.Errorf("%s with the database down: %d %s", m, code, body)
		}
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if code, body := h.Post(t, nil, nil); code != http.StatusOK || !strings.Contains(body, id) {
		t.Errorf("after restart: %d %s", code, body)
	}
}
