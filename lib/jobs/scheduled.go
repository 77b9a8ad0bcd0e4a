package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnqueueOnce writes a pending job of kind k for subject unless a job of
// that kind and subject exists in any state: a slot runs once, however
// many calls name it and whether or not its run already ended. created
// says whether this call wrote it; the job returned is the slot's either
// way. Concurrent calls meet on the one-pending index: the second waits
// for the first to commit and then finds its row.
func EnqueueOnce(ctx context.Context, tx pgx.Tx, k Kind, subject, traceID string) (job Job, created bool, err error) {
	job = Job{Kind: k.Name, Function: k.Function, Subject: subject, TraceID: traceID}
	err = tx.QueryRow(ctx, `
		INSERT INTO jobs (kind, function, subject, trace_id)
		SELECT $1, $2, $3, $4
		WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND subject = $3)
		ON CONFLICT (kind, subject) WHERE status = 'pending' DO NOTHING
		RETURNING id::text`, k.Name, k.Function, subject, traceID).Scan(&job.ID)
	if err == nil {
		return job, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Job{}, false, fmt.Errorf("enqueue %s %s: %w", k.Name, subject, err)
	}
	err = tx.QueryRow(ctx, `
		SELECT id::text, COALESCE(trace_id, '') FROM jobs WHERE kind = $1 AND subject = $2
		ORDER BY created_at DESC LIMIT 1`, k.Name, subject).Scan(&job.ID, &job.TraceID)
	if err != nil {
		return Job{}, false, fmt.Errorf("find %s %s: %w", k.Name, subject, err)
	}
	return job, false, nil
}
