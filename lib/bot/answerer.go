// Package bot is Concierge's Chatwoot agent bot: the intake that stores
// every event before acknowledging it, and the answerer that, once a burst
// of guest messages has settled, decides the reply and hands it to
// chatwoot-reply.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/voice"
)

// Modes of an inbox.
const (
	ModeAuto  = "auto"  // reply to the guest
	ModeDraft = "draft" // a private note an agent can send
	ModeOff   = "off"   // stay silent
)

// ParseModes reads "4=auto,7=draft,9=off".
func ParseModes(s string) (map[int64]string, error) {
	out := map[int64]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, mode, ok := strings.Cut(part, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		mode = strings.TrimSpace(mode)
		if !ok || err != nil || (mode != ModeAuto && mode != ModeDraft && mode != ModeOff) {
			return nil, fmt.Errorf("inbox mode %q: want inbox_id=auto|draft|off", part)
		}
		out[n] = mode
	}
	return out, nil
}

// Answerer answers a conversation's unanswered guest messages.
type Answerer struct {
	DB      *pgxpool.Pool
	Engine  *answer.Engine
	Invoker jobs.Invoker
	// Burst is how long to wait after the newest guest message for more.
	Burst       time.Duration
	Modes       map[int64]string
	DefaultMode string
	Now         func() time.Time
	Sleep       func(ctx context.Context, d time.Duration) error
	// HistoryTurns is how many earlier messages go into the prompt.
	HistoryTurns int
	// Attempts is the answer job's MaxAttempts: before the last, a passing
	// model or index outage is retried; on it, the conversation is handed
	// off. 0 hands off at once.
	Attempts int
	// Verify bounds identity checks by confirmation code and last name.
	Verify VerifyLimits
}

// Outcome of one answer job.
type Outcome struct {
	Status  string `json:"status"` // replied, silent, nothing
	Mode    string `json:"mode,omitempty"`
	Reason  string `json:"reason,omitempty"`
	ReplyID string `json:"reply_id,omitempty"`
}

type conversation struct {
	inbox *int64
	// language: the guest's language detected from earlier messages;
	// hint: Chatwoot's (browser_language). Either may be nil.
	language *string
	hint     *string
	guestID  *string // proven; nil for a stranger or an unproven claim
	status   *string
	handedAt *time.Time
	claimed  *string
	proof    *string
	// asked: the guest message whose question waits for proof of identity.
	asked *int64
}

func (a *Answerer) load(ctx context.Context, account, id int64) (conversation, error) {
	var c conversation
	err := a.DB.QueryRow(ctx, `SELECT inbox_id, guest_id, status, handed_off_at, claimed_guest_id, verified_by, verify_asked_message_id,
			language, language_hint
		FROM conversations WHERE account_id = $1 AND id = $2`, account, id).Scan(&c.inbox, &c.guestID, &c.status, &c.handedAt,
		&c.claimed, &c.proof, &c.asked, &c.language, &c.hint)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fault.New(fault.NotFound, "no conversation %d:%d", account, id)
	}
	if err != nil {
		return c, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	return c, nil
}

type inbound struct {
	id   int64
	text string
	at   time.Time
	// voice: a transcribed voice message; voiceErr: why one was not.
	voice    bool
	voiceErr string
	// transcribing: a voice message whose transcription is still under
	// way (its stt job is active and it is younger than VoiceWait).
	transcribing bool
}

// VoiceWait bounds how long an answer waits for a voice message's
// transcript; after it, the voice message counts as not transcribed and
// the conversation is handed off, so a stuck stt never means silence.
const VoiceWait = 10 * time.Minute

// voiceRecheck is how soon a waiting answer looks again; stt queues the
// answer itself when it finishes, so this only matters if that is lost.
const voiceRecheck = 30 * time.Second

// Run answers the conversation of job.
func (a *Answerer) Run(ctx context.Context, job jobs.Claimed) (any, error) {
	account, id, err := jobs.ParseConversationSubject(job.Subject)
	if err != nil {
		return nil, err
	}
	log := logging.From(ctx).With().Int64("account_id", account).Int64("conversation_id", id).Logger()
	ctx = logging.WithLogger(ctx, log)
	c, err := a.load(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if silent, why := a.silent(c); silent {
		return Outcome{Status: "silent", Reason: why}, nil
	}
	mode := a.DefaultMode
	if c.inbox != nil {
		if m, ok := a.Modes[*c.inbox]; ok {
			mode = m
		}
	}
	if mode == ModeOff {
		return Outcome{Status: "silent", Reason: "inbox mode off"}, nil
	}
	// Let a burst settle: wait until no guest message is newer than Burst.
	// Both times are the database's, so the function's clock cannot skew it.
	for i := 0; i < 20; i++ {
		var wait float64
		if err := a.DB.QueryRow(ctx, `SELECT COALESCE(EXTRACT(EPOCH FROM max(received_at) + make_interval(secs => $3) - clock_timestamp()), 0)
			FROM messages WHERE account_id = $1 AND conversation_id = $2 AND message_type = 'incoming' AND NOT private`,
			account, id, a.Burst.Seconds()).Scan(&wait); err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		if wait <= 0 {
			break
		}
		if err := a.Sleep(ctx, time.Duration(wait*float64(time.Second))); err != nil {
			return nil, fault.Wrap(fault.Unavailable, err, "interrupted while waiting for the burst to settle")
		}
	}
	// Re-read: a person may have taken over while we waited.
	if c, err = a.load(ctx, account, id); err != nil {
		return nil, err
	}
	if silent, why := a.silent(c); silent {
		return Outcome{Status: "silent", Reason: why}, nil
	}
	pending, history, err := a.messages(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return Outcome{Status: "nothing", Reason: "every guest message is answered"}, nil
	}
	// A voice message sent with a text one must not be answered before it
	// is heard: the answer would skip it for good.
	for _, m := range pending {
		if m.transcribing {
			return nil, &jobs.NotReady{Wait: voiceRecheck, Reason: fmt.Sprintf("voice message %d is being transcribed", m.id)}
		}
	}
	var q []string
	wantAudio, voiceErr := false, ""
	for _, m := range pending {
		if strings.TrimSpace(m.text) != "" {
			q = append(q, m.text)
		}
		wantAudio = wantAudio || m.voice
		if m.voiceErr != "" {
			voiceErr = m.voiceErr
		}
	}
	l, err := a.language(ctx, account, id, c, strings.Join(q, "\n"))
	if err != nil {
		return nil, err
	}
	guestID := deref(c.guestID)
	var v verification
	if guestID == "" && c.asked != nil {
		// The guest was asked who they are: their answer is checked here,
		// never sent to the model or the index.
		if v, err = a.verify(ctx, account, id, pending); err != nil {
			return nil, err
		}
		if v.verdict == verified {
			guestID = v.guest
			// Answer the question that waited for the proof, with whatever
			// else the guest asked since.
			q, err = a.waiting(ctx, account, *c.asked, v.rest)
			if err != nil {
				return nil, err
			}
		}
	}
	now := a.Now()
	access, err := guests.For(ctx, a.DB, guestID, now)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	var res answer.Result
	switch {
	case v.verdict == exhausted:
		res = answer.Result{Handoff: true, Reason: v.reason, Language: l}
	case v.verdict == mismatch:
		res = answer.Result{Text: lang.Mismatch(l, v.left), Language: l, Reason: "identity check failed"}
	case v.verdict == verified && len(q) == 0:
		res = answer.Result{Text: lang.Verified.In(l) + " " + lang.HowCanIHelp.In(l), Language: l, Reason: "identity verified"}
	case len(q) == 0 && voiceErr != "" && voice.GuestFixable(voiceErr):
		// Only an unreadable voice message: say so, in text.
		res = answer.Result{Text: explainVoice(l, voiceErr), Language: l, Reason: voiceErr}
	case voiceErr != "" && !voice.GuestFixable(voiceErr):
		// Even beside a typed question: a person should hear what the
		// voice message said.
		res = answer.Result{Handoff: true, Reason: "the guest's voice message could not be transcribed (" + voiceErr + ")", Language: l}
	default:
		res = a.Engine.Answer(ctx, answer.Request{Question: strings.Join(q, "\n"), History: history, Access: access, Now: now,
			MayRetry: job.Attempt < a.Attempts, Unverified: guestID == "", Identity: identityNote(c, guestID), Language: l})
		if res.Retry != nil {
			why := "the model or the index is unavailable; the answer is retried"
			if errors.Is(res.Retry, llm.ErrMisconfigured) {
				why = "the answer is retried until the setting is fixed"
			}
			return nil, fault.Wrap(fault.Unavailable, res.Retry, why)
		}
		if voiceErr != "" && !res.Handoff {
			// The typed question is answered; the voice message's problem
			// is said too, so it is not silently skipped.
			res.Text += "\n\n" + explainVoice(l, voiceErr)
		}
		if v.verdict == verified && !res.Handoff {
			res.Text = lang.Verified.In(l) + "\n\n" + res.Text
		}
	}
	// Tell the guest a person will reply only where the bot speaks to
	// guests; a draft inbox's guests never hear from the bot.
	ack := res.Handoff && mode == ModeAuto
	if res.Handoff {
		mode = "handoff"
	}
	last := pending[len(pending)-1].id
	if res.Verify {
		if err := a.ask(ctx, account, id, last); err != nil {
			return nil, err
		}
	}
	queued, err := a.store(ctx, account, id, last, mode, res, wantAudio && !res.Handoff, ack)
	if err != nil {
		return nil, err
	}
	replyID := ""
	if queued != nil {
		replyID, _ = jobs.ParseReplySubject(queued.Subject) // Insert wrote it
		jobs.Dispatch(ctx, a.Invoker, []jobs.Job{*queued})
	}
	log.Info().Str("mode", mode).Bool("handoff", res.Handoff).Str("model", res.Provenance.Model).Msg("reply decided")
	return Outcome{Status: "replied", Mode: mode, Reason: res.Reason, ReplyID: replyID}, nil
}

func (a *Answerer) silent(c conversation) (bool, string) {
	switch {
	case c.handedAt != nil:
		return true, "handed off to a person"
	case c.status != nil && *c.status != "pending":
		return true, "conversation is " + *c.status + ": a person owns it"
	}
	return false, ""
}

// messages returns the guest messages after the last answered one, and the
// turns before them for context.
func (a *Answerer) messages(ctx context.Context, account, id int64) ([]inbound, []answer.Turn, error) {
	var lastAnswered int64
	if err := a.DB.QueryRow(ctx, `SELECT COALESCE(max(inbound_message_id), 0) FROM replies WHERE account_id = $1 AND conversation_id = $2`,
		account, id).Scan(&lastAnswered); err != nil {
		return nil, nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	// unheard: a voice message (audio, no text) with neither a transcript
	// nor a recorded failure; transcribing: its stt job is still active
	// and it is recent (database clock).
	rows, err := a.DB.Query(ctx, `SELECT id, message_type, COALESCE(sender_type, ''), COALESCE(content, ''), COALESCE(transcript, ''), COALESCE(voice_error, ''), created_at,
			unheard, unheard AND received_at > clock_timestamp() - make_interval(secs => $4) AND EXISTS (
				SELECT 1 FROM jobs j WHERE j.kind = $5 AND j.subject = 'message:' || m.account_id || ':' || m.id
					AND j.status IN `+jobs.ActiveStatuses+`)
		FROM messages m, LATERAL (SELECT message_type = 'incoming' AND transcript IS NULL AND voice_error IS NULL
				AND COALESCE(content, '') = '' AND attachments @> '[{"file_type": "audio"}]') AS u(unheard)
		WHERE account_id = $1 AND conversation_id = $2 AND NOT private AND message_type IN ('incoming', 'outgoing')
			AND NOT EXISTS (SELECT 1 FROM identity_checks ic WHERE ic.account_id = m.account_id AND ic.message_id = m.id)
		ORDER BY id DESC LIMIT $3`, account, id, 100, VoiceWait.Seconds(), jobs.Transcribe.Name)
	if err != nil {
		return nil, nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	defer rows.Close()
	var pending []inbound
	var history []answer.Turn
	for rows.Next() {
		var (
			mid                                     int64
			typ, sender, text, transcript, voiceErr string
			at                                      time.Time
			unheard, transcribing                   bool
		)
		if err := rows.Scan(&mid, &typ, &sender, &text, &transcript, &voiceErr, &at, &unheard, &transcribing); err != nil {
			return nil, nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		if unheard && !transcribing {
			// Its stt job ended without recording an outcome, or took
			// longer than VoiceWait: a person should listen.
			voiceErr = voice.ErrFailedPrefix + "the voice message was not transcribed in time"
		}
		spoken := text == "" && transcript != ""
		if text == "" {
			text = transcript
		}
		if typ == "incoming" && mid > lastAnswered {
			pending = append([]inbound{{id: mid, text: text, at: at, voice: spoken, voiceErr: voiceErr, transcribing: transcribing}}, pending...)
			continue
		}
		if len(history) >= a.HistoryTurns || text == "" {
			continue
		}
		from := "guest"
		if typ == "outgoing" {
			from = "agent"
			if sender == "agent_bot" {
				from = "assistant"
			}
		}
		history = append([]answer.Turn{{From: from, Text: text}}, history...)
	}
	return pending, history, rows.Err()
}

// store writes the reply and its chatwoot-reply job in one transaction. A
// repeated run finds the reply of the same last guest message and queues
// nothing new.
func (a *Answerer) store(ctx context.Context, account, conv, inboundID int64, mode string, res answer.Result, wantAudio, ack bool) (*jobs.Job, error) {
	cites, _ := json.Marshal(res.Citations)
	prov, _ := json.Marshal(res.Provenance)
	r := replies.Reply{
		AccountID: account, ConversationID: conv, InboundMessageID: inboundID, Mode: replies.Mode(mode),
		Content: res.Text, Language: res.Language, Citations: cites, Provenance: prov, WantAudio: wantAudio, Acknowledge: ack,
	}
	if res.Handoff {
		r.HandoffReason = res.Reason
	}
	var queued *jobs.Job
	err := pgx.BeginFunc(ctx, a.DB, func(tx pgx.Tx) error {
		j, err := replies.Insert(ctx, tx, r)
		if errors.Is(err, replies.ErrDuplicate) {
			return nil
		}
		if err != nil {
			return err
		}
		queued = &j
		return nil
	})
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("store reply: %w", err), "database unavailable")
	}
	return queued, nil
}

// language decides what the reply is written in (lang.Choose): what the
// guest's pending messages are written in, else the conversation's earlier
// language, then Chatwoot's hint, then English. A detected language is
// kept for the conversation's next short message.
func (a *Answerer) language(ctx context.Context, account, conv int64, c conversation, text string) (string, error) {
	l, fromText := lang.Choose(text, deref(c.language), deref(c.hint))
	if fromText && l != deref(c.language) {
		if _, err := a.DB.Exec(ctx, `UPDATE conversations SET language = $3, updated_at = now() WHERE account_id = $1 AND id = $2`,
			account, conv, l); err != nil {
			return "", fault.Wrap(fault.Unavailable, fmt.Errorf("record conversation language: %w", err), "database unavailable")
		}
		logging.From(ctx).Debug().Str("language", l).Msg("conversation language detected")
	}
	return l, nil
}

// explainVoice says why a voice message was not heard: in English with
// the reason (lib/voice), in the other languages without it, since the
// reason is English free text.
func explainVoice(l, voiceErr string) string {
	if l == lang.EN {
		return voice.Explain(voiceErr)
	}
	return lang.VoiceUnreadable.In(l)
}

// ask records that the guest was asked to prove who they are: their next
// messages are checked for a confirmation code and last name.
func (a *Answerer) ask(ctx context.Context, account, conv, message int64) error {
	if _, err := a.DB.Exec(ctx, `UPDATE conversations SET verify_asked_message_id = $3, updated_at = now()
		WHERE account_id = $1 AND id = $2 AND guest_id IS NULL`, account, conv, message); err != nil {
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	return nil
}

// waiting is the question that waited for the proof (the message the bot
// asked after, and the guest's messages up to it that were no attempt),
// followed by rest.
func (a *Answerer) waiting(ctx context.Context, account, message int64, rest []string) ([]string, error) {
	var text string
	err := a.DB.QueryRow(ctx, `SELECT COALESCE(NULLIF(content, ''), transcript, '') FROM messages WHERE account_id = $1 AND id = $2`,
		account, message).Scan(&text)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	var q []string
	if strings.TrimSpace(text) != "" {
		q = append(q, text)
	}
	return append(q, rest...), nil
}

// identityNote tells the person who takes over how the contact is known.
func identityNote(c conversation, guest string) string {
	switch {
	case guest != "" && c.proof != nil:
		return "Identity: verified (" + *c.proof + ")."
	case guest != "":
		return "Identity: verified by confirmation code and last name."
	case c.claimed != nil:
		return "Identity: NOT verified. The contact claims to be Guesty guest " + *c.claimed + "; check before sharing anything about a stay."
	}
	return ""
}
