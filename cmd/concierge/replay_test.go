package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"

	"github.com/harborstays/concierge/lib/testenv"
)

// gatewayStub stands in for the OpenFaaS gateway's async route.
type gatewayStub struct {
	mu    sync.Mutex
	calls []string // "function job-id"
}

func (g *gatewayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fn, ok := strings.CutPrefix(r.URL.Path, "/async-function/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	g.mu.Lock()
	g.calls = append(g.calls, fn+" "+r.Header.Get("X-Job-Id"))
	g.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func failedJob(t *testing.T, pool *pgxpool.Pool, kind, function, subject string) string {
	t.Helper()
	var id string
	err := pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject, status, attempts, redrives, last_error)
		VALUES ($1, $2, $3, 'failed', 8, 7, 'gave up after 8 invocations: index down') RETURNING id::text`, kind, function, subject).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func statusOf(t *testing.T, pool *pgxpool.Pool, id string) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), "SELECT status FROM jobs WHERE id = $1", id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplayCommand(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	tests := []struct {
		name    string
		args    func(vec, other string) []string
		gateway string // "down" for an unreachable one
		noKey   bool   // no JOB_SIGNING_KEY: nothing can be signed
		out     []string
		// statuses after the command, and the invocations the gateway got
		vec, other string
		invoked    int
		err        fault.Kind
	}{
		{name: "by kind", args: func(_, _ string) []string { return []string{"--kind", "vectorize"} },
			out: []string{"re-queued 1 failed job(s)", "listing:1", "8 attempts, 7 redrives", "index down", "dispatched 1"},
			vec: "pending", other: "failed", invoked: 1},
		{name: "by ids", args: func(v, o string) []string {
			return []string{"--id", v + "," + o, "--id", "00000000-0000-0000-0000-000000000009"}
		},
			out: []string{"re-queued 2 failed job(s)", "00000000-0000-0000-0000-000000000009  no such job", "dispatched 2"},
			vec: "pending", other: "pending", invoked: 2},
		{name: "all, dry run", args: func(_, _ string) []string { return []string{"--all-failed", "--dry-run"} },
			out: []string{"re-queued 2 failed job(s)", "dry run: nothing changed"},
			vec: "failed", other: "failed"},
		{name: "re-queue only", args: func(_, _ string) []string { return []string{"--all-failed", "--no-dispatch"} },
			out: []string{"re-queued 2", "not dispatched: redrive invokes them"},
			vec: "pending", other: "pending"},
		{name: "gateway unreachable", gateway: "down", args: func(_, _ string) []string { return []string{"--all-failed"} },
			out: []string{"re-queued 2", "dispatched 0 of 2", "redrive invokes them"},
			vec: "pending", other: "pending"},
		{name: "no signing key", noKey: true, args: func(_, _ string) []string { return []string{"--all-failed"} },
			out: []string{"re-queued 2", "not dispatched: no JOB_SIGNING_KEY", "redrive invokes them"},
			vec: "pending", other: "pending"},
		{name: "nothing matches", args: func(_, _ string) []string { return []string{"--kind", "transcribe"} },
			out: []string{"no failed jobs match"}, vec: "failed", other: "failed"},
		{name: "two selectors", args: func(_, _ string) []string { return []string{"--kind", "vectorize", "--all-failed"} },
			vec: "failed", other: "failed", err: fault.Invalid},
		{name: "not a uuid", args: func(_, _ string) []string { return []string{"--id", "42"} },
			vec: "failed", other: "failed", err: fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dbtest.New(t)
			vec := failedJob(t, d.Pool, "vectorize", "vectorize", "listing:1")
			other := failedJob(t, d.Pool, "contact-sync", "chatwoot-reply", "guest:1")
			gw := &gatewayStub{}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			url := srv.URL
			if tt.gateway == "down" {
				url = down.URL
			}
			vars := map[string]string{"DATABASE_URL": d.URL, "GATEWAY_URL": url, "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn",
				"JOB_SIGNING_KEY": jobs.RandomKey()}
			if tt.noKey {
				delete(vars, "JOB_SIGNING_KEY")
			}
			env := config.FromMap(vars)
			var out bytes.Buffer
			err := replay(context.Background(), tt.args(vec, other), env, &out)
			switch {
			case tt.err != 0 && fault.KindOf(err) != tt.err:
				t.Fatalf("error %v, want kind %s", err, tt.err)
			case tt.err == 0 && err != nil:
				t.Fatalf("replay: %v\n%s", err, out.String())
			}
			for _, want := range tt.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if s := statusOf(t, d.Pool, vec); s != tt.vec {
				t.Errorf("vectorize job %s, want %s", s, tt.vec)
			}
			if s := statusOf(t, d.Pool, other); s != tt.other {
				t.Errorf("contact-sync job %s, want %s", s, tt.other)
			}
			if len(gw.calls) != tt.invoked {
				t.Errorf("gateway got %v, want %d invocations", gw.calls, tt.invoked)
			}
			if tt.invoked > 0 && gw.calls[0] != "vectorize "+vec && gw.calls[0] != "chatwoot-reply "+other {
				t.Errorf("invocation %q", gw.calls[0])
			}
		})
	}
}

func TestReplayUsage(t *testing.T) {
	var out bytes.Buffer
	if err := replay(context.Background(), []string{"-h"}, config.FromMap(nil), &out); err != nil || !strings.Contains(out.String(), "--kind KIND") {
		t.Errorf("-h: %v %s", err, out.String())
	}
	if err := replay(context.Background(), []string{"--colour"}, config.FromMap(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("unknown flag: %v", err)
	}
}

// Without DATABASE_URL, replay joins the cluster of a running `make run`
// rather than starting (and so stopping) it.
func TestReplayJoinsTheRunnersDatabase(t *testing.T) {
	if dbtest.Cluster() == nil {
		testenv.Skip(t, "no local PostgreSQL binaries in use")
	}
	dataDir, err := os.MkdirTemp("", "concierge-replay-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	_ = os.Chmod(dataDir, 0o755)
	sys := startSystem(t, map[string]string{"DATA_DIR": dataDir})
	id := failedJob(t, sys.Pool, "vectorize", "vectorize", "listing:1")

	var out bytes.Buffer
	env := config.FromMap(map[string]string{"DATA_DIR": dataDir, "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn"})
	if err := replay(context.Background(), []string{"--id", id, "--no-dispatch"}, env, &out); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	if s := statusOf(t, sys.Pool, id); s != "pending" {
		t.Errorf("job %s after replay, want pending:\n%s", s, out.String())
	}
	// The runner's database still answers: replay did not take it over.
	if res, body := call(t, "GET", sys.URL+"/healthz", nil, nil); res.StatusCode != http.StatusOK {
		t.Errorf("runner after replay: %d %s", res.StatusCode, body)
	}
}

// The runner serves redrive and schedules the stack's cron functions.
func TestRunnerServesRedriveOnSchedule(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL})
	got := map[string]string{}
	for _, s := range sys.Cron.Schedules() {
		got[s.Function] = s.Schedule
	}
	if got["redrive"] != "* * * * *" || got["backup"] == "" || got["purge"] == "" {
		t.Errorf("runner schedules %v", got)
	}
	if res, body := call(t, "POST", sys.URL+"/function/redrive", nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(body, `"invoked":0`) {
		t.Errorf("redrive pass: %d %s", res.StatusCode, body)
	}
	if res, body := call(t, "GET", sys.URL+"/function/redrive", nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(body, `concierge_jobs{status="failed",kind="vectorize"} 0`) {
		t.Errorf("redrive metrics: %d %s", res.StatusCode, body)
	}
}
