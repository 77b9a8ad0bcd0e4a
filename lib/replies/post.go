package replies

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Drop reasons.
const (
	ReasonHandedOff  = "the conversation was handed off to a person"
	ReasonPerson     = "a person wrote in the conversation after the guest's message"
	ReasonNewerGuest = "the guest wrote again; the newer message gets its own answer"
)

const (
	// typingTimeout bounds the best-effort typing calls.
	typingTimeout = 3 * time.Second
	// maxReasonChars bounds the failure text kept on a reply.
	maxReasonChars = 500
)

// Poster posts pending replies.
type Poster struct {
	DB *pgxpool.Pool
	// Chat posts to Chatwoot (any account: see Client.ForAccount); nil
	// keeps replies in the local outbox.
	Chat *chatwoot.Client
	// Policy is the reply job's; its MaxAttempts tells the last attempt.
	Policy jobs.Policy
	// Synthesize, when set, is the job that speaks a want_audio answer
	// (tts) before it is posted; tts re-queues the reply job when the clip
	// is stored or synthesis failed. Zero: such replies go as text.
	Synthesize jobs.Kind
	Invoker    jobs.Invoker
	// HandoffMessage is posted to the guest after a hand-off whose reply
	// asks for it (Reply.Acknowledge); empty or "off": none.
	HandoffMessage string
}

// HandoffMessage is what the guest reads when the bot hands over.
var HandoffMessage = config.Register(config.Setting{Name: "HANDOFF_MESSAGE",
	Default: "Thanks for your message. I have passed it to our team, and a person will reply here shortly.",
	Help:    "told to the guest when the bot hands a conversation to a person (inboxes in auto mode); off: nothing is said", Used: "chatwoot-reply"})

// StatusAwaitingAudio: the reply waits for its spoken clip (tts).
const StatusAwaitingAudio = "awaiting_audio"

// Result is what Post did, for the job's response.
type Result struct {
	ReplyID           string   `json:"reply_id"`
	Mode              Mode     `json:"mode"`
	Status            string   `json:"status"`
	ChatwootMessageID int64    `json:"chatwoot_message_id,omitempty"`
	Reason            string   `json:"reason,omitempty"`
	Outbox            bool     `json:"outbox,omitempty"`  // kept in the local outbox
	Already           bool     `json:"already,omitempty"` // an earlier invocation finished it
	Warnings          []string `json:"warnings,omitempty"`
}

// PostedContent is the text that goes to Chatwoot: the answer (auto,
// draft), or for a hand-off a note with the reason and the summary.
func (r Reply) PostedContent() string {
	if r.Mode != Handoff {
		return r.Content
	}
	reason := strings.TrimSpace(r.HandoffReason)
	if reason == "" {
		reason = "not given"
	}
	note := "Handed off to a person. Reason: " + reason
	if s := strings.TrimSpace(r.Content); s != "" {
		note += "\n\n" + s
	}
	return note
}

// Private reports whether the reply is a private note.
func (r Reply) Private() bool { return r.Mode != Auto }

// Post handles a claimed reply job: it posts the reply once, or drops it
// when it went stale, and records the outcome on the row.
//
// Idempotent: a reply that is not pending is left alone, and the Chatwoot
// message id is stored as soon as Chatwoot answers, so a retried hand-off
// finishes its status and label without posting its note again. When an
// earlier attempt's outcome is unknown (a 5xx or a lost connection after
// the post), a retry first looks for the message among those Chatwoot
// already sent us before posting.
//
// Errors: fault.Unavailable (Chatwoot or the database is down; the job
// retries), anything else is permanent and the reply is marked failed.
func (p *Poster) Post(ctx context.Context, job jobs.Claimed) (Result, error) {
	id, err := IDFromSubject(job.Subject)
	if err != nil {
		return Result{}, err
	}
	r, err := Get(ctx, p.DB, id)
	if err != nil {
		return Result{}, err
	}
	res := Result{ReplyID: r.ID, Mode: r.Mode, Status: r.Status, ChatwootMessageID: r.ChatwootMessageID}
	if r.Status != StatusPending {
		res.Already = true
		return res, nil
	}
	log := logging.From(ctx).With().Str("reply_id", r.ID).Int64("account_id", r.AccountID).
		Int64("conversation_id", r.ConversationID).Str("mode", string(r.Mode)).Logger()
	ctx = logging.WithLogger(ctx, log)

	if r.ChatwootMessageID == 0 && p.Chat != nil && job.Attempt > 1 {
		mid, err := p.alreadyPosted(ctx, r)
		if err != nil {
			return res, err
		}
		if mid != 0 {
			log.Info().Int64("chatwoot_message_id", mid).Msg("an earlier attempt posted the reply")
			if err := p.setMessageID(ctx, r.ID, mid); err != nil {
				return res, err
			}
			r.ChatwootMessageID = mid
		}
	}

	var chat *chatwoot.Client
	if p.Chat != nil {
		chat = p.Chat.ForAccount(r.AccountID)
	}
	if r.ChatwootMessageID == 0 {
		// The answer took a while: check again that it is still wanted.
		reason, err := p.overtaken(ctx, r)
		if err != nil {
			return res, err
		}
		if reason != "" {
			return p.drop(ctx, r, reason)
		}
		if r.WantAudio && r.Mode == Auto && p.Synthesize.Name != "" && (r.VoiceStatus == "" || r.VoiceStatus == "pending") {
			return p.awaitAudio(ctx, r)
		}
		if chat == nil {
			return p.keepLocal(ctx, r)
		}
		p.typing(ctx, chat, r, true)
		defer p.typing(ctx, chat, r, false)
		m := chatwoot.NewMessage{Content: r.PostedContent(), Private: r.Private()}
		if r.VoiceClipID != "" && r.Mode == Auto {
			f, err := p.clip(ctx, r.VoiceClipID)
			if err != nil {
				return res, err
			}
			if f != nil {
				m.Attachments = []chatwoot.File{*f}
			}
		}
		msg, err := chat.PostMessage(ctx, r.ConversationID, m)
		if err != nil {
			return p.fail(ctx, r, job, err)
		}
		// Stored before anything else: a retry must never post it again.
		if err := p.setMessageID(ctx, r.ID, msg.ID); err != nil {
			return res, err
		}
		r.ChatwootMessageID = msg.ID
		res.ChatwootMessageID = msg.ID
	}

	status := ""
	if r.Mode == Handoff && chat != nil {
		st, err := chat.ToggleStatus(ctx, r.ConversationID, chatwoot.StatusOpen)
		if err != nil {
			return p.fail(ctx, r, job, err)
		}
		status = string(st)
		if _, err := chat.AddLabels(ctx, r.ConversationID, HandoffLabel); err != nil {
			if fault.Retryable(err) && job.Attempt < p.Policy.MaxAttempts {
				return res, err
			}
			// The note is posted and the conversation open: the hand-off
			// happened. A label refused (older Chatwoot versions keep bots
			// off the labels API) is reported, not fatal.
			log.Warn().Err(err).Msg("hand-off label not set")
			res.Warnings = append(res.Warnings, "label "+HandoffLabel+" not set: "+err.Error())
		}
	}
	if r.Mode == Handoff && chat != nil && r.Acknowledge && r.AckMessageID == 0 && acknowledges(p.HandoffMessage) {
		// After the note and the status: the team knows before the guest
		// is told. A retry finds ack_message_id and says it once.
		msg, err := chat.PostMessage(ctx, r.ConversationID, chatwoot.NewMessage{Content: p.HandoffMessage})
		switch {
		case err == nil:
			if _, err := p.DB.Exec(ctx, "UPDATE replies SET ack_message_id = $2 WHERE id = $1", r.ID, msg.ID); err != nil {
				return res, fault.Wrap(fault.Unavailable, fmt.Errorf("record hand-off acknowledgement: %w", err), "database unavailable")
			}
		case fault.Retryable(err) && job.Attempt < p.Policy.MaxAttempts:
			return res, err
		default:
			log.Warn().Err(err).Msg("hand-off acknowledgement not posted")
			res.Warnings = append(res.Warnings, "guest not told of the hand-off: "+err.Error())
		}
	}
	if err := p.finish(ctx, r, status); err != nil {
		return res, err
	}
	log.Info().Int64("chatwoot_message_id", r.ChatwootMessageID).Msg("reply posted")
	res.Status = StatusPosted
	return res, nil
}

// overtaken says why r should not be posted any more, or "".
//
// "After the guest's message" orders by (created_at, id) from our
// messages table, which llm-query fills from every message event; our own
// posted replies are not a person, even when posted with an agent's token.
func (p *Poster) overtaken(ctx context.Context, r Reply) (string, error) {
	var handedOff, person, newer bool
	err := p.DB.QueryRow(ctx, `
		WITH ib AS (SELECT created_at FROM messages WHERE account_id = $1 AND id = $3)
		SELECT
			COALESCE((SELECT handed_off_at IS NOT NULL FROM conversations WHERE account_id = $1 AND id = $2), false),
			COALESCE(bool_or(lower(COALESCE(m.sender_type, '')) = 'user' AND m.message_type <> 'activity' AND o.id IS NULL), false),
			COALESCE(bool_or(m.message_type = 'incoming'), false)
		FROM messages m
		LEFT JOIN replies o ON o.account_id = m.account_id AND o.chatwoot_message_id = m.id
		WHERE m.account_id = $1 AND m.conversation_id = $2 AND m.id <> $3
			AND CASE WHEN (SELECT created_at FROM ib) IS NULL THEN m.id > $3
				ELSE (m.created_at, m.id) > ((SELECT created_at FROM ib), $3) END`,
		r.AccountID, r.ConversationID, r.InboundMessageID).Scan(&handedOff, &person, &newer)
	if err != nil {
		return "", fault.Wrap(fault.Unavailable, fmt.Errorf("check reply %s: %w", r.ID, err), "database unavailable")
	}
	switch {
	case handedOff && r.Mode != Handoff:
		return ReasonHandedOff, nil
	case person:
		return ReasonPerson, nil
	case newer:
		return ReasonNewerGuest, nil
	}
	return "", nil
}

// alreadyPosted finds the message an earlier attempt may have posted
// without learning its id: an outgoing message with the reply's text and
// privacy after the guest's message that no other reply claims. Our
// messages table has it when Chatwoot's webhook for it arrived; the
// messages API (agent tokens only) is asked too, best effort.
func (p *Poster) alreadyPosted(ctx context.Context, r Reply) (int64, error) {
	content := r.PostedContent()
	var id int64
	err := p.DB.QueryRow(ctx, `
		SELECT COALESCE(min(m.id), 0) FROM messages m
		WHERE m.account_id = $1 AND m.conversation_id = $2 AND m.id > $3 AND m.message_type = 'outgoing'
			AND m.private = $4 AND m.content = $5
			AND NOT EXISTS (SELECT 1 FROM replies o WHERE o.account_id = m.account_id AND o.chatwoot_message_id = m.id)`,
		r.AccountID, r.ConversationID, r.InboundMessageID, r.Private(), content).Scan(&id)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile reply %s: %w", r.ID, err), "database unavailable")
	}
	if id != 0 {
		return id, nil
	}
	msgs, err := p.Chat.ForAccount(r.AccountID).ListMessages(ctx, r.ConversationID, chatwoot.ListMessages{After: r.InboundMessageID})
	if err != nil {
		logging.From(ctx).Debug().Err(err).Msg("could not list messages to reconcile; posting")
		return 0, nil
	}
	for _, m := range msgs {
		if m.MessageType != chatwoot.Outgoing || m.Private != r.Private() || m.Text() != content || m.SenderKind() == chatwoot.SenderContact {
			continue
		}
		var claimed bool
		if err := p.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM replies WHERE account_id = $1 AND chatwoot_message_id = $2)",
			r.AccountID, m.ID).Scan(&claimed); err != nil {
			return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile reply %s: %w", r.ID, err), "database unavailable")
		}
		if !claimed {
			return m.ID, nil
		}
	}
	return 0, nil
}

func (p *Poster) setMessageID(ctx context.Context, id string, mid int64) error {
	if _, err := p.DB.Exec(ctx, "UPDATE replies SET chatwoot_message_id = $2 WHERE id = $1 AND status = 'pending'", id, mid); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("store chatwoot message id of reply %s: %w", id, err), "database unavailable")
	}
	return nil
}

// typing switches the indicator, best effort: failures are logged at
// debug and never fail the job. The guest sees it only for an answer.
func (p *Poster) typing(ctx context.Context, chat *chatwoot.Client, r Reply, on bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), typingTimeout)
	defer cancel()
	if err := chat.ToggleTyping(ctx, r.ConversationID, chatwoot.Typing{On: on, Private: r.Private()}); err != nil {
		logging.From(ctx).Debug().Err(err).Bool("on", on).Msg("typing indicator not switched")
	}
}

func (p *Poster) drop(ctx context.Context, r Reply, reason string) (Result, error) {
	if _, err := p.DB.Exec(ctx, "UPDATE replies SET status = 'dropped', drop_reason = $2 WHERE id = $1 AND status = 'pending'", r.ID, reason); err != nil {
		return Result{}, fault.Wrap(fault.Unavailable, fmt.Errorf("drop reply %s: %w", r.ID, err), "database unavailable")
	}
	logging.From(ctx).Info().Str("reason", reason).Msg("reply dropped")
	return Result{ReplyID: r.ID, Mode: r.Mode, Status: StatusDropped, Reason: reason}, nil
}

// fail records err on the reply when the job will not run again (a
// permanent error, or the last attempt), and returns it for the job.
func (p *Poster) fail(ctx context.Context, r Reply, job jobs.Claimed, err error) (Result, error) {
	res := Result{ReplyID: r.ID, Mode: r.Mode, Status: StatusPending, ChatwootMessageID: r.ChatwootMessageID}
	if fault.Retryable(err) && job.Attempt < p.Policy.MaxAttempts {
		return res, err
	}
	msg := err.Error()
	if len(msg) > maxReasonChars {
		msg = msg[:maxReasonChars]
	}
	if _, dberr := p.DB.Exec(context.WithoutCancel(ctx), "UPDATE replies SET status = 'failed', drop_reason = $2 WHERE id = $1 AND status = 'pending'", r.ID, msg); dberr != nil {
		logging.From(ctx).Error().Err(dberr).Msg("could not mark the reply failed")
	}
	res.Status = StatusFailed
	return res, err
}

// keepLocal posts to the local outbox: without Chatwoot the reply is
// marked posted with no Chatwoot id, and GET /outbox of the local runner
// lists it.
func (p *Poster) keepLocal(ctx context.Context, r Reply) (Result, error) {
	if err := p.finish(ctx, r, ""); err != nil {
		return Result{}, err
	}
	logging.From(ctx).Info().Int("chars", len(r.PostedContent())).Bool("private", r.Private()).
		Msg("reply kept in the local outbox (CHATWOOT_URL not set): GET /outbox")
	return Result{ReplyID: r.ID, Mode: r.Mode, Status: StatusPosted, Outbox: true}, nil
}

// finish marks r posted and, for a hand-off, the conversation handed off,
// in one transaction.
func (p *Poster) finish(ctx context.Context, r Reply, status string) error {
	err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE replies SET status = 'posted', posted_at = now(),
			chatwoot_message_id = NULLIF($2::bigint, 0) WHERE id = $1 AND status = 'pending'`, r.ID, r.ChatwootMessageID); err != nil {
			return err
		}
		if r.Mode != Handoff {
			return nil
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO conversations (account_id, id, status, handed_off_at, handoff_reason)
			VALUES ($1, $2, NULLIF($3, ''), now(), NULLIF($4, ''))
			ON CONFLICT (account_id, id) DO UPDATE SET
				handed_off_at = COALESCE(conversations.handed_off_at, now()),
				handoff_reason = COALESCE(EXCLUDED.handoff_reason, conversations.handoff_reason),
				status = COALESCE(EXCLUDED.status, conversations.status), updated_at = now()`,
			r.AccountID, r.ConversationID, status, r.HandoffReason)
		return err
	})
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("record reply %s posted: %w", r.ID, err), "database unavailable")
	}
	return nil
}

// awaitAudio hands a want_audio answer to tts once: it marks the reply's
// voice pending and queues the synthesize job; tts re-queues the reply.
func (p *Poster) awaitAudio(ctx context.Context, r Reply) (Result, error) {
	res := Result{ReplyID: r.ID, Mode: r.Mode, Status: StatusAwaitingAudio}
	if r.VoiceStatus == "pending" {
		return res, nil // the synthesize job is queued; redrive runs it
	}
	var j jobs.Job
	err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE replies SET voice_status = 'pending' WHERE id = $1 AND status = 'pending' AND voice_status IS NULL", r.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		j, err = jobs.Enqueue(ctx, tx, p.Synthesize, Subject(r.ID), logging.Trace(ctx))
		return err
	})
	if err != nil {
		return Result{}, fault.Wrap(fault.Unavailable, fmt.Errorf("queue speech of reply %s: %w", r.ID, err), "database unavailable")
	}
	if j.ID != "" && p.Invoker != nil {
		jobs.Dispatch(ctx, p.Invoker, []jobs.Job{j})
	}
	logging.From(ctx).Info().Msg("reply waits for its spoken clip")
	return res, nil
}

// clip loads a spoken reply's audio; nil when it expired meanwhile.
func (p *Poster) clip(ctx context.Context, id string) (*chatwoot.File, error) {
	var f chatwoot.File
	err := p.DB.QueryRow(ctx, "SELECT content_type, bytes FROM voice_clips WHERE id = $1", id).Scan(&f.ContentType, &f.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("load clip of reply: %w", err), "database unavailable")
	}
	ext := "mp3"
	if strings.Contains(f.ContentType, "ogg") {
		ext = "ogg"
	}
	f.Name = "reply." + ext
	return &f, nil
}

func acknowledges(msg string) bool {
	msg = strings.TrimSpace(msg)
	return msg != "" && !strings.EqualFold(msg, "off")
}
