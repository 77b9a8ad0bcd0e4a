package jobs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
)

// ReplayFilter selects the failed jobs to replay: one of Kind, IDs or All.
type ReplayFilter struct {
	Kind string
	IDs  []string
	All  bool
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate checks that f selects one way and names well-formed ids.
func (f ReplayFilter) Validate() error {
	n := 0
	if f.Kind != "" {
		n++
	}
	if len(f.IDs) > 0 {
		n++
	}
	if f.All {
		n++
	}
	if n != 1 {
		return fault.New(fault.Invalid, "choose one of a kind, job ids, or all failed jobs")
	}
	for _, id := range f.IDs {
		if !uuidRe.MatchString(id) {
			return fault.New(fault.Invalid, "job id %q is not a UUID", id)
		}
	}
	return nil
}

// Replayed is a failed job that Replay re-queued or absorbed.
type Replayed struct {
	Job
	// Attempts, Redrives and LastError are what the job had when it failed;
	// job_replays keeps them.
	Attempts  int
	Redrives  int
	LastError string
	FailedAt  time.Time
	// AbsorbedInto is the pending job of the same kind and subject that
	// does this job's work; empty when the job itself was re-queued.
	AbsorbedInto string
}

// Untouched is a job named by id that Replay left alone.
type Untouched struct {
	ID string
	// Status is the job's status, not failed; empty when no such job.
	Status string
}

// ReplayResult says what Replay did.
type ReplayResult struct {
	Requeued  []Replayed
	Absorbed  []Replayed
	Untouched []Untouched
}

// Jobs returns the re-queued jobs, to dispatch.
func (r ReplayResult) Jobs() []Job {
	out := make([]Job, len(r.Requeued))
	for i, j := range r.Requeued {
		out[i] = j.Job
	}
	return out
}

var errDryRun = errors.New("dry run")

// Replay moves the failed jobs f selects back to pending, in one
// transaction: attempts and redrives start again from zero, last_error is
// cleared, and what the job had is kept in job_replays. It invokes nothing:
// the caller dispatches Jobs() like any producer after commit, and redrive
// invokes whatever that misses once the grace period has passed.
//
// The outbox holds one pending job per kind and subject, and a job reads
// its subject's newest rows when it runs. So the newest failed job of a
// subject is re-queued and older ones are absorbed into it (marked done);
// when a pending job for the subject exists already, every failed one is
// absorbed into that. With dryRun the same work is rolled back.
func Replay(ctx context.Context, db *pgxpool.Pool, f ReplayFilter, dryRun bool) (ReplayResult, error) {
	if err := f.Validate(); err != nil {
		return ReplayResult{}, err
	}
	ids := make([]string, len(f.IDs)) // in the form PostgreSQL prints
	for i, id := range f.IDs {
		ids[i] = strings.ToLower(id)
	}
	f.IDs = ids
	var res ReplayResult
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		res = ReplayResult{}
		where, args := "status = 'failed'", []any{}
		switch {
		case f.Kind != "":
			where, args = where+" AND kind = $1", append(args, f.Kind)
		case len(f.IDs) > 0:
			where, args = where+" AND id = ANY($1::uuid[])", append(args, f.IDs)
		}
		rows, err := tx.Query(ctx, `SELECT id::text, kind, function, subject, COALESCE(trace_id, ''),
				attempts, redrives, COALESCE(last_error, ''), updated_at
			FROM jobs WHERE `+where+`
			ORDER BY created_at DESC, id
			FOR UPDATE`, args...)
		if err != nil {
			return err
		}
		failed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Replayed, error) {
			var j Replayed
			err := r.Scan(&j.ID, &j.Kind, &j.Function, &j.Subject, &j.TraceID, &j.Attempts, &j.Redrives, &j.LastError, &j.FailedAt)
			return j, err
		})
		if err != nil {
			return err
		}
		owner := map[[2]string]string{} // kind, subject -> pending job
		for _, j := range failed {
			key := [2]string{j.Kind, j.Subject}
			into, ok := owner[key]
			if !ok {
				err := tx.QueryRow(ctx, `SELECT id::text FROM jobs WHERE kind = $1 AND subject = $2 AND status = 'pending'`, j.Kind, j.Subject).Scan(&into)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
			if into == "" {
				err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return requeue(ctx, sp, j.ID) })
				var pe *pgconn.PgError
				switch {
				case err == nil:
					owner[key] = j.ID
					res.Requeued = append(res.Requeued, j)
					continue
				case errors.As(err, &pe) && pe.Code == "23505":
					// A producer queued the subject meanwhile: absorb into that.
					if err := tx.QueryRow(ctx, `SELECT id::text FROM jobs WHERE kind = $1 AND subject = $2 AND status = 'pending'`, j.Kind, j.Subject).Scan(&into); err != nil {
						return err
					}
				default:
					return err
				}
			}
			if err := absorb(ctx, tx, j.ID, into); err != nil {
				return err
			}
			owner[key] = into
			j.AbsorbedInto = into
			res.Absorbed = append(res.Absorbed, j)
		}
		if len(f.IDs) > 0 {
			found := map[string]string{}
			var id, status string
			rows, err := tx.Query(ctx, `SELECT id::text, status FROM jobs WHERE id = ANY($1::uuid[]) AND status <> 'failed'`, f.IDs)
			if err != nil {
				return err
			}
			if _, err := pgx.ForEachRow(rows, []any{&id, &status}, func() error { found[id] = status; return nil }); err != nil {
				return err
			}
			done := map[string]bool{}
			for _, j := range failed {
				done[j.ID] = true
			}
			for _, id := range f.IDs {
				if !done[id] {
					res.Untouched = append(res.Untouched, Untouched{ID: id, Status: found[id]})
				}
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return ReplayResult{}, fault.Wrap(fault.Unavailable, fmt.Errorf("replay failed jobs: %w", err), "database unavailable")
	}
	return res, nil
}

func requeue(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `WITH history AS (
			INSERT INTO job_replays (job_id, outcome, attempts, redrives, last_error, failed_at)
			SELECT id, 'requeued', attempts, redrives, last_error, updated_at FROM jobs WHERE id = $1)
		UPDATE jobs SET status = 'pending', attempts = 0, redrives = 0, last_error = NULL,
			next_attempt_at = now(), started_at = NULL, done_at = NULL, updated_at = now()
		WHERE id = $1`, id)
	return err
}

func absorb(ctx context.Context, tx pgx.Tx, id, into string) error {
	_, err := tx.Exec(ctx, `WITH history AS (
			INSERT INTO job_replays (job_id, outcome, absorbed_into, attempts, redrives, last_error, failed_at)
			SELECT id, 'absorbed', $2, attempts, redrives, last_error, updated_at FROM jobs WHERE id = $1)
		UPDATE jobs SET status = 'done', last_error = NULL, done_at = now(), updated_at = now()
		WHERE id = $1`, id, into)
	return err
}
