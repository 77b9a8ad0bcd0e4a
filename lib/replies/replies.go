// Package replies holds the answers the assistant gives guests: llm-query
// writes one row per answered guest message together with its reply job,
// and chatwoot-reply posts it — an outgoing message, a private draft note,
// or a hand-off — unless a person or a newer guest message overtook it.
// Without Chatwoot configured, posted replies stay in the table as the
// local outbox.
package replies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Mode says how a reply reaches Chatwoot.
type Mode string

// Modes.
const (
	// Auto posts an outgoing message the guest sees.
	Auto Mode = "auto"
	// Draft posts a private note for an agent to check and send.
	Draft Mode = "draft"
	// Handoff posts a private note with the reason and summary, opens the
	// conversation, labels it ai-handoff, and keeps the bot silent after.
	Handoff Mode = "handoff"
)

// Statuses of a reply.
const (
	StatusPending = "pending"
	StatusPosted  = "posted"
	StatusDropped = "dropped"
	StatusFailed  = "failed"
)

// HandoffLabel marks conversations the bot handed to a person.
const HandoffLabel = "ai-handoff"

// Reply is a row of replies.
type Reply struct {
	ID               string
	AccountID        int64
	ConversationID   int64 // display id
	InboundMessageID int64 // the guest message answered (newest of a burst)
	Mode             Mode
	Content          string // the answer; for a hand-off, the summary for the agent
	Language         string
	Citations        json.RawMessage // JSON array; nil is []
	Provenance       json.RawMessage // JSON object; nil is {}
	HandoffReason    string
	// Acknowledge: a hand-off also tells the guest a person will reply
	// (the inbox's bot answers guests); AckMessageID once it went out.
	Acknowledge  bool
	AckMessageID int64
	AckStarted   bool // an attempt began posting the acknowledgement
	WantAudio    bool
	// Set by tts: the spoken reply's clip, and pending, ready or failed
	// with the reason (the text is posted alone then).
	VoiceClipID string
	VoiceStatus string
	VoiceError  string

	// Set by chatwoot-reply.
	Status            string
	DropReason        string // why it was dropped, or why posting failed
	ChatwootMessageID int64  // 0 until posted (and in the local outbox)
	CreatedAt         time.Time
	PostedAt          *time.Time
}

// ErrDuplicate: the inbound message has a reply already; nothing was
// written and the transaction is still usable.
var ErrDuplicate = errors.New("replies: the message has a reply already")

func (m Mode) valid() bool { return m == Auto || m == Draft || m == Handoff }

// Insert writes r as a pending reply and its reply job in tx, the
// transaction in which the caller stores the rest of its result. After the
// commit, start the job with jobs.Dispatch(ctx, invoker, []jobs.Job{job}).
// The trace id of ctx follows the job.
//
// One reply per inbound message: a second Insert for the same message
// returns ErrDuplicate and writes nothing.
func Insert(ctx context.Context, tx pgx.Tx, r Reply) (jobs.Job, error) {
	switch {
	case r.AccountID <= 0 || r.ConversationID <= 0 || r.InboundMessageID <= 0:
		return jobs.Job{}, fault.New(fault.Invalid, "reply: account, conversation and inbound message ids are required")
	case !r.Mode.valid():
		return jobs.Job{}, fault.Field("mode", "must be one of auto, draft, handoff")
	case strings.TrimSpace(r.Content) == "" && r.Mode != Handoff:
		return jobs.Job{}, fault.Field("content", "is required")
	case r.Mode == Handoff && strings.TrimSpace(r.Content) == "" && strings.TrimSpace(r.HandoffReason) == "":
		return jobs.Job{}, fault.Field("handoff_reason", "a hand-off needs a reason or a summary")
	}
	citations, provenance := []byte(r.Citations), []byte(r.Provenance)
	if len(citations) == 0 {
		citations = []byte("[]")
	}
	if len(provenance) == 0 {
		provenance = []byte("{}")
	}
	var id string
	err := tx.QueryRow(ctx, `
		INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, language,
			citations, provenance, handoff_reason, want_audio, acknowledge)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, NULLIF($9, ''), $10, $11)
		ON CONFLICT (account_id, inbound_message_id) DO NOTHING
		RETURNING id::text`,
		r.AccountID, r.ConversationID, r.InboundMessageID, string(r.Mode), r.Content, r.Language,
		citations, provenance, r.HandoffReason, r.WantAudio, r.Acknowledge && r.Mode == Handoff).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return jobs.Job{}, ErrDuplicate
	}
	if err != nil {
		return jobs.Job{}, fmt.Errorf("insert reply to message %d: %w", r.InboundMessageID, err)
	}
	return jobs.Enqueue(ctx, tx, jobs.Reply, jobs.ReplySubject(id), logging.Trace(ctx))
}

const selectReply = `SELECT id::text, account_id, conversation_id, inbound_message_id, mode, content,
	COALESCE(language, ''), citations, provenance, COALESCE(handoff_reason, ''), want_audio, status,
	COALESCE(drop_reason, ''), COALESCE(chatwoot_message_id, 0), created_at, posted_at,
	COALESCE(voice_clip_id::text, ''), COALESCE(voice_status, ''), COALESCE(voice_error, ''),
	acknowledge, COALESCE(ack_message_id, 0), ack_started_at IS NOT NULL FROM replies`

func scanReply(row pgx.Row) (Reply, error) {
	var r Reply
	var mode string
	err := row.Scan(&r.ID, &r.AccountID, &r.ConversationID, &r.InboundMessageID, &mode, &r.Content, &r.Language,
		&r.Citations, &r.Provenance, &r.HandoffReason, &r.WantAudio, &r.Status, &r.DropReason, &r.ChatwootMessageID,
		&r.CreatedAt, &r.PostedAt, &r.VoiceClipID, &r.VoiceStatus, &r.VoiceError, &r.Acknowledge, &r.AckMessageID, &r.AckStarted)
	r.Mode = Mode(mode)
	return r, err
}

// Get returns reply id.
func Get(ctx context.Context, db *pgxpool.Pool, id string) (Reply, error) {
	r, err := scanReply(db.QueryRow(ctx, selectReply+" WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fault.New(fault.NotFound, "no reply %s", id)
	}
	if err != nil {
		return r, fault.Wrap(fault.Unavailable, fmt.Errorf("load reply %s: %w", id, err), "database unavailable")
	}
	return r, nil
}
