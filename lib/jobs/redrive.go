package jobs

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

// Redrive re-invokes overdue jobs. The outbox row, not the queue, is the
// durable record of work: CE's queue-worker has no retries and no
// dead-letter, so a lost message, a crashed attempt and a failed attempt
// waiting for its back-off all end up here.
//
// A job is overdue when it is
//   - pending and untouched for the grace period: its producer's direct
//     invocation should have started it by then (once redrive invoked it,
//     its back-off ended);
//   - running and its lease (next_attempt_at) expired: the attempt died
//     without recording an outcome, so the job becomes retrying;
//   - retrying and its back-off (next_attempt_at) ended.
//
// A pass claims overdue jobs with FOR UPDATE SKIP LOCKED and moves their
// next_attempt_at past a back-off (Policy.Backoff of the redrive count) in
// the same transaction, so concurrent passes never pick the same job and a
// job waiting to run is not invoked again every minute. It then invokes them
// through the Invoker outside the transaction, and counts each successful
// invocation in the job's redrives column. A job whose invocations reach
// MaxInvocations is parked as failed with "gave up after N invocations:
// <last error>" instead; `concierge replay` re-queues it.
//
// The database is the clock: every comparison uses the server's now(), as
// Start and Fail do, so replicas with skewed clocks agree.

// RedriveOptions bound a redrive pass.
type RedriveOptions struct {
	// Policy gives the back-off between redrives (Backoff of the redrive
	// count); its MaxAttempts is the default of MaxInvocations.
	Policy Policy
	// MaxInvocations parks a job once it has been invoked this often
	// (its producer's dispatch, plus each redrive) or started this often.
	MaxInvocations int
	// Grace leaves a pending job to its producer's own invocation for this
	// long after the job was last written.
	Grace time.Duration
	// Batch bounds the jobs claimed by one pass.
	Batch int
}

// DefaultRedrive suits a pass every minute in front of steps that use
// DefaultPolicy.
var DefaultRedrive = RedriveOptions{Policy: DefaultPolicy, MaxInvocations: DefaultPolicy.MaxAttempts, Grace: 2 * time.Minute, Batch: 200}

// Settings of redrive's pass.
var (
	redriveGrace = config.Register(config.Setting{Name: "REDRIVE_GRACE", Default: "2m", Used: "redrive",
		Help: "how long a pending job is left to its producer's own invocation before redrive invokes it"})
	redriveMax = config.Register(config.Setting{Name: "REDRIVE_MAX_INVOCATIONS", Default: fmt.Sprint(DefaultPolicy.MaxAttempts), Used: "redrive",
		Help: "invocations (or started attempts) after which redrive parks a job as failed; keep it equal to the steps' attempts"})
	redriveBatch = config.Register(config.Setting{Name: "REDRIVE_BATCH", Default: "200", Used: "redrive",
		Help: "overdue jobs one redrive pass claims at most"})
)

// RedriveFrom reads a pass's options from the REDRIVE_ settings; check
// cfg.Err, then Validate.
func RedriveFrom(cfg *config.Config) RedriveOptions {
	o := DefaultRedrive
	o.Grace = cfg.Duration(redriveGrace)
	o.MaxInvocations = cfg.Int(redriveMax)
	o.Batch = cfg.Int(redriveBatch)
	return o
}

// Validate refuses options a configuration should not give.
func (o RedriveOptions) Validate() error {
	switch {
	case o.Grace < 0:
		return fmt.Errorf("configuration: REDRIVE_GRACE: must not be negative")
	case o.MaxInvocations < 1:
		return fmt.Errorf("configuration: REDRIVE_MAX_INVOCATIONS: must be at least 1")
	case o.Batch < 1:
		return fmt.Errorf("configuration: REDRIVE_BATCH: must be at least 1")
	}
	return nil
}

func (o RedriveOptions) withDefaults() RedriveOptions {
	if o.Policy.Base <= 0 {
		o.Policy = DefaultPolicy
	}
	if o.MaxInvocations <= 0 {
		o.MaxInvocations = o.Policy.MaxAttempts
	}
	if o.MaxInvocations <= 0 {
		o.MaxInvocations = DefaultPolicy.MaxAttempts
	}
	if o.Batch <= 0 {
		o.Batch = DefaultRedrive.Batch
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	return o
}

// overdueSQL selects the jobs a pass acts on; $1 is the grace in seconds.
// The first two conditions use the jobs_due partial index. The grace counts
// from the last write of a pending job (its insert, or the event it
// absorbed, each followed by a dispatch) until redrive has invoked it once;
// after that the redrive back-off alone decides.
// A delayed job (not_before, EnqueueAfter) has no producer invocation to
// wait for: it is overdue as soon as it is due.
const overdueSQL = `next_attempt_at <= now() AND status IN ` + ActiveStatuses + `
	AND (status <> 'pending' OR redrives > 0 OR not_before IS NOT NULL OR updated_at <= now() - make_interval(secs => $1))`

// Actions a pass takes on a job.
const (
	// ActionInvoked: the job's function was invoked again.
	ActionInvoked = "invoked"
	// ActionParked: the job reached MaxInvocations and is failed now.
	ActionParked = "parked"
	// ActionInvokeFailed: the invocation was refused; the job waits for
	// its next turn without the attempt being counted.
	ActionInvokeFailed = "invoke_failed"
	// ActionSkipped: not invoked in this pass (an earlier invocation of
	// the same function failed, or the pass ran out of time); it waits for
	// its next turn without the attempt being counted.
	ActionSkipped = "skipped"
)

// Redriven is what a pass did with one job.
type Redriven struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Function string `json:"function"`
	// Was is the status the pass found.
	Was    string `json:"was"`
	Action string `json:"action"`
	// Invocations counts the job's invocations so far, this pass's
	// included when it invoked.
	Invocations int `json:"invocations"`
	// Next is when the job is overdue again if this pass's invocation is
	// lost (not set for a parked job).
	Next *time.Time `json:"next_attempt_at,omitempty"`
}

// RedriveSummary reports one pass.
type RedriveSummary struct {
	Invoked      int        `json:"invoked"`
	InvokeFailed int        `json:"invoke_failed"`
	Skipped      int        `json:"skipped"`
	Parked       int        `json:"parked"`
	LeaseExpired int        `json:"lease_expired"`
	Jobs         []Redriven `json:"jobs"`
}

type overdue struct {
	Job
	status    string
	attempts  int
	redrives  int
	lastError string
}

// invocations is how often the job has been invoked or started: each start
// needs an invocation, and the queue may redeliver one without redrive.
func (o overdue) invocations() int { return max(o.attempts, o.redrives+1) }

// Redrive runs one pass. It is safe to run concurrently: every job is
// claimed by one pass at most.
func Redrive(ctx context.Context, db *pgxpool.Pool, inv Invoker, o RedriveOptions) (RedriveSummary, error) {
	o = o.withDefaults()
	log := logging.From(ctx)
	claimed, sum, err := claim(ctx, db, o)
	if err != nil {
		return RedriveSummary{}, fault.Wrap(fault.Unavailable, fmt.Errorf("redrive: claim overdue jobs: %w", err), "database unavailable")
	}

	// Invoke outside the transaction: the claim is committed, so a step
	// that starts at once finds the row unlocked.
	failed := map[string]bool{} // functions whose invocation failed in this pass
	var invoked []string
	for i, j := range claimed {
		r := &sum.Jobs[i]
		if j.status == StatusRunning {
			sum.LeaseExpired++
		}
		if r.Action == ActionParked {
			sum.Parked++
			log.Warn().Str("job_id", r.ID).Str("kind", r.Kind).Int("invocations", r.Invocations).Msg("job parked as failed")
			continue
		}
		if failed[j.Function] || ctx.Err() != nil {
			r.Action = ActionSkipped
			sum.Skipped++
			continue
		}
		if err := Invoke(ctx, inv, j.Job); err != nil {
			// The gateway is shared: one refusal likely means the rest of
			// this function's jobs would wait out the same timeout.
			failed[j.Function] = true
			r.Action = ActionInvokeFailed
			sum.InvokeFailed++
			log.Warn().Err(err).Str("job_id", j.ID).Str("function", j.Function).Msg("redrive could not invoke; this function's jobs wait for the next pass")
			continue
		}
		r.Action = ActionInvoked
		r.Invocations++
		sum.Invoked++
		invoked = append(invoked, j.ID)
	}
	if len(invoked) > 0 {
		// Count on a context of its own: the invocations happened even if
		// the caller's deadline passed meanwhile.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := db.Exec(cctx, `UPDATE jobs SET redrives = redrives + 1 WHERE id = ANY($1::uuid[])`, invoked); err != nil {
			// Undercounting only delays parking by one redrive.
			log.Warn().Err(err).Int("jobs", len(invoked)).Msg("could not count redrives")
		}
	}
	if len(sum.Jobs) > 0 {
		log.Info().Int("invoked", sum.Invoked).Int("invoke_failed", sum.InvokeFailed).Int("skipped", sum.Skipped).
			Int("parked", sum.Parked).Int("lease_expired", sum.LeaseExpired).Msg("redrive pass")
	}
	return sum, nil
}

// claim locks the overdue jobs no other pass holds and, in one statement,
// parks those out of invocations and moves the others' next_attempt_at
// past their back-off (a running job whose lease expired becomes
// retrying). sum.Jobs[i] describes claimed[i].
func claim(ctx context.Context, db *pgxpool.Pool, o RedriveOptions) ([]overdue, RedriveSummary, error) {
	sum := RedriveSummary{Jobs: []Redriven{}}
	var claimed []overdue
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, kind, function, subject, COALESCE(trace_id, ''),
				status, attempts, redrives, COALESCE(last_error, '')
			FROM jobs WHERE `+overdueSQL+`
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED`, o.Grace.Seconds(), o.Batch)
		if err != nil {
			return err
		}
		claimed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (overdue, error) {
			var j overdue
			err := r.Scan(&j.ID, &j.Kind, &j.Function, &j.Subject, &j.TraceID, &j.status, &j.attempts, &j.redrives, &j.lastError)
			return j, err
		})
		if err != nil || len(claimed) == 0 {
			return err
		}
		ids := make([]string, len(claimed))
		park := make([]bool, len(claimed))
		secs := make([]float64, len(claimed))
		msgs := make([]*string, len(claimed))
		sum.Jobs = make([]Redriven, len(claimed))
		for i, j := range claimed {
			ids[i] = j.ID
			sum.Jobs[i] = Redriven{ID: j.ID, Kind: j.Kind, Function: j.Function, Was: j.status, Invocations: j.invocations()}
			last := j.lastError
			if j.status == StatusRunning {
				last = fmt.Sprintf("attempt %d did not finish within its lease", j.attempts)
				msgs[i] = &last
			}
			if j.invocations() >= o.MaxInvocations {
				if last == "" {
					last = "the function never started the job"
				}
				msg := truncate(fmt.Sprintf("gave up after %d invocations: %s", j.invocations(), last))
				park[i], msgs[i] = true, &msg
				sum.Jobs[i].Action = ActionParked
				continue
			}
			secs[i] = o.Policy.Backoff(j.redrives + 1).Seconds()
		}
		rows, err = tx.Query(ctx, `UPDATE jobs j SET
				status = CASE WHEN u.park THEN 'failed' WHEN j.status = 'running' THEN 'retrying' ELSE j.status END,
				last_error = COALESCE(u.msg, j.last_error),
				next_attempt_at = CASE WHEN u.park THEN j.next_attempt_at ELSE now() + make_interval(secs => u.secs) END,
				updated_at = now()
			FROM unnest($1::uuid[], $2::bool[], $3::float8[], $4::text[]) AS u(id, park, secs, msg)
			WHERE j.id = u.id
			RETURNING j.id::text, j.next_attempt_at`, ids, park, secs, msgs)
		if err != nil {
			return err
		}
		next := map[string]time.Time{}
		var id string
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { next[id] = at; return nil }); err != nil {
			return err
		}
		for i := range sum.Jobs {
			if !park[i] {
				at := next[sum.Jobs[i].ID]
				sum.Jobs[i].Next = &at
			}
		}
		return nil
	})
	return claimed, sum, err
}

// truncate bounds a stored error message at 2000 bytes on a rune boundary.
func truncate(msg string) string {
	if len(msg) <= 2000 {
		return msg
	}
	cut := 2000
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}
