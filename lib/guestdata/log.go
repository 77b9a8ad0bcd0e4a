package guestdata

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
)

// LogEntry is one erasure as the log keeps it: no personal data, so it
// may be copied anywhere — and must be, because a backup older than an
// erasure restores a log without it. `concierge forget-guest --export-log`
// writes these as JSON lines; --replay-log --log FILE (or --log-from the
// database being replaced) brings them into the restored database.
type LogEntry struct {
	Source   string    `json:"source"`
	KeyID    string    `json:"key_id"`
	Hashes   []string  `json:"hashes"`
	Counts   Counts    `json:"counts"`
	ErasedAt time.Time `json:"erased_at"`
}

// ReadLog returns the erasures logged in db, oldest first (replays
// excluded: they repeat an entry that is already there).
func ReadLog(ctx context.Context, db *pgxpool.Pool) ([]LogEntry, error) {
	rows, err := db.Query(ctx, `SELECT source, key_id, hashes, counts, erased_at FROM erasure_log WHERE source <> 'replay' ORDER BY id`)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("read erasure log: %w", err), "database unavailable")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogEntry, error) {
		var e LogEntry
		err := r.Scan(&e.Source, &e.KeyID, &e.Hashes, &e.Counts, &e.ErasedAt)
		return e, err
	})
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("read erasure log: %w", err), "database unavailable")
	}
	return out, nil
}

// ImportLog adds the entries db lacks (same key, hashes and time) and
// returns how many it added.
func ImportLog(ctx context.Context, db *pgxpool.Pool, entries []LogEntry) (int, error) {
	added := 0
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, e := range entries {
			if e.Source == SourceReplay || len(e.Hashes) == 0 {
				continue
			}
			if e.Counts == nil {
				e.Counts = Counts{}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO erasure_log (source, key_id, hashes, counts, erased_at)
				SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (
					SELECT 1 FROM erasure_log WHERE key_id = $2 AND hashes = $3 AND erased_at = $5)`,
				e.Source, e.KeyID, e.Hashes, e.Counts, e.ErasedAt)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("import erasure log: %w", err), "database unavailable")
	}
	return added, nil
}
