package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests/trust"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

// Intake stores Chatwoot agent-bot events before acknowledging them and
// queues an answer for a guest message the bot should answer. It answers
// within Chatwoot's 5 s: the answer itself runs asynchronously.
type Intake struct {
	Store *webhook.Store
	DB    *pgxpool.Pool
	// Verify checks the request's signature; nil when verification is off.
	Verify func(h http.Header, body []byte) error
	// DefaultAccount is used when the payload names no account.
	DefaultAccount int64
	Region         string
}

// Receive verifies, stores and acknowledges one event.
func (in *Intake) Receive(ctx context.Context, h http.Header, body []byte) (webhook.Outcome, error) {
	if in.Verify != nil {
		if err := in.Verify(h, body); err != nil {
			return "", err
		}
	}
	name, err := chatwoot.EventName(body)
	if err != nil {
		return "", err
	}
	d := webhook.Delivery{Source: "chatwoot", EventType: name, Payload: body, DedupeKey: chatwoot.DedupeKey(h, body)}
	switch {
	case name == chatwoot.EventMessageCreated:
		ev, err := chatwoot.ParseMessageEvent(body)
		if err != nil {
			return "", err
		}
		if d.Writes, err = in.messageWrites(ctx, ev); err != nil {
			return "", err
		}
	case strings.HasPrefix(name, "conversation_"):
		ev, err := chatwoot.ParseConversationEvent(body)
		if err != nil {
			return "", err
		}
		account := ev.AccountID()
		if account == 0 {
			account = in.DefaultAccount
		}
		if ev.Status != "" {
			d.Writes = []webhook.Write{statusWrite(account, ev.ID, ev.InboxID, string(ev.Status))}
		}
	}
	out, err := in.Store.Receive(ctx, d)
	if err == nil {
		logging.From(ctx).Info().Str("event", name).Str("outcome", string(out)).Msg("chatwoot event")
	}
	return out, err
}

func (in *Intake) messageWrites(ctx context.Context, ev chatwoot.MessageEvent) ([]webhook.Write, error) {
	account := ev.AccountID()
	if account == 0 {
		account = in.DefaultAccount
	}
	convID := ev.ConversationID()
	switch {
	case account == 0:
		return nil, fault.Field("account.id", "is required (or set CHATWOOT_ACCOUNT_ID)")
	case ev.MessageType == "":
		return nil, fault.Field("message_type", "is required")
	}
	var c chatwoot.Conversation
	if ev.Conversation != nil {
		c = *ev.Conversation
	}
	inbox := c.InboxID
	if inbox == 0 && ev.Inbox != nil {
		inbox = ev.Inbox.ID
	}
	who, err := in.identify(ctx, account, convID, c, ev.Contact())
	if err != nil {
		return nil, err
	}
	attachments, _ := json.Marshal(ev.Attachments)
	if ev.Attachments == nil {
		attachments = []byte("[]")
	}
	contact := int64(0)
	if c.ContactInbox != nil {
		contact = c.ContactInbox.ContactID
	}
	// Only a guest's public message asks for an answer; our own replies,
	// agents' messages, private notes and activity never do.
	answerable := ev.FromGuest()
	// A guest's voice note without text is transcribed (stt), which then
	// wakes the answer.
	voiceNote := answerable && strings.TrimSpace(ev.Text()) == "" && hasAudio(ev.Attachments)
	writes := []webhook.Write{
		{
			Name: "conv",
			// A proven link is never replaced by a later event: only proof
			// sets guest_id, and the first proof stands.
			SQL: `INSERT INTO conversations (account_id, id, inbox_id, contact_id, guest_id, verified_by, claimed_guest_id, status, channel, language_hint)
			SELECT @account, @conv_id, NULLIF(@inbox::bigint, 0), NULLIF(@contact::bigint, 0), NULLIF(@guest, ''), NULLIF(@proof, ''),
				NULLIF(@claimed, ''), NULLIF(@status, ''), NULLIF(@channel, ''), NULLIF(@language_hint, '')
			WHERE EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (account_id, id) DO UPDATE SET
				channel = COALESCE(EXCLUDED.channel, conversations.channel),
				language_hint = COALESCE(EXCLUDED.language_hint, conversations.language_hint),
				inbox_id = COALESCE(EXCLUDED.inbox_id, conversations.inbox_id),
				contact_id = COALESCE(EXCLUDED.contact_id, conversations.contact_id),
				verified_by = CASE WHEN conversations.guest_id IS NULL THEN EXCLUDED.verified_by ELSE conversations.verified_by END,
				guest_id = COALESCE(conversations.guest_id, EXCLUDED.guest_id),
				claimed_guest_id = COALESCE(EXCLUDED.claimed_guest_id, conversations.claimed_guest_id),
				status = COALESCE(EXCLUDED.status, conversations.status), updated_at = now()
			RETURNING status, handed_off_at`,
			Args: map[string]any{"account": account, "conv_id": convID, "inbox": inbox, "contact": contact, "guest": who.Guest,
				"proof": string(who.Proof), "claimed": who.Claimed, "status": string(c.Status), "channel": c.Channel,
				"language_hint": languageHint(c)},
		},
		{
			Name: "msg",
			SQL: `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, private, content, attachments, created_at)
			SELECT @account, @msg_id, @conv_id, @message_type, NULLIF(@sender_type, ''), @private, @content, @attachments, @created_at
			WHERE EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (account_id, id) DO NOTHING
			RETURNING id`,
			Args: map[string]any{"msg_id": ev.ID, "message_type": string(ev.MessageType), "sender_type": ev.SenderKind(),
				"private": ev.Private, "content": ev.Content, "attachments": attachments, "created_at": ev.CreatedAt.Time},
		},
		{
			// A voice note queues its answer too: it waits (snoozes) until stt
			// has heard the message and then answers it, or hands off if the
			// transcription never ends, so a stuck stt never means silence.
			Name: "answer",
			SQL: `SELECT @subject::text AS subject FROM conv, msg
			WHERE @answerable::boolean AND conv.status = 'pending' AND conv.handed_off_at IS NULL`,
			Args: map[string]any{"subject": jobs.ConversationSubject(account, convID), "answerable": answerable},
			Jobs: []webhook.JobFrom{{Kind: jobs.Answer, Column: "subject"}},
		},
		{
			// Transcribed whatever the conversation's state: the note helps
			// the person who owns it; the answer decides about replying.
			Name: "transcribe",
			SQL:  `SELECT @msg_subject::text AS subject FROM msg WHERE @voice::boolean`,
			Args: map[string]any{"msg_subject": jobs.MessageSubject(account, ev.ID), "voice": voiceNote},
			Jobs: []webhook.JobFrom{{Kind: jobs.Transcribe, Column: "subject"}},
		},
	}
	return writes, nil
}

// languageHint is the language Chatwoot reports for the conversation (the
// web widget's browser_language, such as "es" or "pt-BR") when the
// assistant speaks it; "" otherwise. Messages decide once they tell.
func languageHint(c chatwoot.Conversation) string {
	s, _ := c.AdditionalAttributes["browser_language"].(string)
	return lang.Normalize(s)
}

// hasAudio reports whether a message carries a voice note.
func hasAudio(as []chatwoot.Attachment) bool {
	for _, a := range as {
		if a.FileType == "audio" && a.DataURL != "" {
			return true
		}
	}
	return false
}

// identify returns who the sender is: nothing to do once the conversation
// has a proven guest; otherwise each event is judged again, since a
// widget visitor may be validated later.
func (in *Intake) identify(ctx context.Context, account, conv int64, c chatwoot.Conversation, s *chatwoot.Sender) (trust.Identity, error) {
	var known *string
	err := in.DB.QueryRow(ctx, "SELECT guest_id FROM conversations WHERE account_id = $1 AND id = $2", account, conv).Scan(&known)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return trust.Identity{}, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	if known != nil || s == nil {
		return trust.Identity{}, nil
	}
	attr, _ := s.CustomAttributes["guesty_guest_id"].(string)
	claim := trust.Claim{
		Contact: trust.Contact{
			Identifier: s.Identifier, GuestyGuestID: attr, Phone: s.PhoneNumber, Email: s.Email, DefaultRegion: in.Region,
		},
		AccountID: account, ContactID: s.ID, Channel: c.Channel,
	}
	if ci := c.ContactInbox; ci != nil {
		claim.SourceID, claim.HMACVerified = ci.SourceID, ci.HMACVerified
		if ci.ContactID != 0 {
			claim.ContactID = ci.ContactID
		}
	} else if c.Meta.HMACVerified != nil {
		claim.HMACVerified = *c.Meta.HMACVerified
	}
	who, err := trust.Identify(ctx, in.DB, claim)
	if err != nil {
		return trust.Identity{}, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	if who.Claimed != "" && !who.Verified() {
		logging.From(ctx).Info().Str("channel", c.Channel).Msg("contact claims a guest without proof: answered as a stranger until verified")
	}
	return who, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func statusWrite(account, conv, inbox int64, status string) webhook.Write {
	return webhook.Write{
		Name: "conv",
		SQL: `INSERT INTO conversations (account_id, id, inbox_id, status)
		SELECT @account, @conv_id, NULLIF(@inbox::bigint, 0), @status WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (account_id, id) DO UPDATE SET status = EXCLUDED.status,
			inbox_id = COALESCE(EXCLUDED.inbox_id, conversations.inbox_id), updated_at = now()`,
		Args: map[string]any{"account": account, "conv_id": conv, "inbox": inbox, "status": status},
	}
}
