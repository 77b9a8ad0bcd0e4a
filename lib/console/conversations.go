package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/fault"
)

// replyPage is how many replies the Conversations list shows at a time.
const replyPage = 50

// Modes of a reply, as the replies table stores them.
var replyModes = []string{"auto", "draft", "handoff"}

// ReplyLine is one reply in the Conversations list.
type ReplyLine struct {
	ID        string
	At        time.Time
	Mode      string
	Status    string
	Language  string
	Reason    string // the hand-off's reason class
	Guest     string // the guest's name, when proven
	Said      string // the start of the guest's words
	Inbox     int64
	Conv      int64
	HasCursor bool
}

// ReplyList is the Conversations page's data.
type ReplyList struct {
	Mode    string
	Replies []ReplyLine
	// Next is the cursor of the next page ("" when this is the last).
	Next string
}

// ReadReplies lists replies newest first, of one mode ("" for all),
// before the cursor (a previous page's Next).
func ReadReplies(ctx context.Context, db *pgxpool.Pool, mode, cursor string) (*ReplyList, error) {
	out := &ReplyList{Mode: mode}
	var before *time.Time
	var beforeID string
	if cursor != "" {
		ts, id, ok := strings.Cut(cursor, "_")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil || !uuidLike(id) {
			return nil, fault.New(fault.Invalid, "not a page of this list")
		}
		before, beforeID = &t, id
	}
	var modeArg *string
	if mode != "" {
		modeArg = &mode
	}
	rows, err := db.Query(ctx, `SELECT r.id::text, r.created_at, r.mode, r.status, COALESCE(r.language, ''),
			CASE WHEN r.mode = 'handoff' THEN `+reasonClassSQL("r.handoff_reason")+` ELSE '' END,
			COALESCE(NULLIF(g.full_name, ''), ''), left(COALESCE(`+burstSQL+`, ''), 140), COALESCE(c.inbox_id, 0), r.conversation_id
		FROM replies r
		LEFT JOIN conversations c ON c.account_id = r.account_id AND c.id = r.conversation_id
		LEFT JOIN guests g ON g.id = c.guest_id
		WHERE ($1::text IS NULL OR r.mode = $1)
			AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2, $3::uuid))
		ORDER BY r.created_at DESC, r.id DESC
		LIMIT $4`, modeArg, before, nullIfEmpty(beforeID), replyPage+1)
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	out.Replies, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReplyLine, error) {
		var l ReplyLine
		err := r.Scan(&l.ID, &l.At, &l.Mode, &l.Status, &l.Language, &l.Reason, &l.Guest, &l.Said, &l.Inbox, &l.Conv)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list replies: %w", err)
	}
	if len(out.Replies) > replyPage {
		out.Replies = out.Replies[:replyPage]
		last := out.Replies[replyPage-1]
		out.Next = last.At.UTC().Format(time.RFC3339Nano) + "_" + last.ID
	}
	return out, nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func uuidLike(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// Said is one guest message a reply answered.
type Said struct {
	At         time.Time
	Text       string
	Voice      bool // a voice message (Text is its transcript)
	VoiceError string
}

// Passage is one retrieved passage of a reply.
type Passage struct {
	ID         string
	Document   string
	Source     string // the record it was made from: listing:<id>, call:<id>, knowledge
	Kind       string
	Section    string
	Title      string
	Text       string
	Restricted bool
	Cited      bool
	// Gone: no longer in the PostgreSQL index (re-indexed since, or the
	// index is Qdrant); the document line may still say where it was from.
	Gone bool
}

// Story is one reply's whole story: what the guest said, what was
// decided and why, from which passages, by which model and prompt.
type Story struct {
	ID             string
	AccountID      int64
	ConversationID int64
	InboundID      int64
	Mode           string
	Status         string
	DropReason     string
	Language       string
	HandoffReason  string
	Content        string // the reply, or the hand-off's private note
	CreatedAt      time.Time
	PostedAt       *time.Time
	VoiceStatus    string
	VoiceError     string
	Inbox          int64
	GuestID        string
	GuestName      string
	VerifiedBy     string
	ClaimedGuest   string
	Said           []Said
	Citations      []answer.Citation
	Provenance     answer.Provenance
	Passages       []Passage
	// Stay is the reservation facts the answer had (provenance), sorted.
	Stay [][2]string
}

// Decision says in words what the assistant decided.
func (s *Story) Decision() string {
	switch s.Mode {
	case "handoff":
		return "Handed to a person"
	case "draft":
		return "Drafted for an agent (a private note)"
	}
	if s.Status == "dropped" {
		return "Answered, but not sent"
	}
	return "Answered the guest"
}

// Why says what decided it, beside the hand-off reason.
func (s *Story) Why() string {
	return PolicyWhy(s.Provenance.Policy)
}

// PolicyWhy explains a provenance policy mark in words.
func PolicyWhy(policy string) string {
	switch {
	case policy == "":
		return ""
	case policy == "person":
		return "policy: the guest asked for a person"
	case strings.HasPrefix(policy, "topic:"):
		return "policy: restricted topic " + strings.TrimPrefix(policy, "topic:") + " (HANDOFF_TOPICS)"
	case policy == "verify":
		return "policy: the contact is not proven to be the guest, so the assistant asked for the confirmation code and last name"
	case policy == "secret-later":
		return "policy: the door code, Wi-Fi and exact address are shared only from SECRETS_DISCLOSE_BEFORE before check-in until check-out"
	}
	return "policy: " + policy
}

// ReadStory reads reply id's story; NotFound when there is no such reply.
func ReadStory(ctx context.Context, db *pgxpool.Pool, id string) (*Story, error) {
	if !uuidLike(id) {
		return nil, fault.New(fault.NotFound, "no such reply")
	}
	s := &Story{ID: strings.ToLower(id)}
	var cites, prov []byte
	err := db.QueryRow(ctx, `SELECT r.account_id, r.conversation_id, r.inbound_message_id, r.mode, r.status, COALESCE(r.drop_reason, ''),
			COALESCE(r.language, ''), COALESCE(r.handoff_reason, ''), r.content, r.created_at, r.posted_at,
			COALESCE(r.voice_status, ''), COALESCE(r.voice_error, ''), r.citations, r.provenance,
			COALESCE(c.inbox_id, 0), COALESCE(c.guest_id, ''), COALESCE(g.full_name, ''), COALESCE(c.verified_by, ''), COALESCE(c.claimed_guest_id, '')
		FROM replies r
		LEFT JOIN conversations c ON c.account_id = r.account_id AND c.id = r.conversation_id
		LEFT JOIN guests g ON g.id = c.guest_id
		WHERE r.id = $1::uuid`, s.ID).Scan(&s.AccountID, &s.ConversationID, &s.InboundID, &s.Mode, &s.Status, &s.DropReason,
		&s.Language, &s.HandoffReason, &s.Content, &s.CreatedAt, &s.PostedAt, &s.VoiceStatus, &s.VoiceError, &cites, &prov,
		&s.Inbox, &s.GuestID, &s.GuestName, &s.VerifiedBy, &s.ClaimedGuest)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "no such reply")
	}
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	// The shapes lib/answer writes; an older row that does not parse
	// still shows the rest.
	_ = json.Unmarshal(cites, &s.Citations)
	_ = json.Unmarshal(prov, &s.Provenance)
	for k, v := range s.Provenance.Reservation {
		s.Stay = append(s.Stay, [2]string{k, v})
	}
	sort.Slice(s.Stay, func(i, j int) bool { return s.Stay[i][0] < s.Stay[j][0] })

	rows, err := db.Query(ctx, `SELECT m.created_at, COALESCE(NULLIF(m.content, ''), m.transcript, ''),
			COALESCE(m.content, '') = '' AND m.attachments @> '[{"file_type": "audio"}]', COALESCE(m.voice_error, '')
		FROM messages m
		WHERE m.account_id = $1 AND m.conversation_id = $2 AND m.message_type = 'incoming' AND NOT m.private
			AND m.id <= $3
			AND m.id > COALESCE((SELECT max(p.inbound_message_id) FROM replies p
				WHERE p.account_id = $1 AND p.conversation_id = $2 AND p.inbound_message_id < $3), 0)
		ORDER BY m.id`, s.AccountID, s.ConversationID, s.InboundID)
	if err != nil {
		return nil, fmt.Errorf("read the guest's messages: %w", err)
	}
	s.Said, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Said, error) {
		var x Said
		return x, r.Scan(&x.At, &x.Text, &x.Voice, &x.VoiceError)
	})
	if err != nil {
		return nil, fmt.Errorf("read the guest's messages: %w", err)
	}
	if s.Passages, err = passages(ctx, db, s.Provenance.ChunkIDs, s.Citations); err != nil {
		return nil, err
	}
	return s, nil
}

// passages looks up the chunks an answer read, in the order it read them,
// with the cited ones marked; a citation of a passage not among them is
// added at the end.
func passages(ctx context.Context, db *pgxpool.Pool, chunkIDs []string, cites []answer.Citation) ([]Passage, error) {
	cited := map[string]bool{}
	ids := append([]string(nil), chunkIDs...)
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, c := range cites {
		cited[c.ID] = true
		if !seen[c.ID] && c.ID != "stay" {
			ids = append(ids, c.ID)
			seen[c.ID] = true
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	docs := make([]string, len(ids))
	for i, id := range ids {
		docs[i], _, _ = strings.Cut(id, "#")
	}
	rows, err := db.Query(ctx, `SELECT i.id, i.doc, COALESCE(d.source, ''), COALESCE(c.kind, d.kind, ''), COALESCE(c.section, ''),
			COALESCE(c.title, ''), COALESCE(c.body, ''), COALESCE(c.restricted, false), c.id IS NULL
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS i(id, doc, n)
		LEFT JOIN chunks c ON c.id = i.id
		LEFT JOIN documents d ON d.id = COALESCE(c.document_id, i.doc)
		ORDER BY i.n`, ids, docs)
	if err != nil {
		return nil, fmt.Errorf("read passages: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Passage, error) {
		var p Passage
		err := r.Scan(&p.ID, &p.Document, &p.Source, &p.Kind, &p.Section, &p.Title, &p.Text, &p.Restricted, &p.Gone)
		p.Cited = cited[p.ID] || cited[p.Document]
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read passages: %w", err)
	}
	return ps, nil
}
