package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/localrun"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/payload"
)

// step is a pipeline step for the test, built on the job lifecycle the way
// real steps are: Start claims the job, the effect and Done commit in one
// transaction, Fail records a failed attempt. Its downstream can be down,
// and the first attempt of some subjects "crashes" (the container dies
// after Start, so no outcome is recorded and only the lease expiry tells).
type step struct {
	db       *pgxpool.Pool
	policy   jobs.Policy
	down     atomic.Bool
	crash    map[string]bool
	finished atomic.Int64
	skipped  atomic.Int64
}

func (s *step) handle(req handler.Request) (handler.Response, error) {
	defer s.finished.Add(1)
	ctx := req.Context()
	var msg jobs.Message
	if err := payload.Decode(req.Body, &msg); err != nil {
		return faas.Error(err), nil
	}
	c, err := jobs.Start(ctx, s.db, msg.JobID, s.policy)
	switch {
	case errors.Is(err, jobs.ErrBusy), errors.Is(err, jobs.ErrFinished):
		s.skipped.Add(1)
		return faas.JSON(http.StatusOK, map[string]string{"status": "skipped"}), nil
	case err != nil:
		return faas.Error(err), nil
	}
	if c.Attempt == 1 && s.crash[c.Subject] {
		return handler.Response{StatusCode: http.StatusBadGateway}, nil
	}
	if s.down.Load() {
		cause := fault.New(fault.Unavailable, "index down")
		if _, err := jobs.Fail(ctx, s.db, c, cause, s.policy); err != nil {
			return faas.Error(err), nil
		}
		return faas.Error(cause), nil
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO outage_applied (job_id, subject) VALUES ($1, $2)", c.ID, c.Subject); err != nil {
			return err
		}
		return jobs.DoneTx(ctx, tx, c)
	})
	if err != nil {
		return faas.Error(err), nil
	}
	return faas.JSON(http.StatusOK, map[string]string{"status": "done"}), nil
}

// counting passes invocations to the local gateway and counts those of the
// step, so the test can wait until the queue has run them all.
type counting struct {
	jobs.Invoker
	issued atomic.Int64
}

func (c *counting) Async(ctx context.Context, function string, body []byte, h http.Header) error {
	err := c.Invoker.Async(ctx, function, body, h)
	if err == nil && function == "vectorize" {
		c.issued.Add(1)
	}
	return err
}

// A downstream outage delays work; it never loses it nor applies it twice.
// The step fails for three redrive rounds (a round is five minutes of the
// database clock, past every back-off and lease, and two redrive replicas
// posting at once, as cron-connector would on two schedulers), then
// recovers. Meanwhile queue messages are delivered twice, one producer's
// invocation is lost, and attempts crash. The earliest jobs run out of
// attempts during the outage and are parked as failed; replay re-queues
// them. At the end every job is done and its effect was applied once.
func TestOutage(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, "CREATE TABLE outage_applied (job_id uuid NOT NULL, subject text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logOut := writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	defer func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("redrive logs:\n%s", logs.String())
			logMu.Unlock()
		}
	}()

	gw := localrun.New(localrun.Options{Workers: 4, Log: zerolog.Nop()})
	t.Cleanup(gw.Close)
	st := &step{db: d.Pool, policy: jobs.Policy{MaxAttempts: 4, Lease: time.Minute, Base: time.Minute, Max: 4 * time.Minute},
		crash: map[string]bool{"listing:B0": true, "listing:B1": true}}
	st.down.Store(true)
	gw.Register("vectorize", st.handle)
	inv := &counting{Invoker: gw}
	env := config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "debug", "REDRIVE_GRACE": "2m", "REDRIVE_MAX_INVOCATIONS": "4", "JOB_SIGNING_KEY": jobs.RandomKey()})
	fn, _, err := faas.Build(ctx, faas.Options{Name: Name, Lookup: env, LogOutput: logOut, DB: d.Pool, Invoker: inv}, New)
	if err != nil {
		t.Fatal(err)
	}
	gw.Register(Name, fn)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)

	settle := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for st.finished.Load() < inv.issued.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("step ran %d of %d invocations", st.finished.Load(), inv.issued.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var all []string
	enqueue := func(group string, n int) []jobs.Job {
		t.Helper()
		var js []jobs.Job
		for i := range n {
			err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
				j, err := jobs.Enqueue(ctx, tx, jobs.Vectorize, fmt.Sprintf("listing:%s%d", group, i), "trace-outage")
				js = append(js, j)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, js[len(js)-1].ID)
		}
		return js
	}
	var total jobs.RedriveSummary
	round := func() {
		t.Helper()
		travel(t, d.Pool, 5*time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := http.Post(srv.URL+"/function/redrive", "", nil)
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				var sum jobs.RedriveSummary
				if err := json.NewDecoder(res.Body).Decode(&sum); err != nil || res.StatusCode != http.StatusOK {
					t.Errorf("redrive: %d %v", res.StatusCode, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				total.Invoked += sum.Invoked
				total.Parked += sum.Parked
				total.LeaseExpired += sum.LeaseExpired
				total.InvokeFailed += sum.InvokeFailed
			}()
		}
		wg.Wait()
		settle()
	}

	// The outage. A's messages are delivered twice, as the queue does when
	// a call outlives ack_wait.
	a := enqueue("A", 6)
	jobs.Dispatch(ctx, inv, a)
	jobs.Dispatch(ctx, inv, a)
	settle()
	round()
	b := enqueue("B", 6)
	jobs.Dispatch(ctx, inv, b)
	jobs.Dispatch(ctx, inv, b[:2]) // the crashing ones, twice
	settle()
	round()
	enqueue("C", 4) // committed, but the producer died before its dispatch
	round()

	// A ran out of attempts during the outage: parked with its last error.
	if n := dbtest.Count(t, d.Pool, "jobs", "status = 'failed' AND subject LIKE 'listing:A%' AND last_error LIKE '%index down%'"); n != len(a) {
		t.Fatalf("%d of A parked with the outage's error, want %d", n, len(a))
	}
	if n := dbtest.Count(t, d.Pool, "outage_applied", ""); n != 0 {
		t.Fatalf("%d effects applied during the outage", n)
	}

	// Recovery: redrive brings B and C through; replay re-queues A.
	st.down.Store(false)
	round()
	res, err := jobs.Replay(ctx, d.Pool, jobs.ReplayFilter{Kind: jobs.Vectorize.Name}, false)
	if err != nil || len(res.Requeued) != len(a) {
		t.Fatalf("replay: %+v %v", res, err)
	}
	jobs.Dispatch(ctx, inv, res.Jobs())
	settle()
	for i := 0; i < 5 && dbtest.Count(t, d.Pool, "jobs", "status <> 'done'") > 0; i++ {
		round()
	}

	// Every job done, none lost, none applied twice.
	if n := dbtest.Count(t, d.Pool, "jobs", "status = 'done' AND id = ANY($1::uuid[])", all); n != len(all) {
		var states []string
		rows, _ := d.Pool.Query(ctx, "SELECT subject || ' ' || status || ' ' || attempts || ' ' || COALESCE(last_error, '') FROM jobs ORDER BY subject")
		states, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		t.Fatalf("%d of %d jobs done:\n%s", n, len(all), strings.Join(states, "\n"))
	}
	var applied, distinctJobs, distinctSubjects int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT job_id), count(DISTINCT subject) FROM outage_applied").
		Scan(&applied, &distinctJobs, &distinctSubjects); err != nil {
		t.Fatal(err)
	}
	if applied != len(all) || distinctJobs != len(all) || distinctSubjects != len(all) {
		t.Fatalf("effects applied %d times to %d jobs and %d subjects, want each of %d once", applied, distinctJobs, distinctSubjects, len(all))
	}
	// The failure paths were taken: crashed attempts' leases expired, and
	// repeated messages found the job busy or finished.
	if total.LeaseExpired < 2 || total.Invoked == 0 || total.InvokeFailed != 0 {
		t.Errorf("redrive totals %+v, want the 2 crashed attempts' leases expired", total)
	}
	if st.skipped.Load() == 0 {
		t.Error("no duplicate invocation was skipped")
	}

	// Late redeliveries of old messages change nothing.
	jobs.Dispatch(ctx, inv, a)
	settle()
	round()
	if n := dbtest.Count(t, d.Pool, "outage_applied", ""); n != len(all) {
		t.Errorf("late redeliveries applied work again: %d effects", n)
	}
	mres, err := http.Get(srv.URL + "/function/redrive")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, status := range []string{"pending", "running", "retrying", "failed"} {
		want := fmt.Sprintf("concierge_jobs{status=%q,kind=\"vectorize\"} 0\n", status)
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics after recovery lack %q:\n%s", want, metrics)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// travel moves every job d into the past: redrive, Start and Fail all read
// the database's clock, so this is the fake clock of the test.
func travel(t *testing.T, pool *pgxpool.Pool, d time.Duration) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `UPDATE jobs SET created_at = created_at - make_interval(secs => $1),
		updated_at = updated_at - make_interval(secs => $1), next_attempt_at = next_attempt_at - make_interval(secs => $1),
		started_at = started_at - make_interval(secs => $1), done_at = done_at - make_interval(secs => $1)`, d.Seconds())
	if err != nil {
		t.Fatal(err)
	}
}
