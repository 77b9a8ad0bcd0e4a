package voice

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
)

// Clip kinds.
const (
	KindInput = "input" // a guest's voice message
	KindReply = "reply" // a spoken reply
)

// Clip is a row of voice_clips.
type Clip struct {
	ID             string
	Kind           string
	AccountID      int64
	ConversationID int64
	MessageID      int64  // input
	ReplyID        string // reply
	ContentType    string
	Bytes          []byte
	Duration       time.Duration
	Transcript     string
	Provider       string
	ExpiresAt      time.Time
}

// StoreClip writes c in tx and returns its id; storing the same input
// message or reply again returns the stored clip's id.
func StoreClip(ctx context.Context, tx pgx.Tx, c Clip) (string, error) {
	var id string
	conflict := "(account_id, message_id) WHERE kind = 'input'"
	if c.Kind == KindReply {
		conflict = "(reply_id) WHERE kind = 'reply'"
	}
	err := tx.QueryRow(ctx, `
		INSERT INTO voice_clips (kind, account_id, conversation_id, message_id, reply_id, content_type, bytes, size,
			duration_ms, transcript, provider, expires_at)
		VALUES ($1, $2, $3, NULLIF($4::bigint, 0), NULLIF($5, '')::uuid, $6, $7, $8, NULLIF($9::int, 0), NULLIF($10, ''), NULLIF($11, ''), $12)
		ON CONFLICT `+conflict+` DO UPDATE SET expires_at = voice_clips.expires_at
		RETURNING id::text`,
		c.Kind, c.AccountID, c.ConversationID, c.MessageID, c.ReplyID, c.ContentType, c.Bytes, len(c.Bytes),
		int(c.Duration/time.Millisecond), c.Transcript, c.Provider, c.ExpiresAt).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store %s clip: %w", c.Kind, err)
	}
	return id, nil
}

// PurgeResult is what Purge deleted.
type PurgeResult struct {
	Deleted int64 `json:"deleted"`
	Inputs  int64 `json:"inputs"`
	Replies int64 `json:"replies"`
	Bytes   int64 `json:"bytes"`
}

// Purge deletes the clips expired at now (the database's clock when now is
// zero). Replies keep their text; their clip link is cleared by the
// foreign key.
func Purge(ctx context.Context, db *pgxpool.Pool, now time.Time) (PurgeResult, error) {
	var r PurgeResult
	err := db.QueryRow(ctx, `
		WITH gone AS (DELETE FROM voice_clips WHERE expires_at <= COALESCE($1::timestamptz, now()) RETURNING kind, size)
		SELECT count(*), count(*) FILTER (WHERE kind = 'input'), count(*) FILTER (WHERE kind = 'reply'), COALESCE(sum(size), 0)
		FROM gone`, nullTime(now)).Scan(&r.Deleted, &r.Inputs, &r.Replies, &r.Bytes)
	if err != nil {
		return r, fault.Wrap(fault.Unavailable, fmt.Errorf("purge voice clips: %w", err), "database unavailable")
	}
	return r, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
