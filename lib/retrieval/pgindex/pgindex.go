// Package pgindex is the retrieval index on PostgreSQL full text: the
// embedded default, needing nothing but the database Concierge already has.
package pgindex

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/retrieval"
)

// Index stores chunks in the chunks table.
type Index struct {
	db *pgxpool.Pool
}

// New returns an Index on db (migrations create its table).
func New(db *pgxpool.Pool) *Index { return &Index{db: db} }

// Replace makes chunks the content of docID in one transaction.
func (x *Index) Replace(ctx context.Context, docID string, chunks []retrieval.Chunk) error {
	ids := make([]string, len(chunks))
	for i, c := range chunks {
		ids[i] = c.ID
	}
	return pgx.BeginFunc(ctx, x.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM chunks WHERE document_id = $1 AND NOT (id = ANY($2))", docID, ids); err != nil {
			return fmt.Errorf("replace %s: delete stale chunks: %w", docID, err)
		}
		b := &pgx.Batch{}
		for _, c := range chunks {
			o := c.Owner
			b.Queue(`INSERT INTO chunks (id, document_id, kind, section, title, body, global, guest_id, listing_id, reservation_id, restricted, team_only)
				VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), NULLIF($9, ''), NULLIF($10, ''), $11, $12)
				ON CONFLICT (id) DO UPDATE SET document_id = EXCLUDED.document_id, kind = EXCLUDED.kind,
					section = EXCLUDED.section, title = EXCLUDED.title, body = EXCLUDED.body, global = EXCLUDED.global,
					guest_id = EXCLUDED.guest_id, listing_id = EXCLUDED.listing_id,
					reservation_id = EXCLUDED.reservation_id, restricted = EXCLUDED.restricted, team_only = EXCLUDED.team_only`,
				c.ID, docID, c.Kind, c.Section, c.Title, c.Text, o.Global, o.GuestID, o.ListingID, o.ReservationID, c.Restricted, c.TeamOnly)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("replace %s: upsert chunks: %w", docID, err)
		}
		return nil
	})
}

// Delete removes docID's chunks.
func (x *Index) Delete(ctx context.Context, docID string) error {
	if _, err := x.db.Exec(ctx, "DELETE FROM chunks WHERE document_id = $1", docID); err != nil {
		return fmt.Errorf("delete %s: %w", docID, err)
	}
	return nil
}

// maxTerms bounds the words of one query: a guest's message, not an essay.
const maxTerms = 32

// terms splits a query into words; each becomes one alternative of the
// full-text query, so a chunk matching more of them ranks higher but one
// matching a few still counts (websearch_to_tsquery alone ANDs them).
func terms(q string) []string {
	ws := strings.FieldsFunc(q, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '\'')
	})
	if len(ws) > maxTerms {
		ws = ws[:maxTerms]
	}
	return ws
}

// searchSQL ranks with ts_rank_cd over an OR of each word's English and
// simple forms. The scope predicate is retrieval.Scope.Visible in SQL.
const searchSQL = `
WITH words AS (SELECT unnest($1::text[]) AS w),
q AS (
	SELECT COALESCE(tsquery_or_agg(t), ''::tsquery) AS q FROM (
		SELECT websearch_to_tsquery('english', w) AS t FROM words
		UNION ALL
		-- Exact tokens let other languages match, but not English stop
		-- words ("can", "my"), which would match everything.
		SELECT websearch_to_tsquery('simple', w) FROM words
		WHERE numnode(websearch_to_tsquery('english', w)) > 0
	) parts WHERE numnode(t) > 0
)
SELECT c.id, c.document_id, c.kind, c.section, c.title, c.body, c.global,
	COALESCE(c.guest_id, ''), COALESCE(c.listing_id, ''), COALESCE(c.reservation_id, ''), c.restricted, c.team_only,
	-- On a tie the guest's own home and stay beat general policy: they are
	-- the more specific answer.
	ts_rank_cd(c.tsv, q.q) * CASE WHEN c.global THEN 0.8 ELSE 1 END AS score
FROM chunks c, q
WHERE c.tsv @@ q.q
	AND (NOT c.restricted OR $5)
	AND (NOT c.team_only OR $7)
	AND (c.global
		OR (c.guest_id IS NOT NULL AND c.guest_id = $2 AND (c.reservation_id IS NULL OR c.reservation_id = ANY($4)))
		OR (c.guest_id IS NULL AND c.listing_id = ANY($3)))
ORDER BY score DESC, c.id
LIMIT $6`

// Search returns the best chunks visible in scope.
func (x *Index) Search(ctx context.Context, s retrieval.Scope, query string, limit int) ([]retrieval.Hit, error) {
	ws := terms(query)
	if len(ws) == 0 || limit <= 0 {
		return nil, nil
	}
	listings, reservations := s.ListingIDs, s.ReservationIDs
	if listings == nil {
		listings = []string{}
	}
	if reservations == nil {
		reservations = []string{}
	}
	rows, err := x.db.Query(ctx, searchSQL, ws, s.GuestID, listings, reservations, s.Restricted, limit, s.Team)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (retrieval.Hit, error) {
		var h retrieval.Hit
		err := r.Scan(&h.ID, &h.DocumentID, &h.Kind, &h.Section, &h.Title, &h.Text, &h.Owner.Global,
			&h.Owner.GuestID, &h.Owner.ListingID, &h.Owner.ReservationID, &h.Restricted, &h.TeamOnly, &h.Score)
		return h, err
	})
}
