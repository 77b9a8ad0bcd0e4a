package console

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/jobs"
)

// failedShown bounds the failed jobs the Jobs page lists.
const failedShown = 100

// KindLine is one kind's counts.
type KindLine struct {
	Name     string
	Function string
	jobs.KindStats
	Oldest time.Duration
	// Done24h: jobs of the kind that finished in the last 24 hours.
	Done24h int
}

// FailedJob is a job parked as failed: replay puts it back.
type FailedJob struct {
	ID        string
	Kind      string
	Function  string
	Subject   string
	Attempts  int
	Redrives  int
	LastError string
	FailedAt  time.Time
}

// ReplayLine is one past replay (job_replays).
type ReplayLine struct {
	JobID      string
	Kind       string
	Subject    string
	Outcome    string
	ReplayedAt time.Time
	LastError  string
}

// JobsPage is the Jobs page's data.
type JobsPage struct {
	Totals      jobs.KindStats
	Kinds       []KindLine
	Failed      []FailedJob
	FailedTotal int
	Replays     []ReplayLine
}

// ReadJobs reads the outbox: counts by kind and state (every declared
// kind, with zeros), the failed jobs with their last error, and the
// latest replays. grace is redrive's, which decides what is overdue.
func ReadJobs(ctx context.Context, db *pgxpool.Pool, grace time.Duration) (*JobsPage, error) {
	st, err := jobs.ReadStats(ctx, db, grace, jobs.All()...)
	if err != nil {
		return nil, err
	}
	p := &JobsPage{Totals: st.Totals}
	functions := map[string]string{}
	for _, k := range jobs.All() {
		functions[k.Name] = k.Function
	}
	done := map[string]int{}
	rows, err := db.Query(ctx, `SELECT kind, count(*) FROM jobs WHERE status = 'done' AND done_at >= now() - interval '24 hours' GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("count done jobs: %w", err)
	}
	var kind string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&kind, &n}, func() error { done[kind] = n; return nil }); err != nil {
		return nil, fmt.Errorf("count done jobs: %w", err)
	}
	names := map[string]bool{}
	for k := range st.Kinds {
		names[k] = true
	}
	for k := range done {
		names[k] = true
	}
	for name := range names {
		ks := st.Kinds[name]
		p.Kinds = append(p.Kinds, KindLine{Name: name, Function: functions[name], KindStats: ks,
			Oldest: time.Duration(ks.OldestSeconds * float64(time.Second)).Round(time.Second), Done24h: done[name]})
	}
	sort.Slice(p.Kinds, func(i, j int) bool { return p.Kinds[i].Name < p.Kinds[j].Name })
	p.FailedTotal = st.Totals.Failed

	rows, err = db.Query(ctx, `SELECT id::text, kind, function, subject, attempts, redrives, COALESCE(last_error, ''), updated_at
		FROM jobs WHERE status = 'failed' ORDER BY updated_at DESC, id LIMIT $1`, failedShown)
	if err != nil {
		return nil, fmt.Errorf("list failed jobs: %w", err)
	}
	p.Failed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailedJob, error) {
		var j FailedJob
		return j, r.Scan(&j.ID, &j.Kind, &j.Function, &j.Subject, &j.Attempts, &j.Redrives, &j.LastError, &j.FailedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("list failed jobs: %w", err)
	}
	rows, err = db.Query(ctx, `SELECT h.job_id::text, j.kind, j.subject, h.outcome, h.replayed_at, COALESCE(h.last_error, '')
		FROM job_replays h JOIN jobs j ON j.id = h.job_id ORDER BY h.replayed_at DESC, h.id DESC LIMIT 10`)
	if err != nil {
		return nil, fmt.Errorf("list replays: %w", err)
	}
	p.Replays, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReplayLine, error) {
		var l ReplayLine
		return l, r.Scan(&l.JobID, &l.Kind, &l.Subject, &l.Outcome, &l.ReplayedAt, &l.LastError)
	})
	if err != nil {
		return nil, fmt.Errorf("list replays: %w", err)
	}
	return p, nil
}

// ReplayOutcome is what a replay did.
type ReplayOutcome struct {
	Requeued, Absorbed, Dispatched int
	// NotDispatched says why some re-queued jobs were left to redrive.
	NotDispatched string
}

// Replay does what `concierge replay` does: puts the failed jobs f
// selects back to pending (jobs.Replay keeps what they had in
// job_replays), then invokes each through inv, signed like every job
// invocation. A job the gateway refuses stays pending; redrive invokes
// it once its grace period has passed.
func Replay(ctx context.Context, db *pgxpool.Pool, inv jobs.Invoker, f jobs.ReplayFilter) (ReplayOutcome, error) {
	res, err := jobs.Replay(ctx, db, f, false)
	if err != nil {
		return ReplayOutcome{}, err
	}
	out := ReplayOutcome{Requeued: len(res.Requeued), Absorbed: len(res.Absorbed)}
	for _, j := range res.Jobs() {
		if err := jobs.Invoke(ctx, inv, j); err != nil {
			// The rows are committed: redrive invokes the rest.
			out.NotDispatched = "the gateway refused the invocation; redrive invokes the job once REDRIVE_GRACE has passed"
			break
		}
		out.Dispatched++
	}
	return out, nil
}
