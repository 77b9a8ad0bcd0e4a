package replies

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Bounds of an outbox listing.
const (
	DefaultOutboxLimit = 50
	MaxOutboxLimit     = 500
)

// OutboxEntry is a reply kept locally instead of posted to Chatwoot.
type OutboxEntry struct {
	ReplyID          string          `json:"reply_id"`
	AccountID        int64           `json:"account_id"`
	ConversationID   int64           `json:"conversation_id"`
	InboundMessageID int64           `json:"inbound_message_id"`
	Mode             Mode            `json:"mode"`
	Private          bool            `json:"private"`
	Content          string          `json:"content"` // as it would be posted
	Language         string          `json:"language,omitempty"`
	HandoffReason    string          `json:"handoff_reason,omitempty"`
	Citations        json.RawMessage `json:"citations"`
	// VoiceClipID is the spoken reply posted with the text (voice_clips).
	VoiceClipID string    `json:"voice_clip_id,omitempty"`
	VoiceError  string    `json:"voice_error,omitempty"`
	PostedAt    time.Time `json:"posted_at"`
}

// OutboxQuery selects outbox entries.
type OutboxQuery struct {
	Limit          int   // DefaultOutboxLimit when 0, at most MaxOutboxLimit
	ConversationID int64 // 0: all conversations
}

// Outbox lists the replies posted to the local outbox (posted with no
// Chatwoot message id), newest first.
func Outbox(ctx context.Context, db *pgxpool.Pool, q OutboxQuery) ([]OutboxEntry, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultOutboxLimit
	}
	q.Limit = min(q.Limit, MaxOutboxLimit)
	rows, err := db.Query(ctx, selectReply+`
		WHERE status = 'posted' AND chatwoot_message_id IS NULL AND ($1::bigint = 0 OR conversation_id = $1::bigint)
		ORDER BY posted_at DESC, id LIMIT $2`, q.ConversationID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reply, error) { return scanReply(row) })
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out := make([]OutboxEntry, 0, len(list))
	for _, r := range list {
		e := OutboxEntry{
			ReplyID: r.ID, AccountID: r.AccountID, ConversationID: r.ConversationID, InboundMessageID: r.InboundMessageID,
			Mode: r.Mode, Private: r.Private(), Content: r.PostedContent(), Language: r.Language,
			HandoffReason: r.HandoffReason, Citations: r.Citations, VoiceClipID: r.VoiceClipID, VoiceError: r.VoiceError,
		}
		if r.PostedAt != nil {
			e.PostedAt = *r.PostedAt
		}
		out = append(out, e)
	}
	return out, nil
}

// OutboxHandler serves GET /outbox for the local runner:
// {"replies": [...]}, newest first; ?limit=N and ?conversation_id=ID
// narrow it.
func OutboxHandler(db *pgxpool.Pool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintln(w, `{"error":"use GET"}`)
			return
		}
		var q OutboxQuery
		for _, p := range []struct {
			name string
			dst  *int64
		}{{"limit", nil}, {"conversation_id", &q.ConversationID}} {
			v := r.URL.Query().Get(p.name)
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, "{\"error\":%q}\n", p.name+" must be a non-negative integer")
				return
			}
			if p.dst != nil {
				*p.dst = n
			} else {
				q.Limit = int(min(n, MaxOutboxLimit))
			}
		}
		list, err := Outbox(r.Context(), db, q)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"error":"database unavailable"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"replies": list})
	})
}
