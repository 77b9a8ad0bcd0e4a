// Package indexer keeps the retrieval index in step with PostgreSQL: for a
// subject (a listing, reservation, call, guest or the knowledge folder) it
// renders the documents, indexes those whose content hash changed and
// removes those that no longer exist. Every document is screened before it
// is chunked (lib/screen): what reads as an instruction to an assistant is
// never indexed, and is listed for the team instead (lib/screen/quarantine).
package indexer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/screen/quarantine"
)

// KnowledgeSubject syncs the shared knowledge folder.
const KnowledgeSubject = "knowledge"

// Indexer syncs subjects into an index.
type Indexer struct {
	DB           *pgxpool.Pool
	Index        retrieval.Index
	Docs         *documents.Builder
	KnowledgeDir string
}

// Result counts what a sync did.
type Result struct {
	Indexed   int `json:"indexed"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"`
	// Quarantined counts the passages the indexed documents held back.
	Quarantined int `json:"quarantined,omitempty"`
}

func (r *Result) add(o Result) {
	r.Indexed += o.Indexed
	r.Unchanged += o.Unchanged
	r.Removed += o.Removed
	r.Quarantined += o.Quarantined
}

// Sync brings subject's documents up to date. It is idempotent: a second
// sync of an unchanged record writes nothing.
func (x *Indexer) Sync(ctx context.Context, subject string) (Result, error) {
	kind, id, _ := strings.Cut(subject, ":")
	var (
		docs []documents.Document
		err  error
	)
	switch kind {
	case "listing":
		docs, err = x.Docs.Listing(ctx, id)
	case "reservation":
		docs, err = x.Docs.Reservation(ctx, id)
	case "call":
		n, perr := strconv.ParseInt(id, 10, 64)
		if perr != nil {
			return Result{}, fault.Field("subject", "call id %q is not a number", id)
		}
		docs, err = x.Docs.Call(ctx, n)
	case "guest":
		return x.syncGuest(ctx, id)
	case KnowledgeSubject:
		docs, err = documents.Knowledge(x.KnowledgeDir)
	default:
		return Result{}, fault.Field("subject", "unknown subject kind %q", kind)
	}
	if errors.Is(err, documents.ErrGone) {
		docs, err = nil, nil
	}
	if err != nil {
		return Result{}, fault.Wrap(fault.Unavailable, err, "read "+subject)
	}
	return x.reconcile(ctx, subject, docs)
}

// syncGuest re-syncs what a guest change affects: the guest's reservations
// (a deleted guest's are removed) and the calls from the guest's phone
// (matched or unmatched anew).
func (x *Indexer) syncGuest(ctx context.Context, id string) (Result, error) {
	rows, err := x.DB.Query(ctx, `
		SELECT 'reservation:' || id FROM reservations WHERE guest_id = $1
		UNION ALL
		SELECT 'call:' || c.id FROM calls c JOIN guests g ON g.phone_e164 = c.phone_e164 WHERE g.id = $1
		UNION
		SELECT source FROM documents WHERE guest_id = $1`, id)
	if err != nil {
		return Result{}, fault.Wrap(fault.Unavailable, err, "read guest "+id)
	}
	subjects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Result{}, fault.Wrap(fault.Unavailable, err, "read guest "+id)
	}
	var total Result
	for _, s := range subjects {
		r, err := x.Sync(ctx, s)
		if err != nil {
			return total, err
		}
		total.add(r)
	}
	return total, nil
}

func (x *Indexer) reconcile(ctx context.Context, source string, docs []documents.Document) (Result, error) {
	var res Result
	rows, err := x.DB.Query(ctx, "SELECT id, hash FROM documents WHERE source = $1", source)
	if err != nil {
		return res, fault.Wrap(fault.Unavailable, err, "read documents")
	}
	known := map[string]string{}
	for rows.Next() {
		var id, hash string
		if err := rows.Scan(&id, &hash); err != nil {
			rows.Close()
			return res, fault.Wrap(fault.Unavailable, err, "read documents")
		}
		known[id] = hash
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fault.Wrap(fault.Unavailable, err, "read documents")
	}
	for _, d := range docs {
		hash := d.Hash()
		if known[d.ID] == hash {
			res.Unchanged++
			delete(known, d.ID)
			continue
		}
		delete(known, d.ID)
		screened, held := d.Screen()
		chunks := screened.Chunks()
		for _, f := range held {
			// The passage itself can hold personal data: the team reads it
			// with `concierge quarantine`, the log only says where.
			logging.From(ctx).Warn().Str("document_id", d.ID).Str("section", d.Section).Str("rule", f.Rule).
				Msg("passage held back from the index: it reads as an instruction to an assistant")
		}
		// Index first, record second: a crash in between re-indexes on the
		// next sync instead of leaving a recorded but missing document.
		if err := x.Index.Replace(ctx, d.ID, chunks); err != nil {
			return res, fault.Wrap(fault.Unavailable, err, "index "+d.ID)
		}
		err := pgx.BeginFunc(ctx, x.DB, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO documents (id, source, kind, guest_id, hash, chunks) VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6)
				ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source, kind = EXCLUDED.kind, guest_id = EXCLUDED.guest_id,
					hash = EXCLUDED.hash, chunks = EXCLUDED.chunks, indexed_at = now()`, d.ID, source, d.Kind, d.Owner.GuestID, hash, len(chunks)); err != nil {
				return err
			}
			return quarantine.Sync(ctx, tx, quarantine.Doc{ID: d.ID, Source: source, Kind: d.Kind, Section: d.Section}, held)
		})
		if err != nil {
			return res, fault.Wrap(fault.Unavailable, err, "record "+d.ID)
		}
		res.Indexed++
		res.Quarantined += len(held)
	}
	for id := range known {
		if err := x.Index.Delete(ctx, id); err != nil {
			return res, fault.Wrap(fault.Unavailable, err, "unindex "+id)
		}
		err := pgx.BeginFunc(ctx, x.DB, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "DELETE FROM documents WHERE id = $1", id); err != nil {
				return err
			}
			return quarantine.Forget(ctx, tx, id)
		})
		if err != nil {
			return res, fault.Wrap(fault.Unavailable, err, "forget "+id)
		}
		res.Removed++
	}
	return res, nil
}

// Reindex drops what the documents table says is indexed and syncs every
// subject in PostgreSQL again: for `concierge reindex` after switching
// index or changing how documents render.
func (x *Indexer) Reindex(ctx context.Context) (Result, error) {
	rows, err := x.DB.Query(ctx, `
		SELECT 'listing:' || id FROM listings
		UNION ALL SELECT 'reservation:' || id FROM reservations
		UNION ALL SELECT 'call:' || id FROM calls
		UNION ALL SELECT $1`, KnowledgeSubject)
	if err != nil {
		return Result{}, fmt.Errorf("reindex: %w", err)
	}
	subjects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return Result{}, fmt.Errorf("reindex: %w", err)
	}
	if _, err := x.DB.Exec(ctx, "UPDATE documents SET hash = ''"); err != nil {
		return Result{}, fmt.Errorf("reindex: %w", err)
	}
	var total Result
	for _, s := range subjects {
		r, err := x.Sync(ctx, s)
		if err != nil {
			return total, fmt.Errorf("reindex %s: %w", s, err)
		}
		total.add(r)
	}
	return total, nil
}
