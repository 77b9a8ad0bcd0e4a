package console

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
)

// backupsShown bounds the backups the page lists, newest first.
const backupsShown = 200

// provenFresh: a proven restore younger than this is what a nightly
// schedule gives (a day and a bit, as the alert says: docs/recovery.md).
const provenFresh = 26 * time.Hour

// TableCount is one table's rows in a backup's snapshot.
type TableCount struct {
	Table string
	Rows  int64
}

// Proven is one database's last proven restore.
type Proven struct {
	backup.Proven
	// Age of the proof; zero when never proven.
	Age time.Duration
	// Fresh: proven within provenFresh.
	Fresh bool
	// Tables are the row counts of the proven backup's snapshot, which the
	// verification restored and counted again: it is verified only when
	// every table's count matched.
	Tables    []TableCount
	TotalRows int64
}

// BackupRow is one backup run.
type BackupRow struct {
	ID         int64
	Database   string
	Store      string
	Key        string
	Status     string
	StartedAt  time.Time
	FinishedAt *time.Time
	VerifiedAt *time.Time
	DeletedAt  *time.Time
	Bytes      int64
	DumpBytes  int64
	Error      string
	Age        time.Duration
}

// BackupsPage is the Backups page's data.
type BackupsPage struct {
	Proven      []Proven
	Attachments []attachments.Proven
	Backups     []BackupRow
}

// ReadBackups reads every backup run and, per database, its last proven
// restore with the row counts the verification compared.
func ReadBackups(ctx context.Context, db *pgxpool.Pool, now time.Time) (*BackupsPage, error) {
	p := &BackupsPage{}
	proven, err := backup.LastProven(ctx, db, "")
	if err != nil {
		return nil, fmt.Errorf("read proven restores: %w", err)
	}
	for _, x := range proven {
		pr := Proven{Proven: x}
		if x.VerifiedAt != nil {
			pr.Age = now.Sub(*x.VerifiedAt)
			pr.Fresh = pr.Age < provenFresh
			var counts map[string]int64
			err := db.QueryRow(ctx, `SELECT COALESCE(row_counts, '{}') FROM backups
				WHERE database_name = $1 AND object_key = $2 AND status = 'verified' ORDER BY verified_at DESC LIMIT 1`,
				x.Database, x.Key).Scan(&counts)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return nil, fmt.Errorf("read row counts: %w", err)
			}
			for t, n := range counts {
				pr.Tables = append(pr.Tables, TableCount{Table: t, Rows: n})
				pr.TotalRows += n
			}
			sort.Slice(pr.Tables, func(i, j int) bool { return pr.Tables[i].Table < pr.Tables[j].Table })
		}
		p.Proven = append(p.Proven, pr)
	}
	if p.Attachments, err = attachments.LastProven(ctx, db, ""); err != nil {
		return nil, fmt.Errorf("read attachment backups: %w", err)
	}
	rows, err := db.Query(ctx, `SELECT id, database_name, store, object_key, status, started_at, finished_at, verified_at, deleted_at,
			COALESCE(bytes, 0), COALESCE(dump_bytes, 0), COALESCE(error, '')
		FROM backups ORDER BY started_at DESC, id DESC LIMIT $1`, backupsShown)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	p.Backups, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (BackupRow, error) {
		var b BackupRow
		err := r.Scan(&b.ID, &b.Database, &b.Store, &b.Key, &b.Status, &b.StartedAt, &b.FinishedAt, &b.VerifiedAt, &b.DeletedAt,
			&b.Bytes, &b.DumpBytes, &b.Error)
		b.Age = now.Sub(b.StartedAt)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	return p, nil
}
