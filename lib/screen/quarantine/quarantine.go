// Package quarantine keeps the team's list of passages screening held back
// at indexing (lib/screen): paragraphs of a listing, a call or the knowledge
// folder that read as instructions to an assistant. They are never indexed;
// this list is how a person learns of them and fixes the source. The
// indexer writes it (Sync when a document is indexed, Forget when it is
// removed), `concierge quarantine` prints it, and redrive's metrics count
// it (WritePrometheus).
//
// Passages may hold personal data (a guest's name in a call, a planted
// phone number): they are stored for the team and never logged.
package quarantine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
	"github.com/harborstays/concierge/lib/screen"
)

// maxPassageRunes bounds one stored passage: enough for a person to find
// it in the listing, not a whole description pasted twice.
const maxPassageRunes = 2000

// Passage is one held-back paragraph and where it came from.
type Passage struct {
	DocumentID string    `json:"document_id"`
	Source     string    `json:"source"` // the vectorize subject: listing:<id>, call:<id>, knowledge
	Kind       string    `json:"kind"`
	Section    string    `json:"section"`
	Rule       string    `json:"rule"`
	Text       string    `json:"passage"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
}

// Doc names the document a finding belongs to.
type Doc struct {
	ID, Source, Kind, Section string
}

// DB is what the package runs statements on: a pool, a connection or the
// indexer's transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Sync makes found the quarantined passages of doc: a new passage is added,
// one already listed keeps its first_seen and gets last_seen now (the
// database's clock), and the document's passages not in found are cleared,
// the team having fixed them.
func Sync(ctx context.Context, db DB, doc Doc, found []screen.Finding) error {
	texts := make([]string, 0, len(found))
	for _, f := range found {
		text := bound(f.Passage)
		if slices.Contains(texts, text) {
			continue // the same paragraph twice in one document: one row
		}
		texts = append(texts, text)
		if _, err := db.Exec(ctx, `INSERT INTO quarantined_passages AS q (document_id, source, kind, section, passage, rule)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (document_id, digest) DO UPDATE SET source = EXCLUDED.source, kind = EXCLUDED.kind,
				section = EXCLUDED.section, rule = EXCLUDED.rule, last_seen = now()`,
			doc.ID, doc.Source, doc.Kind, doc.Section, text, f.Rule); err != nil {
			return fault.Wrap(fault.Unavailable, fmt.Errorf("quarantine %s: record: %w", doc.ID, err), "database unavailable")
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM quarantined_passages
		WHERE document_id = $1 AND NOT (digest = ANY (SELECT md5(p) FROM unnest($2::text[]) p))`, doc.ID, texts); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("quarantine %s: clear: %w", doc.ID, err), "database unavailable")
	}
	return nil
}

// Forget clears every passage of a document that no longer exists.
func Forget(ctx context.Context, db DB, documentID string) error {
	if _, err := db.Exec(ctx, "DELETE FROM quarantined_passages WHERE document_id = $1", documentID); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("quarantine %s: forget: %w", documentID, err), "database unavailable")
	}
	return nil
}

// bound cuts a passage to maxPassageRunes.
func bound(s string) string {
	if r := []rune(s); len(r) > maxPassageRunes {
		return string(r[:maxPassageRunes]) + "…"
	}
	return s
}

// List returns every quarantined passage, by source, document and first
// sighting.
func List(ctx context.Context, db DB) ([]Passage, error) {
	rows, err := db.Query(ctx, `SELECT document_id, source, kind, section, rule, passage, first_seen, last_seen
		FROM quarantined_passages ORDER BY source, document_id, first_seen, passage`)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("list quarantined passages: %w", err), "database unavailable")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Passage, error) {
		var p Passage
		err := r.Scan(&p.DocumentID, &p.Source, &p.Kind, &p.Section, &p.Rule, &p.Text, &p.FirstSeen, &p.LastSeen)
		return p, err
	})
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("list quarantined passages: %w", err), "database unavailable")
	}
	return out, nil
}

// Metric is the gauge WritePrometheus writes.
const Metric = "concierge_quarantined_passages"

// WritePrometheus writes the number of quarantined passages per rule in the
// Prometheus text exposition format, every rule of lib/screen included
// (zero when none), plus any rule still on record that screening no longer
// has:
//
//	concierge_quarantined_passages{rule="ignore-instructions"} 2
//
// concierge_quarantined_passages > 0 is the alert: a person reads
// `concierge quarantine` and fixes the listing; the next sync clears it.
func WritePrometheus(ctx context.Context, db DB, w io.Writer) error {
	rows, err := db.Query(ctx, "SELECT rule, count(*) FROM quarantined_passages GROUP BY rule ORDER BY rule")
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("count quarantined passages: %w", err), "database unavailable")
	}
	counts := map[string]int64{}
	var order []string
	for _, r := range screen.Rules {
		counts[r.Name] = 0
		order = append(order, r.Name)
	}
	for rows.Next() {
		var rule string
		var n int64
		if err := rows.Scan(&rule, &n); err != nil {
			rows.Close()
			return fault.Wrap(fault.Unavailable, fmt.Errorf("count quarantined passages: %w", err), "database unavailable")
		}
		if _, ok := counts[rule]; !ok {
			order = append(order, rule)
		}
		counts[rule] = n
	}
	if err := rows.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("count quarantined passages: %w", err), "database unavailable")
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, Metric, "Paragraphs held back from the retrieval index because they read as instructions to an assistant, by screening rule; `concierge quarantine` lists them.", "gauge")
	for _, rule := range order {
		fmt.Fprintf(b, "%s{rule=%s} %d\n", Metric, promtext.Label(rule), counts[rule])
	}
	return b.Flush()
}
