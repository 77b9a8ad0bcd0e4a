package backup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// Metric names. The backup function runs once a day in a process nobody
// scrapes, so its outcome is read from the backups table by redrive's
// metrics endpoint, beside the gateway's own count of non-2xx answers.
const (
	MetricLastVerified = "concierge_backup_last_verified_timestamp_seconds"
	MetricLastFailed   = "concierge_backup_last_run_failed"
	MetricFailedTotal  = "concierge_backup_failed_runs_total"
)

// Proven is a database's (or the globals') backup state: the newest
// backup whose restore was verified, and how its latest run ended.
type Proven struct {
	Database string
	// Key and VerifiedAt of the newest verified backup; VerifiedAt nil
	// when none ever verified.
	Key        string
	VerifiedAt *time.Time
	Bytes      int64
	// LastStatus, LastStartedAt and LastError are of the newest run.
	LastStatus    string
	LastStartedAt time.Time
	LastError     string
	// Failed counts the failed runs.
	Failed int64
}

// LastProven returns, per database with backups in store (every store when
// store is ""), its last proven restore and latest run, by database name.
func LastProven(ctx context.Context, db execer, store string) ([]Proven, error) {
	rows, err := db.Query(ctx, `
		SELECT d.database_name,
		       v.object_key, v.verified_at, coalesce(v.bytes, 0),
		       l.status, l.started_at, coalesce(l.error, ''),
		       (SELECT count(*) FROM backups f WHERE f.database_name = d.database_name AND f.status = 'failed'
		          AND ($1 = '' OR f.store = $1))
		FROM (SELECT DISTINCT database_name FROM backups WHERE $1 = '' OR store = $1) d
		LEFT JOIN LATERAL (
			SELECT object_key, verified_at, bytes FROM backups b
			WHERE b.database_name = d.database_name AND b.status = 'verified' AND ($1 = '' OR b.store = $1)
			ORDER BY verified_at DESC LIMIT 1) v ON true
		JOIN LATERAL (
			SELECT status, started_at, error FROM backups b
			WHERE b.database_name = d.database_name AND ($1 = '' OR b.store = $1)
			ORDER BY started_at DESC, id DESC LIMIT 1) l ON true
		ORDER BY d.database_name`, store)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Proven, error) {
		var p Proven
		var key *string
		err := r.Scan(&p.Database, &key, &p.VerifiedAt, &p.Bytes, &p.LastStatus, &p.LastStartedAt, &p.LastError, &p.Failed)
		if key != nil {
			p.Key = *key
		}
		return p, err
	})
}

// WritePrometheus writes, per database: when its newest verified backup
// was verified, whether its latest run failed, and how many runs failed.
// Alert on a failed latest run, and on a last verification older than a
// day and a bit (docs/recovery.md).
func WritePrometheus(ctx context.Context, db execer, w io.Writer) error {
	list, err := LastProven(ctx, db, "")
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("read backups: %w", err), "database unavailable")
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricLastVerified, "When the newest backup of each database (and of the roles, database=\""+GlobalsName+"\") was restored and verified, in Unix seconds; 0 if never.", "gauge")
	for _, p := range list {
		ts := 0.0
		if p.VerifiedAt != nil {
			ts = float64(p.VerifiedAt.UnixMilli()) / 1000
		}
		fmt.Fprintf(b, "%s{database=%s} %s\n", MetricLastVerified, promtext.Label(p.Database), strconv.FormatFloat(ts, 'f', 3, 64))
	}
	promtext.Header(b, MetricLastFailed, "1 when the latest backup run of the database failed (the backups table says why).", "gauge")
	for _, p := range list {
		v := 0
		if p.LastStatus == StatusFailed {
			v = 1
		}
		fmt.Fprintf(b, "%s{database=%s} %d\n", MetricLastFailed, promtext.Label(p.Database), v)
	}
	promtext.Header(b, MetricFailedTotal, "Backup runs of the database that failed.", "counter")
	for _, p := range list {
		fmt.Fprintf(b, "%s{database=%s} %d\n", MetricFailedTotal, promtext.Label(p.Database), p.Failed)
	}
	return b.Flush()
}
