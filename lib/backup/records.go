package backup

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execer is a pool, a connection or a transaction.
type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func insertRun(ctx context.Context, db execer, rep *Report, serverVersion string) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `
		INSERT INTO backups (database_name, store, object_key, status, server_version, started_at)
		VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id`,
		rep.Database, rep.Store, rep.Key, serverVersion, rep.StartedAt).Scan(&id)
	return id, err
}

// insertFailed records a run of one database that failed before its row
// was written (the database could not be reached), so its failure counts
// like any other: in the metrics, the listing and the last-run status.
func insertFailed(ctx context.Context, db execer, rep *Report, serverVersion string, now time.Time, cause error) error {
	_, err := db.Exec(ctx, `
		INSERT INTO backups (database_name, store, object_key, status, server_version, started_at, finished_at, error)
		VALUES ($1, $2, $3, 'failed', $4, $5, $6, $7)`,
		rep.Database, rep.Store, rep.Key, serverVersion, rep.StartedAt, now, errorText(cause))
	return err
}

func errorText(cause error) string {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return msg
}

// markInterrupted fails the runs that never recorded an outcome (the
// process died); the caller holds the lock, so none is still going.
func markInterrupted(ctx context.Context, db execer, database string, now time.Time) (int64, error) {
	tag, err := db.Exec(ctx, `
		UPDATE backups SET status = 'failed', finished_at = $2,
		       error = 'interrupted: the run ended without recording an outcome'
		WHERE database_name = $1 AND status IN ('running', 'uploaded')`, database, now)
	return tag.RowsAffected(), err
}

func markFailed(ctx context.Context, db execer, id int64, now time.Time, cause error) error {
	_, err := db.Exec(ctx, `UPDATE backups SET status = 'failed', finished_at = $2, error = $3 WHERE id = $1`, id, now, errorText(cause))
	return err
}

func markUploaded(ctx context.Context, db execer, rep *Report, counts map[string]int64, now time.Time) error {
	_, err := db.Exec(ctx, `
		UPDATE backups SET status = 'uploaded', uploaded_at = $2, bytes = $3, dump_bytes = $4, sha256 = $5, row_counts = $6
		WHERE id = $1`, rep.ID, now, rep.Bytes, rep.DumpBytes, rep.SHA256, counts)
	return err
}

func markVerified(ctx context.Context, db execer, id int64, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE backups SET status = 'verified', verified_at = $2, finished_at = $2 WHERE id = $1`, id, at)
	return err
}

func markDeleted(ctx context.Context, db execer, id int64, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE backups SET deleted_at = $2 WHERE id = $1`, id, now)
	return err
}

// liveRecords are the backups of database in store whose object retention
// has not deleted.
func liveRecords(ctx context.Context, db execer, database, store string) ([]Record, error) {
	rows, err := db.Query(ctx, `
		SELECT id, object_key, status, started_at FROM backups
		WHERE database_name = $1 AND store = $2 AND deleted_at IS NULL`, database, store)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var rec Record
		return rec, r.Scan(&rec.ID, &rec.Key, &rec.Status, &rec.StartedAt)
	})
}

// Row is a backups row as the commands show it.
type Row struct {
	ID         int64
	Status     string
	SHA256     *string
	VerifiedAt *time.Time
	DeletedAt  *time.Time
	RowCounts  map[string]int64
}

// Rows returns the backups rows of store by object key. A database without
// the backups table (a fresh server being restored into) has none.
func Rows(ctx context.Context, db execer, store string) (map[string]Row, error) {
	rows, err := db.Query(ctx, `
		SELECT object_key, id, status, sha256, verified_at, deleted_at, row_counts
		FROM backups WHERE store = $1`, store)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" {
			return map[string]Row{}, nil
		}
		return nil, err
	}
	defer rows.Close()
	out := map[string]Row{}
	for rows.Next() {
		var key string
		var r Row
		if err := rows.Scan(&key, &r.ID, &r.Status, &r.SHA256, &r.VerifiedAt, &r.DeletedAt, &r.RowCounts); err != nil {
			return nil, err
		}
		out[key] = r
	}
	return out, rows.Err()
}
