// Package jobs is the outbox: a step writes the next step's job in the same
// transaction as its own result, then invokes the next function. The job row,
// not the invocation, is what makes work durable: redrive re-invokes jobs
// that are overdue.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

// JobIDHeader carries the job id on an async invocation.
const JobIDHeader = "X-Job-Id"

// Job is a row of the outbox as far as the invoker needs it.
type Job struct {
	ID       string
	Kind     string
	Function string
	Subject  string
	TraceID  string
}

// Message is the body of an async invocation: ids only; the step reads the
// rest from PostgreSQL.
type Message struct {
	JobID   string `json:"job_id"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
}

// Check names the first missing or malformed field of a message, as a
// 400 names it. Written out rather than validated by tags: the job runner
// is in every function, and validator's traversal costs a binary 1–7 MB
// (lib/payload).
func (m Message) Check() error {
	switch {
	case m.JobID == "":
		return fault.Field("job_id", "is required")
	case !uuidPattern.MatchString(m.JobID):
		return fault.Field("job_id", "must be a UUID")
	case m.Kind == "":
		return fault.Field("kind", "is required")
	case m.Subject == "":
		return fault.Field("subject", "is required")
	}
	return nil
}

// uuidPattern is validator's "uuid": any version, canonical form.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Enqueue writes a pending job in tx. A pending job for the same kind and
// subject absorbs the new one: ten updates of a listing in a burst need one
// re-index, and it reads the newest row anyway. The absorbed event brings a
// fresh redrive budget: new work is not parked for invocations spent on
// the old.
func Enqueue(ctx context.Context, tx pgx.Tx, k Kind, subject, traceID string) (Job, error) {
	return enqueue(ctx, tx, k, subject, traceID, nil)
}

// EnqueueSQL is the one statement that writes jobs: rows yields (kind,
// function, subject, trace_id, not_before, next_attempt_at), as VALUES or
// a SELECT, and a pending job of the same kind and subject absorbs each
// (see Enqueue). The webhook's single-statement delivery embeds it as a
// CTE; append the RETURNING the caller reads.
func EnqueueSQL(rows string) string {
	return `INSERT INTO jobs (kind, function, subject, trace_id, not_before, next_attempt_at)
		` + rows + `
		ON CONFLICT (kind, subject) WHERE status = 'pending' DO UPDATE SET updated_at = now(), redrives = 0`
}

// enqueueSQL writes one job; $5, the delay in seconds, is NULL for a job
// due now (no not_before).
var enqueueSQL = EnqueueSQL(`VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8),
			COALESCE(now() + make_interval(secs => $5::float8), now()))`) + `
		RETURNING id::text`

// enqueue writes a pending job in tx, due after delay seconds (by the
// database clock), or now when delay is nil.
func enqueue(ctx context.Context, tx pgx.Tx, k Kind, subject, traceID string, delay *float64) (Job, error) {
	var id string
	if err := tx.QueryRow(ctx, enqueueSQL, k.Name, k.Function, subject, traceID, delay).Scan(&id); err != nil {
		return Job{}, fmt.Errorf("enqueue %s %s: %w", k.Name, subject, err)
	}
	return Job{ID: id, Kind: k.Name, Function: k.Function, Subject: subject, TraceID: traceID}, nil
}

// WakeOrEnqueue makes a job of kind k for subject due now: a job of it
// waiting out a snooze or a back-off ('retrying') is woken, so one job
// carries the work (a reply waiting for its clip); otherwise a pending
// job is enqueued as with Enqueue. Invoke the returned job after commit.
func WakeOrEnqueue(ctx context.Context, tx pgx.Tx, k Kind, subject, traceID string) (Job, error) {
	j := Job{Kind: k.Name, Function: k.Function, Subject: subject}
	err := tx.QueryRow(ctx, `
		UPDATE jobs SET next_attempt_at = now(), updated_at = now()
		WHERE id = (SELECT id FROM jobs WHERE kind = $1 AND subject = $2 AND status = 'retrying'
			ORDER BY created_at DESC LIMIT 1 FOR UPDATE)
		RETURNING id::text, COALESCE(trace_id, '')`, k.Name, subject).Scan(&j.ID, &j.TraceID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Enqueue(ctx, tx, k, subject, traceID)
	}
	if err != nil {
		return Job{}, fmt.Errorf("wake %s %s: %w", k.Name, subject, err)
	}
	return j, nil
}

// EnqueueAfter writes a pending job in tx that must not start before delay
// has passed (by the database clock). Nobody invokes it early: redrive
// picks it up once due. A pending job for the same kind and subject keeps
// its own time.
func EnqueueAfter(ctx context.Context, tx pgx.Tx, k Kind, subject, traceID string, delay time.Duration) (Job, error) {
	secs := delay.Seconds()
	return enqueue(ctx, tx, k, subject, traceID, &secs)
}

// Invoker starts a function asynchronously: the OpenFaaS gateway in
// production, the local runner's queue in `make run`.
type Invoker interface {
	Async(ctx context.Context, function string, body []byte, header http.Header) error
}

// Invoke starts job j's function asynchronously with the message and the
// X-Job-Id and X-Trace-Id headers every step expects. Dispatch, redrive and
// replay all invoke through it. A KeyedInvoker's invocation is signed here,
// anew each time, so a redriven job carries a fresh timestamp; an Invoker
// without keys (a test double that reaches no step) sends it unsigned,
// which every step refuses.
func Invoke(ctx context.Context, inv Invoker, j Job) error {
	body, _ := json.Marshal(Message{JobID: j.ID, Kind: j.Kind, Subject: j.Subject})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(JobIDHeader, j.ID)
	if j.TraceID != "" {
		h.Set(logging.TraceHeader, j.TraceID)
	}
	if ki, ok := inv.(KeyedInvoker); ok {
		keys := ki.JobKeys()
		if keys == nil {
			return fmt.Errorf("invoke %s: %w", j.Function, ErrNoKeys)
		}
		keys.Sign(h, j.Function, body)
	}
	return inv.Async(ctx, j.Function, body, h)
}

// DispatchBudget bounds Dispatch: the jobs are durable before it starts,
// so a stalled queue costs a redrive after REDRIVE_GRACE, never the
// caller's answer. The rehearsal saw hooks hold every delivery for the
// gateway's exec_timeout (10 s) while /async-function stalled; a healthy
// hand-off takes milliseconds.
const DispatchBudget = 2 * time.Second

// Dispatch invokes each job after its transaction committed, within
// DispatchBudget in all. A failed invocation is logged and left to
// redrive: the job row is already durable, so the caller's acknowledgement
// stays correct.
func Dispatch(ctx context.Context, inv Invoker, js []Job) {
	log := logging.From(ctx)
	ctx, cancel := context.WithTimeout(ctx, DispatchBudget)
	defer cancel()
	for _, j := range js {
		if err := Invoke(ctx, inv, j); err != nil {
			log.Warn().Err(err).Str("job_id", j.ID).Str("function", j.Function).Msg("async invocation failed; redrive will retry")
			continue
		}
		log.Debug().Str("job_id", j.ID).Str("function", j.Function).Msg("job dispatched")
	}
}
