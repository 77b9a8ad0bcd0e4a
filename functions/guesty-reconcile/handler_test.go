package function

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/jobs"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func startWith(t *testing.T, d *dbtest.DB, fake *guestytest.Server) *faastest.Harness {
	t.Helper()
	return faastest.StartWith(t, d, Name, New, map[string]string{
		"GUESTY_API_URL": fake.URL, "GUESTY_CLIENT_ID": fake.ClientID, "GUESTY_CLIENT_SECRET": fake.ClientSecret,
	})
}

type answer struct {
	Status     string `json:"status"`
	RetryAfter int    `json:"retry_after_seconds"`
	JobID      string `json:"job_id"`
	Repaired   int    `json:"repaired"`
	Report     struct {
		Repaired int `json:"repaired"`
	} `json:"report"`
	Result struct {
		Status   string `json:"status"`
		Repaired int    `json:"repaired"`
		Resumed  bool   `json:"resumed"`
	} `json:"result"`
}

func decode(t *testing.T, body string) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return a
}

// The nightly run, throttled by Guesty, answers 503 with Guesty's delay at
// once and leaves a job due after it; that job, throttled again, ends
// retrying no sooner than Guesty asked; in a later process it finishes the
// run from the cursor and answers the repaired rows, which the metrics
// show; the next night repairs nothing.
// Mutation tried: enqueueing the job with no delay (jobs.Enqueue) lets it
// start at once: the not_before check fails.
func TestNightlyRunRateLimitedThenFinished(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t, guestytest.WithLimits(guestytest.Limits{PerMinute: 2}))
	fake.Generate(1, 250, time.Now().UTC())
	h := startWith(t, d, fake)

	start := time.Now()
	code, body := h.Post(t, nil, nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("throttled night: %d %s", code, body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run waited %s for Guesty; it must stop and leave a job", took)
	}
	a := decode(t, body)
	if a.Status != "retrying" || a.RetryAfter < 30 || a.JobID == "" || a.Report.Repaired != 200 {
		t.Fatalf("throttled night answered %+v", a)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND kind = 'guesty-reconcile' AND status = 'pending' AND not_before >= now() + interval '25 seconds'", a.JobID); n != 1 {
		t.Fatal("no job due after Guesty's delay")
	}
	job := jobs.Job{ID: a.JobID, Kind: jobs.GuestyReconcile.Name, Function: Name, Subject: jobs.ReconcileSubject}
	due := func() {
		t.Helper()
		if _, err := d.Pool.Exec(context.Background(), "UPDATE jobs SET not_before = now(), next_attempt_at = now() WHERE id = $1", a.JobID); err != nil {
			t.Fatal(err)
		}
	}

	// Redrive starts it while Guesty still throttles: it ends retrying,
	// after at least Guesty's delay.
	due()
	if code, body := h.RunJob(t, job); code != http.StatusServiceUnavailable {
		t.Fatalf("throttled job: %d %s", code, body)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'retrying' AND next_attempt_at >= now() + interval '25 seconds'", a.JobID); n != 1 {
		t.Fatal("the throttled job is not retrying after Guesty's delay")
	}

	// Later, in a fresh process, Guesty has room again.
	fake.SetLimits(guestytest.GuestyLimits)
	later := startWith(t, d, fake)
	due()
	code, body = later.RunJob(t, job)
	if code != http.StatusOK {
		t.Fatalf("job: %d %s", code, body)
	}
	if r := decode(t, body).Result; r.Status != guesty.ReconcileDone || !r.Resumed || r.Repaired != 251 {
		t.Errorf("job result %+v; want the run finished from the cursor, 251 rows repaired", r)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", ""); n != 250 {
		t.Errorf("reservations = %d, want 250", n)
	}
	code, body = later.Do(t, http.MethodGet, nil, nil)
	if code != http.StatusOK || !strings.Contains(body, guesty.MetricReconcileRepaired+" 251\n") || !strings.Contains(body, guesty.MetricReconcileUnfinished+" 0\n") {
		t.Errorf("metrics: %d\n%s", code, body)
	}

	code, body = later.Post(t, nil, nil)
	if a := decode(t, body); code != http.StatusOK || a.Status != guesty.ReconcileDone || a.Repaired != 0 || !strings.Contains(body, `"repaired":0`) {
		t.Errorf("next night: %d %s; want nothing repaired", code, body)
	}
}

// Without credentials (make run) the nightly run skips, saying why, and
// touches nothing.
func TestWithoutCredentialsSkips(t *testing.T) {
	h := faastest.Start(t, Name, New, nil)
	code, body := h.Post(t, nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `"skipped"`) {
		t.Errorf("%d %s", code, body)
	}
	if n := dbtest.Count(t, h.DB.Pool, "guesty_sync", ""); n != 0 {
		t.Errorf("a skipped run wrote %d cursor rows", n)
	}
}

// Issue 13 (5): only a signed, fresh invocation of its own kind runs a job.
func TestForgedJobInvocationsAreRefused(t *testing.T) {
	fake := guestytest.New(t)
	faastest.RefusesForgedJobs(t, startWith(t, dbtest.New(t), fake), jobs.GuestyReconcile)
}
