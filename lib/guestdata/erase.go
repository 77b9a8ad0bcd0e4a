package guestdata

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/screen/quarantine"
)

// SettingLogKey keys the hashes of the erasure log. It lives outside the
// database (a secret) so a copy of the database cannot turn a hash back
// into a phone number by trying them all.
var SettingLogKey = config.Register(config.Setting{Name: "ERASURE_LOG_KEY", Secret: "erasure-log-key",
	Help: "key (32+ characters) of the erasure log's hashes; keep it beside the backup keys: replaying the log after a restore needs the same key (make run makes one under DATA_DIR/secrets)",
	Used: "purge, concierge forget-guest"})

// minKeyLen: an HMAC key shorter than this is guessable.
const minKeyLen = 32

// Key hashes erased identifiers for the log.
type Key struct{ secret []byte }

// KeyFrom reads ERASURE_LOG_KEY; nil when it is unset (an erasure then
// refuses to run: a log it cannot replay is no log). A key too short is
// recorded in cfg.
func KeyFrom(cfg *config.Config) *Key {
	v := cfg.String(SettingLogKey)
	if v == "" {
		return nil
	}
	if len(v) < minKeyLen {
		cfg.Reject(SettingLogKey, "shorter than %d characters", minKeyLen)
		return nil
	}
	return &Key{secret: []byte(v)}
}

// NewKey is a Key over secret, for tests and tools.
func NewKey(secret string) *Key { return &Key{secret: []byte(secret)} }

// ID names the key without revealing it, so a replay can say the log was
// written under another key instead of silently matching nothing.
func (k *Key) ID() string {
	sum := sha256.Sum256(append([]byte("erasure-log-key-id:"), k.secret...))
	return hex.EncodeToString(sum[:6])
}

// Hash is the log's form of one identifier: "kind:hex".
func (k *Key) Hash(kind, value string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(kind + "\x00" + value))
	return kind + ":" + hex.EncodeToString(m.Sum(nil))
}

// hashes are the log entries for h: every guest id, phone and e-mail it
// erased, so a restored copy is found by any of them.
func (k *Key) hashes(h Holdings) []string {
	out := []string{}
	for _, g := range h.GuestIDs {
		out = append(out, k.Hash(ByGuestyID, g))
	}
	for _, p := range h.Phones {
		out = append(out, k.Hash(ByPhone, p))
	}
	for _, e := range h.Emails {
		out = append(out, k.Hash(ByEmail, e))
	}
	return out
}

// Erasure sources, as the log records them.
const (
	SourceCLI    = "cli"
	SourceGuesty = "guesty"
	SourceReplay = "replay"
)

// Counts are rows per part (messages, calls, documents, …).
type Counts map[string]int64

// Total is the sum of all parts.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Count returns, per part, the rows Erase would remove (the dry run).
func Count(ctx context.Context, db *pgxpool.Pool, h Holdings) (Counts, error) {
	out := Counts{}
	args := h.args()
	for _, p := range append(append([]part{}, parts...), indexParts...) {
		var n int64
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+p.table+" WHERE "+p.where, args).Scan(&n); err != nil {
			return out, fault.Wrap(fault.Unavailable, fmt.Errorf("count %s: %w", p.name, err), "database unavailable")
		}
		out[p.name] = n
	}
	return out, nil
}

// Erase removes everything h links to: the index first (documents and
// their chunks or Qdrant points), then the rows in one transaction, the
// guest left as a tombstone (id and deletion time only) so a late
// redelivery of an older Guesty update cannot bring the guest back. The
// log row, written in the same transaction, holds keyed hashes and counts.
func Erase(ctx context.Context, db *pgxpool.Pool, index retrieval.Index, key *Key, h Holdings, source string) (Counts, error) {
	if key == nil {
		return nil, fault.New(fault.Permanent, "erasure needs %s (secret %s): the log must be replayable after a restore", SettingLogKey.Name, SettingLogKey.Secret)
	}
	counts := Counts{}
	n, err := unindexDocuments(ctx, db, index, h.DocumentIDs)
	counts["documents"] = n
	if err != nil {
		return counts, err
	}
	args := h.args()
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, p := range parts {
			q := "DELETE FROM " + p.table + " WHERE " + p.where
			if p.table == "guests" {
				q = `UPDATE guests SET full_name = NULL, first_name = NULL, last_name = NULL, email = NULL, phone_e164 = NULL,
					raw = '{}', deleted_at = COALESCE(deleted_at, now()), erased_at = now(), updated_at = now()
					WHERE ` + p.where
			}
			tag, err := tx.Exec(ctx, q, args)
			if err != nil {
				return fmt.Errorf("erase %s: %w", p.name, err)
			}
			counts[p.name] = tag.RowsAffected()
		}
		// Someone else's conversation that claimed to be the guest keeps
		// its messages (they are that person's) but not the claim.
		tag, err := tx.Exec(ctx, "UPDATE conversations SET claimed_guest_id = NULL WHERE claimed_guest_id = ANY($1)", nonNil(h.GuestIDs))
		if err != nil {
			return fmt.Errorf("erase claims: %w", err)
		}
		counts["claims_cleared"] = tag.RowsAffected()
		// Chunks the documents table did not know of (PostgreSQL index).
		tag, err = tx.Exec(ctx, "DELETE FROM chunks WHERE guest_id = ANY($1)", nonNil(h.GuestIDs))
		if err != nil {
			return fmt.Errorf("erase chunks: %w", err)
		}
		counts["indexed_chunks"] = tag.RowsAffected()
		b, _ := json.Marshal(counts)
		_, err = tx.Exec(ctx, `INSERT INTO erasure_log (source, key_id, hashes, counts) VALUES ($1, $2, $3, $4)`,
			source, key.ID(), key.hashes(h), b)
		return err
	})
	if err != nil {
		return counts, fault.Wrap(fault.Unavailable, fmt.Errorf("erase guest data: %w", err), "database unavailable")
	}
	// A sync that ran meanwhile may have indexed a record again just
	// before it went: its documents are orphans now.
	m, err := Unindex(ctx, db, index, 1000)
	counts["documents"] += m
	return counts, err
}

// tombstone is a guest row an erasure left (deleted, then erased). A
// newer Guesty update may bring the guest back (it clears deleted_at):
// then it is a guest again, indexed and erasable.
const tombstone = `(g.erased_at IS NOT NULL AND g.deleted_at IS NOT NULL)`

// Unindex removes up to limit documents whose record is gone — a call or a
// reservation deleted by retention or erasure — from the index (chunks or
// Qdrant points) and from the documents table. It is idempotent, so a pass
// interrupted between the two writes finishes on the next one.
func Unindex(ctx context.Context, db *pgxpool.Pool, index retrieval.Index, limit int) (int64, error) {
	rows, err := db.Query(ctx, `
		SELECT d.id FROM documents d
		WHERE (d.source LIKE 'call:%' AND NOT EXISTS (SELECT 1 FROM calls c WHERE 'call:' || c.id = d.source))
		   OR (d.source LIKE 'reservation:%' AND NOT EXISTS (SELECT 1 FROM reservations r WHERE 'reservation:' || r.id = d.source))
		   OR (d.guest_id IS NOT NULL AND EXISTS (SELECT 1 FROM guests g WHERE g.id = d.guest_id AND `+tombstone+`))
		LIMIT $1`, limit)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("find orphan documents: %w", err), "database unavailable")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("find orphan documents: %w", err), "database unavailable")
	}
	return unindexDocuments(ctx, db, index, ids)
}

func unindexDocuments(ctx context.Context, db *pgxpool.Pool, index retrieval.Index, ids []string) (int64, error) {
	var n int64
	for _, id := range ids {
		// Index first, record second, as the indexer does: a failure in
		// between leaves the row, and the next pass retries.
		if err := index.Delete(ctx, id); err != nil {
			return n, fault.Wrap(fault.Unavailable, fmt.Errorf("unindex %s: %w", id, err), "index unavailable")
		}
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "DELETE FROM documents WHERE id = $1", id); err != nil {
				return err
			}
			return quarantine.Forget(ctx, tx, id)
		})
		if err != nil {
			return n, fault.Wrap(fault.Unavailable, fmt.Errorf("forget document %s: %w", id, err), "database unavailable")
		}
		n++
	}
	return n, nil
}

// Selectors of the log's hashes of the guests, phones and e-mails in
// the database that an earlier erasure named.
func matches(ctx context.Context, db *pgxpool.Pool, key *Key, logged map[string]bool) ([]Selector, error) {
	var out []Selector
	add := func(kind, q string) error {
		rows, err := db.Query(ctx, q)
		if err != nil {
			return err
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, v := range vals {
			if logged[key.Hash(kind, v)] {
				out = append(out, Selector{Kind: kind, Value: v})
			}
		}
		return nil
	}
	for _, q := range []struct{ kind, sql string }{
		{ByGuestyID, `SELECT id FROM guests g WHERE NOT ` + tombstone + ` UNION SELECT guest_id FROM reservations WHERE guest_id IS NOT NULL`},
		{ByPhone, `SELECT phone_e164 FROM guests WHERE phone_e164 IS NOT NULL UNION SELECT phone_e164 FROM calls WHERE phone_e164 IS NOT NULL
			UNION SELECT unnest(phones) FROM aircall_contacts`},
		{ByEmail, `SELECT email FROM guests WHERE email IS NOT NULL UNION SELECT unnest(emails) FROM aircall_contacts`},
	} {
		if err := add(q.kind, q.sql); err != nil {
			return nil, fmt.Errorf("match %s: %w", q.kind, err)
		}
	}
	return out, nil
}

// ReplayResult is what Replay found and erased again.
type ReplayResult struct {
	Entries int `json:"log_entries"`
	// OtherKey counts log entries written under another key: they cannot
	// be matched, and Replay refuses to report success over them.
	OtherKey int    `json:"other_key"`
	Matched  int    `json:"matched"`
	Erased   Counts `json:"erased"`
}

// Replay applies the erasure log to a database restored from a backup
// taken before some erasures: every guest, phone or e-mail whose keyed hash
// the log holds is erased again (logged with source replay). A second
// replay finds nothing. dryRun only matches.
func Replay(ctx context.Context, db *pgxpool.Pool, index retrieval.Index, key *Key, dryRun bool) (ReplayResult, error) {
	var res ReplayResult
	if key == nil {
		return res, fault.New(fault.Permanent, "replay needs %s (secret %s), the key the log was written with", SettingLogKey.Name, SettingLogKey.Secret)
	}
	rows, err := db.Query(ctx, `SELECT key_id, hashes FROM erasure_log WHERE source <> 'replay'`)
	if err != nil {
		return res, fault.Wrap(fault.Unavailable, fmt.Errorf("read erasure log: %w", err), "database unavailable")
	}
	logged := map[string]bool{}
	for rows.Next() {
		var id string
		var hs []string
		if err := rows.Scan(&id, &hs); err != nil {
			rows.Close()
			return res, fault.Wrap(fault.Unavailable, fmt.Errorf("read erasure log: %w", err), "database unavailable")
		}
		res.Entries++
		if id != key.ID() {
			res.OtherKey++
			continue
		}
		for _, h := range hs {
			logged[h] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fault.Wrap(fault.Unavailable, fmt.Errorf("read erasure log: %w", err), "database unavailable")
	}
	sels, err := matches(ctx, db, key, logged)
	if err != nil {
		return res, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	res.Matched = len(sels)
	res.Erased = Counts{}
	var done []Holdings
	for _, s := range sels {
		// A guest's id, phone and e-mail all match: one erasure, one count.
		if slices.ContainsFunc(done, func(h Holdings) bool { return h.covers(s) }) {
			continue
		}
		h, err := Find(ctx, db, s)
		if err != nil {
			return res, err
		}
		done = append(done, h)
		if dryRun {
			c, err := Count(ctx, db, h)
			if err != nil {
				return res, err
			}
			addCounts(res.Erased, c)
			continue
		}
		c, err := Erase(ctx, db, index, key, h, SourceReplay)
		addCounts(res.Erased, c)
		if err != nil {
			return res, err
		}
	}
	if res.OtherKey > 0 {
		return res, fault.New(fault.Permanent, "%d erasure log entries were written under another %s (key id differs from %s): set the key they were written with and replay again",
			res.OtherKey, SettingLogKey.Name, key.ID())
	}
	return res, nil
}

// covers reports whether s names one of h's keys.
func (h Holdings) covers(s Selector) bool {
	switch s.Kind {
	case ByGuestyID:
		return slices.Contains(h.GuestIDs, s.Value)
	case ByPhone:
		return slices.Contains(h.Phones, s.Value)
	case ByEmail:
		return slices.Contains(h.Emails, s.Value)
	}
	return false
}

func addCounts(dst, src Counts) {
	for k, v := range src {
		dst[k] += v
	}
}
