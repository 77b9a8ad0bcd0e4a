// Package aircall receives Aircall webhooks: it checks the body token,
// stores the raw event under a derived dedupe key (Aircall sends no event
// id), upserts calls and contacts so an older event never overwrites a newer
// state, attaches AI Assist transcripts and summaries to their call, and
// queues the call for re-indexing (and, for a recorded call without
// transcript, for our own transcription later).
package aircall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/identity"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/payload"
	"github.com/harborstays/concierge/lib/webhook"
)

// Event is the envelope every Aircall webhook shares.
type Event struct {
	Resource  string          `json:"resource" validate:"required"`
	Event     string          `json:"event" validate:"required"`
	Timestamp int64           `json:"timestamp" validate:"required,gt=0"`
	Token     string          `json:"token"`
	Data      json.RawMessage `json:"data" validate:"required"`
}

// Call is Aircall's call object, as its webhooks and its public API send
// it (lib/aircall/aircallapi).
type Call = aircallapi.Call

// Contact holds the fields of Aircall's contact object.
type Contact struct {
	ID           int64  `json:"id" validate:"required,gt=0"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	PhoneNumbers []struct {
		Value string `json:"value"`
	} `json:"phone_numbers"`
	Emails []struct {
		Value string `json:"value"`
	} `json:"emails"`
}

// Insight is an AI Assist (conversation intelligence) resource:
// transcription.created and summary.created carry the call's id, as a
// string, and the content.
type Insight struct {
	CallID  json.RawMessage `json:"call_id"`
	Content json.RawMessage `json:"content"`

	callID int64
	text   string
	lang   string
}

// Events of AI Assist that Concierge stores; its other events (topics,
// sentiments, action items, ...) are kept raw and ignored.
const (
	EventTranscription = "transcription.created"
	EventSummary       = "summary.created"
)

// Settings of the call transcripts.
var (
	SelfTranscribe = config.Register(config.Setting{Name: "CALL_TRANSCRIBE", Default: "true",
		Help: "transcribe a recorded call ourselves (stt) when Aircall AI Assist sends no transcript within CALL_TRANSCRIPT_WAIT", Used: "aircall-hook"})
	TranscriptWait = config.Register(config.Setting{Name: "CALL_TRANSCRIPT_WAIT", Default: "10m",
		Help: "how long after a recorded call ends to wait for Aircall's transcript before transcribing it ourselves (Aircall's recording links last about an hour)", Used: "aircall-hook"})
)

// UrgentSettle holds a missed call's urgent-call job back so that
// call.voicemail_left, which follows call.ended by seconds, lands in the
// same job and the team gets one note with the voicemail. Redrive starts
// the job at its next pass once due (it runs every minute): the team hears
// within about 80 s. A transcript comes minutes later as a second note.
const UrgentSettle = 20 * time.Second

// TranscribeDelay is how long after a recorded call ends its
// transcribe-call job waits (CALL_TRANSCRIPT_WAIT, at least a second), or 0
// when CALL_TRANSCRIBE is off: Hook.TranscribeAfter as configured.
func TranscribeDelay(cfg *config.Config) time.Duration {
	if !cfg.Bool(SelfTranscribe) {
		return 0
	}
	return max(cfg.Duration(TranscriptWait), time.Second)
}

// Hook receives Aircall deliveries.
type Hook struct {
	Store  *webhook.Store
	Region string
	// TranscribeAfter, when positive, queues a delayed transcribe-call job
	// (stt) for each recorded call that ended without a transcript; the job
	// does nothing if Aircall's transcript arrived meanwhile. Zero leaves
	// calls to Aircall AI Assist alone.
	TranscribeAfter time.Duration
	tokens          [][32]byte
}

// NewHook returns a Hook accepting any of tokens (several allow rotation).
func NewHook(store *webhook.Store, tokens []string, region string) (*Hook, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("aircall: no webhook token configured")
	}
	h := &Hook{Store: store, Region: region}
	for _, t := range tokens {
		h.tokens = append(h.tokens, sha256.Sum256([]byte(t)))
	}
	return h, nil
}

// authorized compares digests so neither the token nor its length leaks
// through timing.
func (h *Hook) authorized(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range h.tokens {
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return token != "" && ok == 1
}

// parsed is a validated delivery: the envelope and, for call and contact
// events, the resource, decoded once.
type parsed struct {
	Event
	call    *Call
	contact *Contact
	insight *Insight
}

// Decode parses and validates a delivery body without checking the token.
func Decode(body []byte) (Event, error) {
	var ev Event
	if err := payload.Unmarshal(body, &ev); err != nil {
		return ev, err
	}
	p, err := check(ev)
	return p.Event, err
}

// check validates the envelope and decodes the resource it carries.
func check(ev Event) (parsed, error) {
	p := parsed{Event: ev}
	if err := payload.Validate(ev); err != nil {
		return p, err
	}
	switch {
	case ev.Resource == "call" || strings.HasPrefix(ev.Event, "call."):
		p.call = &Call{}
		return p, decodeData(ev.Data, p.call)
	case ev.Resource == "contact" || strings.HasPrefix(ev.Event, "contact."):
		p.contact = &Contact{}
		return p, decodeData(ev.Data, p.contact)
	case ev.Event == EventTranscription || ev.Event == EventSummary:
		p.insight = &Insight{}
		if err := payload.Unmarshal(ev.Data, p.insight); err != nil {
			return p, prefix(err)
		}
		return p, p.insight.check(ev.Event)
	}
	return p, nil
}

// check validates an insight and reads its text.
func (in *Insight) check(event string) error {
	// A string per the contract; a number is accepted too.
	raw := strings.Trim(string(in.CallID), `"`)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return fault.Field("data.call_id", "must be a call id")
	}
	in.callID = id
	if len(in.Content) == 0 || string(in.Content) == "null" {
		return fault.Field("data.content", "is required")
	}
	in.text, in.lang = insightText(in.Content, event == EventTranscription)
	if strings.TrimSpace(in.text) == "" {
		return fault.Field("data.content", "holds no text Concierge can read")
	}
	return nil
}

// insightKeys are where AI Assist content that is an object holds its text,
// tried in order: utterances (a transcript), then a string or a nested
// object under the REST resources' names. Aircall's docs do not pin the
// webhook shape down, so the reader follows any of them down to
// maxInsightDepth levels rather than require one.
var insightKeys = []string{"utterances", "content", "text", "summary", "transcription", "value"}

// maxInsightDepth bounds the nesting followed: the shapes seen wrap the
// text at most twice.
const maxInsightDepth = 3

// insightText reads AI Assist content: plain text (a summary), a transcript
// object with speaker-separated utterances, which becomes one "Guest: …" /
// "Agent: …" line per utterance so retrieval can tell who promised what,
// or either wrapped in an object. A field of an unexpected type is skipped,
// not fatal: the other fields may still hold the text.
func insightText(raw json.RawMessage, transcript bool) (text, lang string) {
	return readInsight(raw, transcript, 0)
}

func readInsight(raw json.RawMessage, transcript bool, depth int) (text, lang string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || depth > maxInsightDepth {
		return "", ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s), ""
		}
	case '[':
		return utterancesText(raw, transcript), ""
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return "", ""
		}
		if l, ok := m["language"]; ok {
			_ = json.Unmarshal(l, &lang) // a language that is no string is left out
		}
		for _, k := range insightKeys {
			v, ok := m[k]
			if !ok {
				continue
			}
			var t, l string
			if k == "utterances" {
				t = utterancesText(v, transcript)
			} else {
				t, l = readInsight(v, transcript, depth+1)
			}
			if t != "" {
				if lang == "" {
					lang = l
				}
				return t, lang
			}
		}
	}
	return "", ""
}

// utterancesText renders a list of utterances (objects with text and
// participant_type, or plain strings) one per line.
func utterancesText(raw json.RawMessage, transcript bool) string {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return ""
	}
	var b strings.Builder
	for _, item := range items {
		var t, who string
		if json.Unmarshal(item, &t) != nil {
			var u map[string]json.RawMessage
			if json.Unmarshal(item, &u) != nil {
				continue
			}
			_ = json.Unmarshal(u["text"], &t)
			var participant string
			_ = json.Unmarshal(u["participant_type"], &participant)
			who = "Agent"
			if participant == "external" {
				who = "Guest"
			}
		}
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if transcript && who != "" {
			b.WriteString(who + ": ")
		}
		b.WriteString(t + "\n")
	}
	return strings.TrimSpace(b.String())
}

// decodeData validates a resource and names failing fields under "data.".
func decodeData(data json.RawMessage, v any) error {
	if err := payload.Unmarshal(data, v); err != nil {
		return prefix(err)
	}
	return prefix(payload.Validate(v))
}

func prefix(err error) error {
	if fe, ok := err.(*fault.Error); ok && fe.Field != "" {
		fe.Field = "data." + fe.Field
	}
	return err
}

// Receive authenticates, validates and stores one delivery. The body is
// decoded once (envelope, then the resource); the token is checked before
// validation, so an unauthenticated caller learns nothing about what a
// valid payload looks like.
//
// An authenticated delivery of a known event type (Known) whose body has
// an unexpected shape is not refused: Aircall retries a failing delivery
// and then disables the whole webhook, call events included. It is stored
// raw with its parse error and answered "unparsed" (200); ReplayUnparsed
// applies it once the decoder reads it. Bodies that are not a JSON object,
// a wrong token, and unknown event types are answered as before.
func (h *Hook) Receive(ctx context.Context, body []byte) (webhook.Outcome, error) {
	var ev Event
	if err := payload.Unmarshal(body, &ev); err != nil {
		env, ok := looseEnvelope(body)
		if !ok {
			// A wrong envelope from a caller without the token is still a 401.
			var t struct {
				Token string `json:"token"`
			}
			if json.Unmarshal(body, &t) == nil && !h.authorized(t.Token) {
				return "", fault.New(fault.Unauthorized, "invalid webhook token")
			}
			return "", err
		}
		if !h.authorized(env.Token) {
			return "", fault.New(fault.Unauthorized, "invalid webhook token")
		}
		if !Known(env.Event) {
			return "", err
		}
		return h.storeUnparsed(ctx, env, body, err)
	}
	if !h.authorized(ev.Token) {
		return "", fault.New(fault.Unauthorized, "invalid webhook token")
	}
	p, err := check(ev)
	if err != nil {
		if !Known(ev.Event) {
			return "", err
		}
		env, _ := looseEnvelope(body)
		return h.storeUnparsed(ctx, env, body, err)
	}
	log := logging.From(ctx).With().Str("event", ev.Event).Logger()
	ctx = logging.WithLogger(ctx, log)
	out, err := h.Store.Receive(ctx, h.delivery(p, body))
	if err == nil {
		log.Info().Str("outcome", string(out)).Msg("aircall event")
	}
	return out, err
}

// delivery is what a decoded event stores: the raw event under its dedupe
// key and, for the events Concierge acts on, the domain writes and their
// jobs. A fresh delivery and a replay of an unparsed one share it.
func (h *Hook) delivery(p parsed, body []byte) webhook.Delivery {
	d := webhook.Delivery{
		Source:    Source,
		EventType: p.Event.Event,
		DedupeKey: dedupeKey(p),
		Payload:   body,
	}
	switch {
	case strings.HasPrefix(p.Event.Event, "call.") && p.call != nil:
		d.Writes = []webhook.Write{h.callWrite(p.Event, *p.call)}
	case strings.HasPrefix(p.Event.Event, "contact.") && p.contact != nil:
		d.Writes = []webhook.Write{h.contactWrite(p.Event, *p.contact)}
	case p.insight != nil:
		d.Writes = []webhook.Write{insightWrite(p.Event, *p.insight)}
	}
	return d
}

// dedupeKey identifies a delivery: event, resource id and timestamp, plus
// a digest of the data so two different events in the same second differ.
// Whitespace is compacted first so a re-serialised retry still matches.
func dedupeKey(p parsed) string {
	var compact bytes.Buffer
	if err := json.Compact(&compact, p.Data); err != nil {
		compact.Write(p.Data)
	}
	var id string
	switch {
	case p.call != nil:
		id = strconv.FormatInt(p.call.ID, 10)
	case p.contact != nil:
		id = strconv.FormatInt(p.contact.ID, 10)
	case p.insight != nil:
		id = strconv.FormatInt(p.insight.callID, 10)
	default:
		// An event we do not model: the id as found, read the way looseKey
		// reads it, so the key does not depend on which path stored it.
		id = dataID(p.Data, "id")
	}
	return p.Event.Event + ":" + id + ":" + strconv.FormatInt(p.Timestamp, 10) + ":" + webhook.BodyKey(compact.Bytes())[:16]
}

// statusRank breaks ties between events of the same second: a call only
// moves forward from initial to answered to done.
func statusRank(status string) int {
	switch status {
	case "initial":
		return 0
	case "answered":
		return 1
	case "done":
		return 2
	default:
		return 0
	}
}

func unix(p *int64) *time.Time {
	if p == nil || *p == 0 {
		return nil
	}
	t := time.Unix(*p, 0).UTC()
	return &t
}

func jsonOr(raw json.RawMessage, def string) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return []byte(def)
	}
	return raw
}

// callWrite upserts the call unless the stored state is newer: events are
// ordered by (timestamp, status rank), so a late call.created after
// call.ended changes nothing and queues no re-index.
func (h *Hook) callWrite(ev Event, c Call) webhook.Write {
	var agent *string
	if c.User != nil && c.User.Name != "" {
		agent = &c.User.Name
	}
	var contactID *int64
	if c.Contact != nil && c.Contact.ID != 0 {
		contactID = &c.Contact.ID
	}
	return webhook.Write{
		Name: "call",
		SQL: `INSERT INTO calls (id, call_uuid, direction, status, missed_call_reason, started_at, answered_at, ended_at,
			duration, phone_e164, contact_id, agent_name, asset_url, has_recording, has_voicemail, comments, tags,
			archived, raw, last_event, event_at, status_rank, recording_url)
		SELECT @id, @call_uuid, @direction, @status, @missed, @started_at, @answered_at, @ended_at, @duration, @phone,
			@contact_id, @agent, @asset, @has_recording, @has_voicemail, @comments, @tags, @archived, @raw, @event_type,
			@event_at, @status_rank, @recording
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			call_uuid = EXCLUDED.call_uuid, direction = EXCLUDED.direction, status = EXCLUDED.status,
			missed_call_reason = EXCLUDED.missed_call_reason, started_at = EXCLUDED.started_at,
			answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at, duration = EXCLUDED.duration,
			phone_e164 = EXCLUDED.phone_e164, contact_id = EXCLUDED.contact_id, agent_name = EXCLUDED.agent_name,
			asset_url = COALESCE(EXCLUDED.asset_url, calls.asset_url),
			recording_url = COALESCE(EXCLUDED.recording_url, calls.recording_url),
			has_recording = EXCLUDED.has_recording OR calls.has_recording,
			has_voicemail = EXCLUDED.has_voicemail OR calls.has_voicemail,
			comments = EXCLUDED.comments, tags = EXCLUDED.tags, archived = EXCLUDED.archived,
			raw = EXCLUDED.raw, last_event = EXCLUDED.last_event, event_at = EXCLUDED.event_at,
			status_rank = EXCLUDED.status_rank, updated_at = now()
		WHERE (calls.event_at, calls.status_rank) <= (EXCLUDED.event_at, EXCLUDED.status_rank)
		RETURNING 'call:' || id AS subject,
			CASE WHEN status = 'done' AND recording_url IS NOT NULL AND transcript IS NULL AND transcript_error IS NULL
				THEN 'call:' || id END AS transcribe,
			CASE WHEN status = 'done' AND direction = 'inbound' AND phone_e164 IS NOT NULL
				AND (answered_at IS NULL OR missed_call_reason IS NOT NULL) THEN 'call:' || id END AS urgent`,
		Args: pgx.NamedArgs{
			"id": c.ID, "call_uuid": nullable(c.CallUUID), "direction": nullable(c.Direction), "status": nullable(c.Status),
			"missed": c.MissedCallReason, "started_at": unix(c.StartedAt), "answered_at": unix(c.AnsweredAt),
			"ended_at": unix(c.EndedAt), "duration": c.Duration, "phone": nullable(identity.Phone(c.RawDigits, h.Region)),
			"contact_id": contactID, "agent": agent, "asset": c.Asset, "has_recording": c.Recording != nil,
			"has_voicemail": c.Voicemail != nil, "comments": jsonOr(c.Comments, "[]"), "tags": jsonOr(c.Tags, "[]"),
			"archived": c.Archived, "raw": []byte(ev.Data), "event_at": time.Unix(ev.Timestamp, 0).UTC(),
			"status_rank": statusRank(c.Status), "recording": c.AudioLink(),
		},
		Jobs: h.callJobs(),
	}
}

// callJobs re-index the call, check a missed inbound call for an urgent
// note (urgent-call), and with self-transcription on, queue the delayed
// transcription of a recorded call that ended without transcript.
func (h *Hook) callJobs() []webhook.JobFrom {
	js := []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "subject"},
		// A missed inbound call may be a guest arriving today or tomorrow:
		// chatwoot-reply decides and tells the team (lib/urgentcall), once
		// the voicemail event that follows call.ended had time to join.
		{Kind: jobs.UrgentCall, Column: "urgent", Delay: UrgentSettle}}
	if h.TranscribeAfter > 0 {
		js = append(js, webhook.JobFrom{Kind: jobs.TranscribeCall, Column: "transcribe", Delay: h.TranscribeAfter})
	}
	return js
}

// insightWrite attaches an AI Assist transcript or summary to its call.
// Deliveries are unordered: when the call is not stored yet, a placeholder
// row ordered before every call event holds the text (no phone, so nothing
// is retrievable) until the call's own events fill it in. Aircall's
// transcript replaces one we made ourselves, never the other way round.
func insightWrite(ev Event, in Insight) webhook.Write {
	args := pgx.NamedArgs{"call_id": in.callID, "text": in.text, "lang": nullable(in.lang), "at": time.Unix(ev.Timestamp, 0).UTC()}
	if ev.Event == EventSummary {
		return webhook.Write{
			Name: "summary",
			SQL: `INSERT INTO calls (id, summary, summary_at, last_event, event_at, status_rank)
			SELECT @call_id, @text, @at, @event_type, '-infinity', -1 WHERE EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (id) DO UPDATE SET summary = EXCLUDED.summary, summary_at = EXCLUDED.summary_at, updated_at = now()
			WHERE calls.summary_at IS NULL OR calls.summary_at <= EXCLUDED.summary_at
			RETURNING 'call:' || id AS subject`,
			Args: args,
			Jobs: []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "subject"}},
		}
	}
	return webhook.Write{
		Name: "transcript",
		SQL: `INSERT INTO calls (id, transcript, transcript_source, transcript_language, transcript_at, last_event, event_at, status_rank)
		SELECT @call_id, @text, 'aircall', @lang, @at, @event_type, '-infinity', -1 WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET transcript = EXCLUDED.transcript, transcript_source = 'aircall',
			transcript_language = EXCLUDED.transcript_language, transcript_at = EXCLUDED.transcript_at,
			transcript_error = NULL, updated_at = now()
		WHERE calls.transcript_source IS DISTINCT FROM 'aircall' OR calls.transcript_at <= EXCLUDED.transcript_at
		RETURNING 'call:' || id AS subject`,
		Args: args,
		Jobs: []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "subject"}},
	}
}

func (h *Hook) contactWrite(ev Event, c Contact) webhook.Write {
	phones := []string{}
	for _, p := range c.PhoneNumbers {
		if e := identity.Phone(p.Value, h.Region); e != "" {
			phones = append(phones, e)
		}
	}
	emails := []string{}
	for _, e := range c.Emails {
		if n := identity.Email(e.Value); n != "" {
			emails = append(emails, n)
		}
	}
	at := time.Unix(ev.Timestamp, 0).UTC()
	var deleted *time.Time
	if ev.Event == "contact.deleted" {
		deleted = &at
	}
	return webhook.Write{
		Name: "contact",
		SQL: `INSERT INTO aircall_contacts (id, first_name, last_name, phones, emails, raw, event_at, deleted_at)
		SELECT @id, @first_name, @last_name, @phones, @emails, @raw, @event_at, @deleted_at
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, phones = EXCLUDED.phones,
			emails = EXCLUDED.emails, raw = EXCLUDED.raw, event_at = EXCLUDED.event_at,
			deleted_at = EXCLUDED.deleted_at, updated_at = now()
		WHERE aircall_contacts.event_at <= EXCLUDED.event_at`,
		Args: pgx.NamedArgs{
			"id": c.ID, "first_name": nullable(c.FirstName), "last_name": nullable(c.LastName), "phones": phones,
			"emails": emails, "raw": []byte(ev.Data), "event_at": at, "deleted_at": deleted,
		},
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
