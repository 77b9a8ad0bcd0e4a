package attachments

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// Metric names, exported by redrive's metrics endpoint like the database
// backups' (lib/backup).
const (
	MetricLastComplete = "concierge_attachments_backup_last_complete_timestamp_seconds"
	MetricLastFailed   = "concierge_attachments_backup_last_run_failed"
	MetricPending      = "concierge_attachments_backup_pending_objects"
	MetricCopies       = "concierge_attachments_backup_copies"
)

// querier is a pool or a connection.
type querier interface {
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// Proven is the attachment backup's state in one store: its last complete
// run (everything listed was copied and a sample read back intact) and its
// latest run.
type Proven struct {
	Source string
	// CompleteAt is when the last complete run finished; nil if none did.
	CompleteAt *time.Time
	// Verified is how many copies that run read back intact.
	Verified int64
	// Copies and Deleted count the copies in the store: current, and kept
	// after their object left the bucket.
	Copies, Deleted int64
	Bytes           int64
	LastStatus      string
	LastStartedAt   time.Time
	LastError       string
	Pending         int64
}

// LastProven returns the state of each attachment bucket backed up into
// store (every store when ""). A database without the tables (older
// schema) has none.
func LastProven(ctx context.Context, db querier, store string) ([]Proven, error) {
	rows, err := db.Query(ctx, `
		SELECT s.source, c.finished_at, coalesce(c.verified, 0),
		       (SELECT count(*) FROM attachment_copies a WHERE a.source = s.source AND ($1 = '' OR a.store = $1) AND a.deleted_at IS NULL),
		       (SELECT count(*) FROM attachment_copies a WHERE a.source = s.source AND ($1 = '' OR a.store = $1) AND a.deleted_at IS NOT NULL AND a.removed_at IS NULL),
		       (SELECT coalesce(sum(stored_bytes), 0) FROM attachment_copies a WHERE a.source = s.source AND ($1 = '' OR a.store = $1) AND a.removed_at IS NULL),
		       l.status, l.started_at, coalesce(l.error, ''), l.pending
		FROM (SELECT DISTINCT source FROM attachment_syncs WHERE $1 = '' OR store = $1) s
		LEFT JOIN LATERAL (
			SELECT finished_at, verified FROM attachment_syncs x
			WHERE x.source = s.source AND ($1 = '' OR x.store = $1) AND x.status = 'complete'
			ORDER BY finished_at DESC LIMIT 1) c ON true
		JOIN LATERAL (
			SELECT status, started_at, error, pending FROM attachment_syncs x
			WHERE x.source = s.source AND ($1 = '' OR x.store = $1)
			ORDER BY started_at DESC, id DESC LIMIT 1) l ON true
		ORDER BY s.source`, store)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" {
			return nil, nil
		}
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Proven, error) {
		var p Proven
		return p, r.Scan(&p.Source, &p.CompleteAt, &p.Verified, &p.Copies, &p.Deleted, &p.Bytes,
			&p.LastStatus, &p.LastStartedAt, &p.LastError, &p.Pending)
	})
}

// WritePrometheus writes, per attachment bucket: when the last complete
// run finished, whether the latest failed, what it left pending, and the
// copies held. Alert on a failed latest run and on a last complete run
// older than a day and a bit.
func WritePrometheus(ctx context.Context, db querier, w io.Writer) error {
	list, err := LastProven(ctx, db, "")
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("read attachment backups: %w", err), "database unavailable")
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricLastComplete, "When the last attachment backup that copied everything and read a sample back intact finished, in Unix seconds; 0 if none.", "gauge")
	for _, p := range list {
		ts := 0.0
		if p.CompleteAt != nil {
			ts = float64(p.CompleteAt.UnixMilli()) / 1000
		}
		fmt.Fprintf(b, "%s{bucket=%s} %s\n", MetricLastComplete, promtext.Label(p.Source), strconv.FormatFloat(ts, 'f', 3, 64))
	}
	promtext.Header(b, MetricLastFailed, "1 when the latest attachment backup failed (attachment_syncs says why).", "gauge")
	for _, p := range list {
		v := 0
		if p.LastStatus == StatusFailed {
			v = 1
		}
		fmt.Fprintf(b, "%s{bucket=%s} %d\n", MetricLastFailed, promtext.Label(p.Source), v)
	}
	promtext.Header(b, MetricPending, "Attachments the latest run left for the next (its time budget ended).", "gauge")
	for _, p := range list {
		fmt.Fprintf(b, "%s{bucket=%s} %d\n", MetricPending, promtext.Label(p.Source), p.Pending)
	}
	promtext.Header(b, MetricCopies, "Attachment copies in the backup store: current, and kept after the attachment left the bucket.", "gauge")
	for _, p := range list {
		fmt.Fprintf(b, "%s{bucket=%s,state=\"current\"} %d\n", MetricCopies, promtext.Label(p.Source), p.Copies)
		fmt.Fprintf(b, "%s{bucket=%s,state=\"deleted\"} %d\n", MetricCopies, promtext.Label(p.Source), p.Deleted)
	}
	return b.Flush()
}
