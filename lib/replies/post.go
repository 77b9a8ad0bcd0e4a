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
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/logging"
)

// Drop reasons.
const (
	ReasonHandedOff  = "the conversation was handed off to a person"
	ReasonPerson     = "a person wrote in the conversation after the guest's message"
	ReasonNewerGuest = "the guest wrote again; the newer message gets its own answer"
	ReasonTaken      = "a person took the conversation over (it is no longer pending)"
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
	// People, when set, is a user token's client (the contacts token): the
	// hand-off label is set with it when Chatwoot refuses the bot token the
	// labels API (before 4.14.2). Nil: no fallback.
	People  *chatwoot.Client
	Invoker jobs.Invoker
	// HandoffMessage is posted to the guest after a hand-off whose reply
	// asks for it (Reply.Acknowledge); empty or "off": none.
	HandoffMessage string
}

// HandoffMessage is what the guest reads when the bot hands over.
var HandoffMessage = config.Register(config.Setting{Name: "HANDOFF_MESSAGE",
	Default: "Thanks for your message. I have passed it to our team, and a person will reply here shortly.",
	Help:    "told to the guest when the bot hands a conversation to a person (inboxes in auto mode); off: nothing is said", Used: "chatwoot-reply"})

// FromConfig builds the Poster chatwoot-reply runs: replies through
// clients.Replies (nil: the local outbox), the hand-off label through
// clients.Contacts when that is another token, follow-ups queued through
// invoker.
func FromConfig(cfg *config.Config, db *pgxpool.Pool, clients chatwoot.Clients, invoker jobs.Invoker) *Poster {
	p := &Poster{DB: db, Chat: clients.Replies, Invoker: invoker, HandoffMessage: cfg.String(HandoffMessage)}
	if clients.Contacts != clients.Replies {
		p.People = clients.Contacts
	}
	return p
}

// ackText is the hand-off acknowledgement in the guest's language: the
// default sentence is written in six languages (lib/lang); a message the
// operator set in HANDOFF_MESSAGE is said as written.
func (p *Poster) ackText(language string) string {
	if p.HandoffMessage == HandoffMessage.Default {
		return lang.HandoffAck.In(language)
	}
	return p.HandoffMessage
}

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
	id, err := jobs.ParseReplySubject(job.Subject)
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

	if r.ChatwootMessageID == 0 && p.Chat != nil {
		// Claimed before anything is posted: two jobs of one reply (a
		// replay, tts waking it) never post at once, and an attempt after
		// one whose outcome is unknown first looks for what it posted.
		again, err := p.claim(ctx, r, job)
		if err != nil {
			return res, err
		}
		if again {
			mid, err := p.alreadyPosted(ctx, r, r.PostedContent(), r.Private())
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
		if r.WantAudio && r.Mode == Auto && (r.VoiceStatus == "" || r.VoiceStatus == "pending") {
			ready, err := p.awaitAudio(ctx, r)
			if err != nil || !ready {
				return Result{ReplyID: r.ID, Mode: r.Mode, Status: StatusAwaitingAudio}, err
			}
			// Not ready in time: the text goes alone.
			r.VoiceClipID = ""
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
		_, err = chat.AddLabels(ctx, r.ConversationID, HandoffLabel)
		if chatwoot.BotRefused(err) && p.People != nil {
			_, err = p.People.ForAccount(r.AccountID).AddLabels(ctx, r.ConversationID, HandoffLabel)
		}
		if err != nil {
			if fault.Retryable(err) && job.Attempt < jobs.Reply.Policy.MaxAttempts {
				return res, err
			}
			// The note is posted and the conversation open: the hand-off
			// happened. A label refused (older Chatwoot versions keep bots
			// off the labels API) is reported, not fatal.
			log.Warn().Err(err).Msg("hand-off label not set")
			res.Warnings = append(res.Warnings, "label "+HandoffLabel+" not set: "+err.Error())
		}
	}
	ack := p.ackText(r.Language)
	if r.Mode == Handoff && chat != nil && r.Acknowledge && r.AckMessageID == 0 && acknowledges(p.HandoffMessage) {
		// After the note and the status: the team knows before the guest
		// is told. ack_started_at is set first, so an attempt after one
		// whose outcome is unknown looks for it before saying it again.
		if r.AckStarted {
			mid, err := p.alreadyPosted(ctx, r, ack, false)
			if err != nil {
				return res, err
			}
			if mid != 0 {
				if err := p.setAckID(ctx, r.ID, mid); err != nil {
					return res, err
				}
				r.AckMessageID = mid
			}
		} else if _, err := p.DB.Exec(ctx, "UPDATE replies SET ack_started_at = now() WHERE id = $1", r.ID); err != nil {
			return res, fault.Wrap(fault.Unavailable, fmt.Errorf("record hand-off acknowledgement: %w", err), "database unavailable")
		}
	}
	if r.Mode == Handoff && chat != nil && r.Acknowledge && r.AckMessageID == 0 && acknowledges(p.HandoffMessage) {
		msg, err := chat.PostMessage(ctx, r.ConversationID, chatwoot.NewMessage{Content: ack})
		switch {
		case err == nil:
			if err := p.setAckID(ctx, r.ID, msg.ID); err != nil {
				return res, err
			}
		case fault.Retryable(err) && job.Attempt < jobs.Reply.Policy.MaxAttempts:
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
	var handedOff, taken, person, newer bool
	// Ours (not a person's, even when posted with an agent's token): the
	// replies, hand-off acknowledgements and voice transcript notes.
	err := p.DB.QueryRow(ctx, `
		WITH ib AS (SELECT created_at FROM messages WHERE account_id = $1 AND id = $3),
		ours AS (
			SELECT chatwoot_message_id AS id FROM replies WHERE account_id = $1 AND conversation_id = $2 AND chatwoot_message_id IS NOT NULL
			UNION ALL SELECT ack_message_id FROM replies WHERE account_id = $1 AND conversation_id = $2 AND ack_message_id IS NOT NULL
			UNION ALL SELECT transcript_note_id FROM messages WHERE account_id = $1 AND conversation_id = $2 AND transcript_note_id IS NOT NULL),
		conv AS (SELECT handed_off_at, status FROM conversations WHERE account_id = $1 AND id = $2)
		SELECT
			COALESCE((SELECT handed_off_at IS NOT NULL FROM conv), false),
			COALESCE((SELECT status IS NOT NULL AND status <> 'pending' FROM conv), false),
			COALESCE(bool_or(lower(COALESCE(m.sender_type, '')) = 'user' AND m.message_type <> 'activity'
				AND m.id NOT IN (SELECT id FROM ours)), false),
			COALESCE(bool_or(m.message_type = 'incoming'), false)
		FROM messages m
		WHERE m.account_id = $1 AND m.conversation_id = $2 AND m.id <> $3
			AND CASE WHEN (SELECT created_at FROM ib) IS NULL THEN m.id > $3
				ELSE (m.created_at, m.id) > ((SELECT created_at FROM ib), $3) END`,
		r.AccountID, r.ConversationID, r.InboundMessageID).Scan(&handedOff, &taken, &person, &newer)
	if err != nil {
		return "", fault.Wrap(fault.Unavailable, fmt.Errorf("check reply %s: %w", r.ID, err), "database unavailable")
	}
	switch {
	case handedOff && r.Mode != Handoff:
		return ReasonHandedOff, nil
	case taken && r.Mode == Auto:
		// A person opened (or resolved, snoozed) the conversation while
		// the answer was on its way: the guest hears from them now. A
		// draft note for the agents still helps.
		return ReasonTaken, nil
	case person:
		return ReasonPerson, nil
	case newer:
		return ReasonNewerGuest, nil
	}
	return "", nil
}

// alreadyPosted finds the message an earlier attempt may have posted
// without learning its id: an outgoing message with content and privacy
// after the guest's message that no reply claims (as its message or its
// acknowledgement). Our
// messages table has it when Chatwoot's webhook for it arrived; the
// messages API (agent tokens only) is asked too, best effort.
func (p *Poster) alreadyPosted(ctx context.Context, r Reply, content string, private bool) (int64, error) {
	var id int64
	err := p.DB.QueryRow(ctx, `
		SELECT COALESCE(min(m.id), 0) FROM messages m
		WHERE m.account_id = $1 AND m.conversation_id = $2 AND m.id > $3 AND m.message_type = 'outgoing'
			AND m.private = $4 AND m.content = $5
			AND NOT EXISTS (SELECT 1 FROM replies o WHERE o.account_id = m.account_id
				AND (o.chatwoot_message_id = m.id OR o.ack_message_id = m.id))`,
		r.AccountID, r.ConversationID, r.InboundMessageID, private, content).Scan(&id)
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
		if m.MessageType != chatwoot.Outgoing || m.Private != private || m.Text() != content || m.SenderKind() == chatwoot.SenderContact {
			continue
		}
		var claimed bool
		if err := p.DB.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM replies WHERE account_id = $1 AND (chatwoot_message_id = $2 OR ack_message_id = $2))",
			r.AccountID, m.ID).Scan(&claimed); err != nil {
			return 0, fault.Wrap(fault.Unavailable, fmt.Errorf("reconcile reply %s: %w", r.ID, err), "database unavailable")
		}
		if !claimed {
			return m.ID, nil
		}
	}
	return 0, nil
}

func (p *Poster) setAckID(ctx context.Context, id string, mid int64) error {
	if _, err := p.DB.Exec(ctx, "UPDATE replies SET ack_message_id = $2 WHERE id = $1", id, mid); err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("record hand-off acknowledgement of reply %s: %w", id, err), "database unavailable")
	}
	return nil
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
	if fault.Retryable(err) && job.Attempt < jobs.Reply.Policy.MaxAttempts {
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

// claimStale is how long a claim protects a post: longer than the reply
// job's lease, so only a dead attempt's claim is taken over.
const claimStale = 3 * time.Minute

// claim makes job the one that posts r. It reports whether an earlier
// attempt (of this job, or one whose claim went stale) may have posted it
// already. Another job's fresh claim is an unavailable error: the job
// retries, and by then the reply is posted or the claim stale.
func (p *Poster) claim(ctx context.Context, r Reply, job jobs.Claimed) (again bool, err error) {
	err = p.DB.QueryRow(ctx, `
		WITH old AS (SELECT post_claim, post_started_at FROM replies WHERE id = $1 AND status = 'pending' FOR UPDATE)
		UPDATE replies SET post_claim = $2, post_started_at = now()
		FROM old
		WHERE replies.id = $1 AND (old.post_claim IS NULL OR old.post_claim = $2
			OR old.post_started_at < now() - make_interval(secs => $3))
		RETURNING old.post_claim IS NOT NULL`, r.ID, job.ID, claimStale.Seconds()).Scan(&again)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fault.New(fault.Unavailable, "reply %s is being posted by another job", r.ID)
	}
	if err != nil {
		return false, fault.Wrap(fault.Unavailable, fmt.Errorf("claim reply %s: %w", r.ID, err), "database unavailable")
	}
	return again, nil
}

// AudioWait bounds how long a reply waits for its spoken clip; after it,
// or once the synthesize job has ended without one, the text goes alone.
const AudioWait = 3 * time.Minute

// audioRecheck is how soon a waiting reply looks again; tts wakes it
// sooner when the clip is stored.
const audioRecheck = 30 * time.Second

// awaitAudio hands a want_audio answer to tts once: it marks the reply's
// voice pending and queues the synthesize job; the reply job then waits
// (jobs.NotReady) and tts wakes it. It reports ready when the reply should
// go without audio: the clip was not ready within AudioWait, or the
// synthesize job ended without recording an outcome (the database clock
// decides).
func (p *Poster) awaitAudio(ctx context.Context, r Reply) (ready bool, err error) {
	snooze := &jobs.NotReady{Wait: audioRecheck, Reason: "the spoken reply is being synthesised"}
	if r.VoiceStatus == "pending" {
		var late bool
		err := p.DB.QueryRow(ctx, `SELECT COALESCE(voice_requested_at < now() - make_interval(secs => $3), true)
				OR NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $2 AND subject = $4 AND status IN `+jobs.ActiveStatuses+`)
			FROM replies WHERE id = $1`, r.ID, jobs.Synthesize.Name, AudioWait.Seconds(), jobs.ReplySubject(r.ID)).Scan(&late)
		if err != nil {
			return false, fault.Wrap(fault.Unavailable, fmt.Errorf("check speech of reply %s: %w", r.ID, err), "database unavailable")
		}
		if !late {
			return false, snooze
		}
		if _, err := p.DB.Exec(ctx, `UPDATE replies SET voice_status = 'failed', voice_error = $2
			WHERE id = $1 AND voice_status = 'pending'`, r.ID, "the spoken reply was not ready in time"); err != nil {
			return false, fault.Wrap(fault.Unavailable, fmt.Errorf("record speech of reply %s: %w", r.ID, err), "database unavailable")
		}
		logging.From(ctx).Warn().Msg("spoken reply not ready in time; posting text alone")
		return true, nil
	}
	var j jobs.Job
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE replies SET voice_status = 'pending', voice_requested_at = now()
			WHERE id = $1 AND status = 'pending' AND voice_status IS NULL`, r.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		j, err = jobs.Enqueue(ctx, tx, jobs.Synthesize, jobs.ReplySubject(r.ID), logging.Trace(ctx))
		return err
	})
	if err != nil {
		return false, fault.Wrap(fault.Unavailable, fmt.Errorf("queue speech of reply %s: %w", r.ID, err), "database unavailable")
	}
	if j.ID != "" && p.Invoker != nil {
		jobs.Dispatch(ctx, p.Invoker, []jobs.Job{j})
	}
	logging.From(ctx).Info().Msg("reply waits for its spoken clip")
	return false, snooze
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
