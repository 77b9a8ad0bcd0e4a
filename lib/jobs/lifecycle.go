package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/fault"
)

// Statuses of a job row.
const (
	StatusPending  = "pending"
	StatusRunning  = "running"
	StatusRetrying = "retrying"
	StatusDone     = "done"
	StatusFailed   = "failed"
)

// ActiveStatuses is the SQL list of the statuses of a job that may still
// run — not done, not failed: `status IN ` + ActiveStatuses.
const ActiveStatuses = "('" + StatusPending + "', '" + StatusRunning + "', '" + StatusRetrying + "')"

var (
	// ErrFinished: the job is done or failed already; a repeated invocation
	// is acknowledged without work.
	ErrFinished = errors.New("job already finished")
	// ErrBusy: another invocation holds the job's lease.
	ErrBusy = errors.New("job is running elsewhere")
	// ErrNotDue: the job must not start yet (EnqueueAfter); redrive
	// invokes it once due.
	ErrNotDue = errors.New("job is not due yet")
	// ErrWrongKind: the job row is of another kind than the invocation
	// names; it is not claimed, whoever signed the invocation.
	ErrWrongKind = errors.New("job row is of another kind")
)

// Policy bounds retries.
type Policy struct {
	// MaxAttempts executions before a job is parked as failed.
	MaxAttempts int
	// Lease is how long a running attempt owns the job; after it, redrive
	// treats the attempt as lost. Set it above the function's timeout.
	Lease time.Duration
	// Base and Max bound the exponential back-off between attempts.
	Base, Max time.Duration
}

// DefaultPolicy suits steps whose timeout is at most a few minutes.
var DefaultPolicy = Policy{MaxAttempts: 8, Lease: 5 * time.Minute, Base: 30 * time.Second, Max: time.Hour}

// Backoff is the wait after the n-th failed attempt (n >= 1): exponential
// with full jitter over the upper half, so retries of one outage spread out.
func (p Policy) Backoff(n int) time.Duration {
	return backoff.Backoff{Base: p.Base, Max: p.Max, Jitter: backoff.UpperHalf}.Delay(n)
}

// Claimed is a job an invocation now owns.
type Claimed struct {
	Job
	Attempt int
}

// Start claims job id for one attempt: a pending or retrying job, or a
// running one whose lease expired. It returns ErrFinished or ErrBusy when
// the invocation must do nothing.
func Start(ctx context.Context, db *pgxpool.Pool, id string, p Policy) (Claimed, error) {
	return start(ctx, db, id, "", p)
}

// StartKind is Start for an invocation that names the job's kind: a row of
// another kind is left alone (ErrWrongKind). A step runs the row it claims,
// so the kind its invocation was checked against must be the row's.
func StartKind(ctx context.Context, db *pgxpool.Pool, id, kind string, p Policy) (Claimed, error) {
	if kind == "" {
		return Claimed{}, ErrWrongKind
	}
	return start(ctx, db, id, kind, p)
}

// start claims job id; kind, when not empty, must be the row's.
func start(ctx context.Context, db *pgxpool.Pool, id, kind string, p Policy) (Claimed, error) {
	var c Claimed
	err := db.QueryRow(ctx, `
		UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = now(),
			next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
		WHERE id = $1 AND ($3 = '' OR kind = $3) AND (not_before IS NULL OR not_before <= now())
			AND (status IN ('pending', 'retrying') OR (status = 'running' AND next_attempt_at <= now()))
		RETURNING id::text, kind, function, subject, COALESCE(trace_id, ''), attempts`,
		id, p.Lease.Seconds(), kind).Scan(&c.ID, &c.Kind, &c.Function, &c.Subject, &c.TraceID, &c.Attempt)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return c, fault.Wrap(fault.Unavailable, fmt.Errorf("start job %s: %w", id, err), "database unavailable")
	}
	var status, rowKind string
	var due bool
	switch err := db.QueryRow(ctx, "SELECT status, kind, not_before IS NULL OR not_before <= now() FROM jobs WHERE id = $1", id).Scan(&status, &rowKind, &due); {
	case errors.Is(err, pgx.ErrNoRows):
		return c, fault.New(fault.NotFound, "no job %s", id)
	case err != nil:
		return c, fault.Wrap(fault.Unavailable, err, "database unavailable")
	case kind != "" && rowKind != kind:
		return c, ErrWrongKind
	case status == StatusDone || status == StatusFailed:
		return c, ErrFinished
	case !due:
		return c, ErrNotDue
	default:
		return c, ErrBusy
	}
}

// Done finishes a claimed job. Use DoneTx to finish it in the same
// transaction as the step's result.
func Done(ctx context.Context, db *pgxpool.Pool, c Claimed) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return DoneTx(ctx, tx, c) })
}

// DoneTx marks claimed job c done inside tx. Only c's own attempt can: one
// whose lease expired while a later attempt runs changes nothing (the
// work is idempotent; the later attempt records the outcome).
func DoneTx(ctx context.Context, tx pgx.Tx, c Claimed) error {
	if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'done', done_at = now(), last_error = NULL, updated_at = now()
		WHERE id = $1 AND status = 'running' AND attempts = $2`, c.ID, c.Attempt); err != nil {
		return fmt.Errorf("finish job %s: %w", c.ID, err)
	}
	return nil
}

// maxRetryAfter bounds a provider's Retry-After: a broken header must not
// park a job for days.
const maxRetryAfter = 6 * time.Hour

// Fail records a failed attempt: the job waits for its back-off in
// 'retrying', or is parked as 'failed' when the error is permanent or the
// attempts are spent. The back-off is at least the provider's Retry-After
// (fault.RetryAfter). It returns the status set.
func Fail(ctx context.Context, db *pgxpool.Pool, c Claimed, cause error, p Policy) (string, error) {
	status := StatusRetrying
	if !fault.Retryable(cause) || c.Attempt >= p.MaxAttempts {
		status = StatusFailed
	}
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	wait := p.Backoff(c.Attempt)
	if ra := fault.RetryAfter(cause); ra > wait {
		wait = min(ra, maxRetryAfter)
	}
	_, err := db.Exec(ctx, `UPDATE jobs SET status = $2, last_error = $3,
			next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
		WHERE id = $1 AND status = 'running' AND attempts = $5`, c.ID, status, msg, wait.Seconds(), c.Attempt)
	if err != nil {
		return "", fmt.Errorf("record failure of job %s: %w", c.ID, err)
	}
	return status, nil
}

// NotReady is returned by a job's work whose input is not ready yet (a
// transcript being made, a clip being synthesised): the step runner puts the
// job back to wait Wait without counting the attempt (Snooze), and redrive
// runs it again. Domain packages return it; they never see the runner.
type NotReady struct {
	Wait   time.Duration
	Reason string
}

func (n *NotReady) Error() string { return "waiting: " + n.Reason }

// Snooze puts a claimed job back to wait without counting the attempt: the
// step found its input not ready (an answer waiting for a voice message's
// transcript). Redrive invokes it after wait. A snoozing step must bound
// its own wait: snoozes count against neither the attempts nor redrive's
// MaxInvocations.
func Snooze(ctx context.Context, db *pgxpool.Pool, c Claimed, wait time.Duration, reason string) error {
	// Neither the attempt nor the redrive that started it counts: the
	// step bounds its own wait (a voice message's transcription, a clip).
	_, err := db.Exec(ctx, `UPDATE jobs SET status = 'retrying', attempts = greatest(attempts - 1, 0),
			redrives = greatest(redrives - 1, 0), last_error = $2,
			next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
		WHERE id = $1 AND status = 'running' AND attempts = $4`, c.ID, truncateMsg("waiting: "+reason), wait.Seconds(), c.Attempt)
	if err != nil {
		return fmt.Errorf("snooze job %s: %w", c.ID, err)
	}
	return nil
}

func truncateMsg(msg string) string {
	if len(msg) > 2000 {
		return msg[:2000]
	}
	return msg
}
