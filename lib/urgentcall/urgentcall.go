// Package urgentcall tells the team at once when a guest who arrives today
// or tomorrow called and nobody answered: the missed call (or voicemail)
// becomes an urgent Chatwoot conversation, or a private note in the
// guest's open one, with the call, the stay and its access details, and
// later the voicemail and its transcript. Nothing is sent to the guest:
// only private notes, the priority and the status.
//
// aircall-hook queues an urgent-call job (jobs.UrgentCall, subject
// call:<id>) with every event of an inbound call that ended unanswered;
// chatwoot-reply runs it. The guest is the one whose phone is the caller's
// number and who has a stay checking in that day or the next in the
// listing's time zone; anyone else gets nothing.
package urgentcall

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// SettingInboxID is the inbox an urgent conversation is opened in.
var SettingInboxID = config.Register(config.Setting{Name: "URGENT_CALL_INBOX_ID",
	Help: "Chatwoot inbox (an API channel, e.g. \"Urgent calls\", so nothing can reach the guest) where a missed call from a guest arriving today or tomorrow opens an urgent conversation when the guest has no open one; empty: CHATWOOT_CONTACT_INBOX_ID", Used: "chatwoot-reply"})

// Bounds of the flow.
const (
	// claimStale is how long a claim protects a post: longer than the
	// job's lease, so only a dead attempt's claim is taken over.
	claimStale = 3 * time.Minute
	// claimWait is how soon a job that found another's fresh claim looks
	// again.
	claimWait = 30 * time.Second
	// transcriptRecheck is how often a posted urgent call looks for its
	// voicemail's transcript while the transcription is on its way.
	transcriptRecheck = 2 * time.Minute
	// maxTranscriptWait bounds that wait from the call: stt transcribes a
	// recording CALL_TRANSCRIPT_WAIT (10 min) after the call, and Aircall's
	// signed link lasts about an hour.
	maxTranscriptWait = time.Hour
	// maxErrorChars bounds the failure kept on the row.
	maxErrorChars = 500
	// callIDAttr is the conversation custom attribute naming the call: an
	// attempt after one whose outcome is unknown finds the conversation
	// that attempt may have opened.
	callIDAttr = "aircall_call_id"
)

// ContactLinker gives the guest's Chatwoot contact: contact sync
// (contactsync.Syncer) finds, creates or updates it and stores the link.
type ContactLinker interface {
	Sync(ctx context.Context, guestID string) (contactsync.Result, error)
}

// Notifier runs urgent-call jobs.
type Notifier struct {
	DB *pgxpool.Pool
	// Chat posts notes, opens conversations and sets their priority and
	// status (the agent bot's token may do all of it); nil keeps urgent
	// calls in the database only (make run without Chatwoot).
	Chat *chatwoot.Client
	// People is a user token's client (the contacts token), which may list
	// a contact's conversations and a conversation's messages: it finds
	// what an attempt whose outcome is unknown posted. Nil: such an
	// attempt posts again.
	People *chatwoot.Client
	// Contacts links the guest to a Chatwoot contact.
	Contacts ContactLinker
	// AccountID and InboxID are where conversations are opened.
	AccountID, InboxID int64
	// Fields are the listing's custom fields worth telling (documents).
	Fields map[string]documents.CustomField
}

// FromConfig builds a Notifier from the settings and chatwoot-reply's
// clients and contact syncer; missing or malformed settings are recorded
// in cfg.
func FromConfig(cfg *config.Config, db *pgxpool.Pool, clients chatwoot.Clients, contacts ContactLinker) (*Notifier, error) {
	fields, err := documents.ParseCustomFields(cfg.String(documents.SettingCustomFields))
	if err != nil {
		return nil, fmt.Errorf("configuration: %s: %w", documents.SettingCustomFields.Name, err)
	}
	n := &Notifier{DB: db, Chat: clients.Replies, Contacts: contacts, Fields: fields}
	if clients.Contacts != nil && clients.Contacts != clients.Replies {
		n.People = clients.Contacts
	}
	if n.Chat == nil {
		return n, nil
	}
	n.AccountID = n.Chat.AccountID()
	inbox := SettingInboxID
	if cfg.String(SettingInboxID) == "" {
		inbox = contactsync.SettingInboxID
	}
	if raw := cfg.String(inbox); raw == "" {
		cfg.Require(inbox)
	} else if n.InboxID = int64(cfg.Int(inbox)); n.InboxID <= 0 {
		return nil, fmt.Errorf("configuration: %s: must be a positive inbox id, got %s", inbox.Name, raw)
	}
	return n, nil
}

// Outcomes of a job.
const (
	OutcomeNotified = "notified" // the team has it (this run posted, or it was posted before)
	OutcomeSkipped  = "skipped"  // not an urgent call: Reason says why
	OutcomeLocal    = "local"    // recorded; Chatwoot is not configured
)

// Result is what a job did, for its response: ids only.
type Result struct {
	CallID         int64    `json:"call_id"`
	Outcome        string   `json:"outcome"`
	Reason         string   `json:"reason,omitempty"`
	ConversationID int64    `json:"conversation_id,omitempty"`
	Opened         bool     `json:"opened,omitempty"`
	Posted         []string `json:"posted,omitempty"`
}

// row is an urgent_calls row.
type row struct {
	guestID, reservationID string
	conversationID         int64
	opened                 bool
	noted                  []string
	noteIDs                []int64
	claim, claimPart       string
	priority               bool
	status                 string
}

func (r row) has(part string) bool { return slices.Contains(r.noted, part) }

// Job is the urgent-call job's work: the call its subject names
// (jobs.CallSubject) told to the team once, part by part.
//
// Idempotent: each part is claimed before it is posted and recorded as
// soon as Chatwoot answers, so a redelivered event or a replayed job posts
// nothing twice; an attempt after one whose outcome is unknown first looks
// for what it posted. Chatwoot's 429 and 5xx come back as
// fault.Unavailable with its Retry-After, which the job's back-off honours;
// the last attempt marks the row failed (a replay tries again).
func (n *Notifier) Job(ctx context.Context, job jobs.Claimed) (Result, error) {
	id, err := jobs.ParseCallSubject(job.Subject)
	if err != nil {
		return Result{}, err
	}
	res := Result{CallID: id}
	log := logging.From(ctx).With().Int64("call_id", id).Logger()
	ctx = logging.WithLogger(ctx, log)

	c, err := loadCall(ctx, n.DB, id)
	if errors.Is(err, errGone) {
		res.Outcome, res.Reason = OutcomeSkipped, ReasonCallGone
		return res, nil
	}
	if err != nil {
		return res, err
	}
	r, found, err := n.load(ctx, id)
	if err != nil {
		return res, err
	}
	var s *stay
	if !found {
		if !c.missed() {
			res.Outcome, res.Reason = OutcomeSkipped, ReasonNotMissed
			return res, nil
		}
		var reason string
		if s, reason, err = identify(ctx, n.DB, c); err != nil {
			return res, err
		}
		if s == nil {
			log.Info().Str("reason", reason).Msg("missed call is not urgent")
			res.Outcome, res.Reason = OutcomeSkipped, reason
			return res, nil
		}
		if r, err = n.record(ctx, c, s); err != nil {
			return res, err
		}
		log.Info().Str("guest_id", s.guestID).Str("reservation_id", s.reservationID).Msg("urgent missed call")
	} else {
		name, err := guestName(ctx, n.DB, r.guestID)
		if err != nil {
			return res, err
		}
		ss, err := stays(ctx, n.DB, r.guestID, r.reservationID, name)
		if err != nil {
			return res, err
		}
		if len(ss) == 0 {
			// The reservation was erased meanwhile: nothing left to tell.
			res.Outcome, res.Reason = OutcomeSkipped, ReasonNoStay
			return res, nil
		}
		s = &ss[0]
	}
	res.ConversationID, res.Opened = r.conversationID, r.opened
	if n.Chat == nil {
		if _, err := n.DB.Exec(ctx, `UPDATE urgent_calls SET status = 'local', updated_at = now() WHERE call_id = $1 AND status = 'pending'`, id); err != nil {
			return res, unavailable(err, "record urgent call")
		}
		log.Info().Msg("urgent call recorded; CHATWOOT_URL is not set, so nobody is told")
		res.Outcome = OutcomeLocal
		return res, nil
	}
	chat := n.Chat.ForAccount(n.AccountID)

	posted, err := n.post(ctx, chat, job, c, s, &r)
	res.Posted = posted
	res.ConversationID, res.Opened = r.conversationID, r.opened
	if err != nil {
		return n.fail(ctx, res, job, err)
	}
	if !r.priority {
		// Urgent for the team: the priority is what the inbox lists by.
		if err := chat.TogglePriority(ctx, r.conversationID, chatwoot.PriorityUrgent); err != nil {
			return n.fail(ctx, res, job, fmt.Errorf("mark conversation urgent: %w", err))
		}
		if r.opened {
			// Opened in an inbox with the agent bot, it starts pending:
			// the bot hands it over (pending to open) so a person sees it.
			if _, err := chat.ToggleStatus(ctx, r.conversationID, chatwoot.StatusOpen); err != nil {
				return n.fail(ctx, res, job, fmt.Errorf("open the urgent conversation: %w", err))
			}
		}
		if _, err := n.DB.Exec(ctx, `UPDATE urgent_calls SET priority_set_at = now(), updated_at = now() WHERE call_id = $1`, id); err != nil {
			return res, unavailable(err, "record urgent call")
		}
		r.priority = true
	}
	if _, err := n.DB.Exec(ctx, `UPDATE urgent_calls SET status = 'posted', posted_at = COALESCE(posted_at, now()),
		last_error = NULL, updated_at = now() WHERE call_id = $1`, id); err != nil {
		return res, unavailable(err, "record urgent call")
	}
	res.Outcome = OutcomeNotified
	if len(posted) > 0 {
		log.Info().Int64("conversation_id", r.conversationID).Bool("opened", r.opened).Strs("parts", posted).Msg("urgent call told to the team")
	}
	if wait, err := n.transcriptComing(ctx, c, r); err != nil || wait {
		if err != nil {
			return res, err
		}
		return res, &jobs.NotReady{Wait: transcriptRecheck, Reason: "the voicemail's transcript is on its way"}
	}
	return res, nil
}

// load reads the call's urgent_calls row.
func (n *Notifier) load(ctx context.Context, id int64) (row, bool, error) {
	var r row
	var conv *int64
	err := n.DB.QueryRow(ctx, `SELECT guest_id, reservation_id, conversation_id, opened, noted, note_ids,
			COALESCE(post_claim, ''), COALESCE(post_part, ''), priority_set_at IS NOT NULL, status
		FROM urgent_calls WHERE call_id = $1`, id).Scan(&r.guestID, &r.reservationID, &conv, &r.opened, &r.noted,
		&r.noteIDs, &r.claim, &r.claimPart, &r.priority, &r.status)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, unavailable(err, fmt.Sprintf("load urgent call %d", id))
	}
	if conv != nil {
		r.conversationID = *conv
	}
	return r, true, nil
}

// record writes the urgent call's row once; a concurrent job's row wins.
func (n *Notifier) record(ctx context.Context, c call, s *stay) (row, error) {
	var listing *string
	if s.listingID != "" {
		listing = &s.listingID
	}
	if _, err := n.DB.Exec(ctx, `INSERT INTO urgent_calls (call_id, guest_id, reservation_id, listing_id, check_in_local, called_at, account_id)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7::bigint, 0)) ON CONFLICT (call_id) DO NOTHING`,
		c.id, s.guestID, s.reservationID, listing, s.checkIn, c.calledAt, n.AccountID); err != nil {
		return row{}, unavailable(err, "record urgent call")
	}
	r, _, err := n.load(ctx, c.id)
	return r, err
}

// post posts the parts the team has not been told yet, in order, and
// returns those this run posted.
func (n *Notifier) post(ctx context.Context, chat *chatwoot.Client, job jobs.Claimed, c call, s *stay, r *row) ([]string, error) {
	var posted []string
	want := []string{PartCall}
	if c.hasVoicemail {
		want = append(want, PartVoicemail)
	}
	if strings.TrimSpace(c.transcript) != "" {
		want = append(want, PartTranscript)
	}
	for _, part := range want {
		if r.has(part) {
			continue
		}
		parts, err := n.postPart(ctx, chat, job, c, s, r, part)
		if err != nil {
			return posted, err
		}
		posted = append(posted, parts...)
	}
	return posted, nil
}

// postPart posts one part (the call note covers what is known with it)
// under a claim, and records it.
func (n *Notifier) postPart(ctx context.Context, chat *chatwoot.Client, job jobs.Claimed, c call, s *stay, r *row, part string) ([]string, error) {
	again, err := n.claim(ctx, c.id, job, part)
	if err != nil {
		return nil, err
	}
	var content string
	parts := []string{part}
	if part == PartCall {
		if content, parts, err = n.callNote(ctx, c, s); err != nil {
			return nil, err
		}
	} else {
		content = followUp(c, part)
	}
	log := logging.From(ctx)
	if part == PartCall && r.conversationID == 0 {
		if again {
			// An earlier attempt may have opened the conversation.
			conv, mid, err := n.findOpened(ctx, c.id, r.guestID)
			if err != nil {
				return nil, err
			}
			if conv != 0 {
				log.Info().Int64("conversation_id", conv).Msg("an earlier attempt opened the urgent conversation")
				r.conversationID, r.opened = conv, true
				return parts, n.noted(ctx, c.id, r, parts, mid, true)
			}
		}
		conv, err := n.openConversation(ctx, chat, r.guestID)
		if err != nil {
			return nil, err
		}
		if conv != 0 {
			// The guest's open conversation: remembered before the note
			// goes, so a retry looks for the note there.
			if _, err := n.DB.Exec(ctx, `UPDATE urgent_calls SET conversation_id = $2, opened = false, updated_at = now() WHERE call_id = $1`, c.id, conv); err != nil {
				return nil, unavailable(err, "record urgent call")
			}
			r.conversationID = conv
			again = false // nothing was posted there before
		} else {
			created, err := n.create(ctx, chat, c, r.guestID, content)
			if err != nil {
				n.release(ctx, c.id, job, err)
				return nil, err
			}
			var mid int64
			if len(created.Messages) > 0 {
				mid = created.Messages[len(created.Messages)-1].ID
			}
			r.conversationID, r.opened = created.ID, true
			return parts, n.noted(ctx, c.id, r, parts, mid, true)
		}
	}
	if again {
		mid, err := n.findNote(ctx, r.conversationID, c.id, part)
		if err != nil {
			return nil, err
		}
		if mid != 0 {
			log.Info().Int64("chatwoot_message_id", mid).Str("part", part).Msg("an earlier attempt posted the note")
			return parts, n.noted(ctx, c.id, r, parts, mid, false)
		}
	}
	msg, err := chat.PostMessage(ctx, r.conversationID, chatwoot.NewMessage{Content: content, Private: true})
	if err != nil {
		n.release(ctx, c.id, job, err)
		return nil, fmt.Errorf("post urgent note: %w", err)
	}
	return parts, n.noted(ctx, c.id, r, parts, msg.ID, false)
}

// claim makes job the one that posts part of call id. It reports whether
// an earlier attempt (of this job, or one whose claim went stale) may have
// posted it already. Another job's fresh claim makes this one wait.
func (n *Notifier) claim(ctx context.Context, id int64, job jobs.Claimed, part string) (again bool, err error) {
	err = n.DB.QueryRow(ctx, `
		WITH old AS (SELECT post_claim, post_part, post_started_at FROM urgent_calls WHERE call_id = $1 FOR UPDATE)
		UPDATE urgent_calls SET post_claim = $2, post_part = $3, post_started_at = now(), updated_at = now()
		FROM old
		WHERE urgent_calls.call_id = $1 AND (old.post_claim IS NULL OR old.post_claim = $2
			OR old.post_started_at < now() - make_interval(secs => $4))
		RETURNING old.post_claim IS NOT NULL AND old.post_part = $3`, id, job.ID, part, claimStale.Seconds()).Scan(&again)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, &jobs.NotReady{Wait: claimWait, Reason: "another job is posting this urgent call"}
	}
	if err != nil {
		return false, unavailable(err, fmt.Sprintf("claim urgent call %d", id))
	}
	return again, nil
}

// release drops job's claim when Chatwoot answered with a refusal or a
// rate limit: nothing was posted, so the retry need not look for it. After
// an unknown outcome (5xx, a lost connection) the claim stays.
func (n *Notifier) release(ctx context.Context, id int64, job jobs.Claimed, cause error) {
	if st := chatwoot.StatusOf(cause); st < 400 || st > 499 {
		return
	}
	if _, err := n.DB.Exec(context.WithoutCancel(ctx), `UPDATE urgent_calls SET post_claim = NULL, post_part = NULL,
		post_started_at = NULL WHERE call_id = $1 AND post_claim = $2`, id, job.ID); err != nil {
		logging.From(ctx).Warn().Err(err).Msg("could not release the urgent call's claim")
	}
}

// noted records parts as posted (message mid, 0 when unknown) and drops
// the claim; opened says the conversation was opened for this call.
func (n *Notifier) noted(ctx context.Context, id int64, r *row, parts []string, mid int64, opened bool) error {
	_, err := n.DB.Exec(ctx, `UPDATE urgent_calls SET conversation_id = $2, opened = opened OR $3,
			noted = ARRAY(SELECT p FROM unnest(noted || $4::text[]) WITH ORDINALITY AS u(p, o) GROUP BY p ORDER BY min(o)),
			note_ids = note_ids || $5::bigint,
			post_claim = NULL, post_part = NULL, post_started_at = NULL, updated_at = now()
		WHERE call_id = $1`, id, r.conversationID, opened, parts, mid)
	if err != nil {
		// Posted but not recorded: the claim stays, and the retry finds
		// the note before posting again.
		return unavailable(err, "record urgent note")
	}
	for _, p := range parts {
		if !r.has(p) {
			r.noted = append(r.noted, p)
		}
	}
	r.noteIDs = append(r.noteIDs, mid)
	return nil
}

// openConversation returns the guest's open conversation, or 0: the newest
// one the bot proved is this guest's (conversations.guest_id holds proven
// links only), when Chatwoot still has it open.
func (n *Notifier) openConversation(ctx context.Context, chat *chatwoot.Client, guestID string) (int64, error) {
	rows, err := n.DB.Query(ctx, `SELECT id FROM conversations WHERE account_id = $1 AND guest_id = $2 AND status = 'open'
		ORDER BY updated_at DESC, id DESC LIMIT 3`, n.AccountID, guestID)
	if err != nil {
		return 0, unavailable(err, "find the guest's open conversation")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, unavailable(err, "find the guest's open conversation")
	}
	for _, id := range ids {
		conv, err := chat.GetConversation(ctx, id)
		switch {
		case err == nil:
			if conv.Status == string(chatwoot.StatusOpen) {
				return id, nil
			}
		case chatwoot.BotRefused(err):
			// Chatwoot before 4.14.2 keeps the bot from reading a
			// conversation: the status the bot last saw stands.
			return id, nil
		case chatwoot.StatusOf(err) == http.StatusNotFound:
		default:
			return 0, fmt.Errorf("read the guest's conversation: %w", err)
		}
	}
	return 0, nil
}

// create opens the urgent conversation for the guest's contact with the
// note as its first message.
func (n *Notifier) create(ctx context.Context, chat *chatwoot.Client, c call, guestID, note string) (chatwoot.Conversation, error) {
	contact, err := n.contact(ctx, guestID)
	if err != nil {
		return chatwoot.Conversation{}, err
	}
	conv, err := chat.CreateConversation(ctx, chatwoot.NewConversation{
		ContactID: contact, InboxID: n.InboxID, Status: chatwoot.StatusOpen,
		CustomAttributes: map[string]any{callIDAttr: strconv.FormatInt(c.id, 10)},
		Message:          &chatwoot.NewMessage{Content: note, Private: true},
	})
	if err != nil {
		return conv, fmt.Errorf("open the urgent conversation: %w", err)
	}
	return conv, nil
}

// contact is the guest's Chatwoot contact id, through contact sync.
func (n *Notifier) contact(ctx context.Context, guestID string) (int64, error) {
	if n.Contacts == nil {
		return 0, fault.New(fault.Permanent, "no contact sync to find the guest's Chatwoot contact")
	}
	res, err := n.Contacts.Sync(ctx, guestID)
	if err != nil {
		return 0, fmt.Errorf("the guest's Chatwoot contact: %w", err)
	}
	if res.ContactID == 0 {
		return 0, fault.New(fault.Permanent, "the guest has no Chatwoot contact: %s", res.Reason)
	}
	return res.ContactID, nil
}

// findOpened looks for the conversation an earlier attempt may have opened
// for call id (its custom attribute) among the contact's, through the
// user token; 0 when there is none or it cannot be asked.
func (n *Notifier) findOpened(ctx context.Context, id int64, guestID string) (conv, mid int64, err error) {
	if n.People == nil {
		return 0, 0, nil
	}
	contact, err := n.contact(ctx, guestID)
	if err != nil {
		return 0, 0, err
	}
	list, err := n.People.ForAccount(n.AccountID).ContactConversations(ctx, contact)
	if err != nil {
		if fault.Retryable(err) {
			return 0, 0, fmt.Errorf("look for the urgent conversation: %w", err)
		}
		logging.From(ctx).Debug().Err(err).Msg("could not list the contact's conversations; opening one")
		return 0, 0, nil
	}
	want := strconv.FormatInt(id, 10)
	for _, cv := range list {
		if fmt.Sprint(cv.CustomAttributes[callIDAttr]) != want {
			continue
		}
		for _, m := range cv.Messages {
			if m.Private && strings.HasSuffix(m.Text(), ref(id, PartCall)) {
				mid = m.ID
			}
		}
		return cv.ID, mid, nil
	}
	return 0, 0, nil
}

// findNote looks for the note of part an earlier attempt may have posted
// in conversation conv: among the messages the bot's webhook stored, then
// those the user token may list. 0 when there is none.
func (n *Notifier) findNote(ctx context.Context, conv, id int64, part string) (int64, error) {
	var mid int64
	err := n.DB.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM messages WHERE account_id = $1 AND conversation_id = $2
		AND private AND right(content, length($3)) = $3`, n.AccountID, conv, ref(id, part)).Scan(&mid)
	if err != nil {
		return 0, unavailable(err, "look for the urgent note")
	}
	if mid != 0 || n.People == nil {
		return mid, nil
	}
	msgs, err := n.People.ForAccount(n.AccountID).ListMessages(ctx, conv, chatwoot.ListMessages{})
	if err != nil {
		if fault.Retryable(err) {
			return 0, fmt.Errorf("look for the urgent note: %w", err)
		}
		logging.From(ctx).Debug().Err(err).Msg("could not list messages to look for the urgent note; posting")
		return 0, nil
	}
	for _, m := range msgs {
		if m.Private && strings.HasSuffix(m.Text(), ref(id, part)) {
			mid = m.ID
		}
	}
	return mid, nil
}

// transcriptComing reports whether the call's transcript is on its way
// and worth waiting for: the call has audio, no transcript or failure yet,
// a transcribe-call job that may still run, and the wait is within
// maxTranscriptWait of the call (the database clock decides).
func (n *Notifier) transcriptComing(ctx context.Context, c call, r row) (bool, error) {
	if !c.hasAudio || r.has(PartTranscript) || strings.TrimSpace(c.transcript) != "" || c.transcriptFailed {
		return false, nil
	}
	var coming bool
	err := n.DB.QueryRow(ctx, `SELECT $3::timestamptz > now() - make_interval(secs => $4)
		AND EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND subject = $2 AND status IN `+jobs.ActiveStatuses+`)`,
		jobs.TranscribeCall.Name, jobs.CallSubject(c.id), c.calledAt, maxTranscriptWait.Seconds()).Scan(&coming)
	if err != nil {
		return false, unavailable(err, "look for the call's transcription")
	}
	return coming, nil
}

// fail records err on the row when the job will not run again (a
// permanent error, or the last attempt), and returns it for the job.
func (n *Notifier) fail(ctx context.Context, res Result, job jobs.Claimed, err error) (Result, error) {
	var nr *jobs.NotReady
	if errors.As(err, &nr) || (fault.Retryable(err) && job.Attempt < jobs.UrgentCall.Policy.MaxAttempts) {
		return res, err
	}
	msg := err.Error()
	if len(msg) > maxErrorChars {
		msg = msg[:maxErrorChars]
	}
	if _, dberr := n.DB.Exec(context.WithoutCancel(ctx), `UPDATE urgent_calls SET status = 'failed', last_error = $2, updated_at = now()
		WHERE call_id = $1 AND status IN ('pending', 'failed')`, res.CallID, msg); dberr != nil {
		logging.From(ctx).Error().Err(dberr).Msg("could not mark the urgent call failed")
	}
	return res, err
}
