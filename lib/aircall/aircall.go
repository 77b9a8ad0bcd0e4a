// Package aircall receives Aircall webhooks: it checks the body token,
// stores the raw event under a derived dedupe key (Aircall sends no event
// id), upserts calls and contacts so an older event never overwrites a newer
// state, and queues the call for re-indexing.
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

	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/identity"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
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

// Call holds the fields of Aircall's call object that Concierge uses.
type Call struct {
	ID               int64                  `json:"id" validate:"required,gt=0"`
	CallUUID         string                 `json:"call_uuid"`
	Direction        string                 `json:"direction" validate:"omitempty,oneof=inbound outbound"`
	Status           string                 `json:"status"`
	MissedCallReason *string                `json:"missed_call_reason"`
	StartedAt        *int64                 `json:"started_at"`
	AnsweredAt       *int64                 `json:"answered_at"`
	EndedAt          *int64                 `json:"ended_at"`
	Duration         int                    `json:"duration" validate:"gte=0"`
	RawDigits        string                 `json:"raw_digits"`
	Voicemail        *string                `json:"voicemail"`
	Recording        *string                `json:"recording"`
	Asset            *string                `json:"asset"`
	Archived         bool                   `json:"archived"`
	User             *struct{ Name string } `json:"user"`
	Contact          *struct{ ID int64 }    `json:"contact"`
	Comments         json.RawMessage        `json:"comments"`
	Tags             json.RawMessage        `json:"tags"`
}

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

// Hook receives Aircall deliveries.
type Hook struct {
	Store  *webhook.Store
	Region string
	tokens [][32]byte
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
}

// Decode parses and validates a delivery body without checking the token.
func Decode(body []byte) (Event, error) {
	var ev Event
	if err := endpoint.Unmarshal(body, &ev); err != nil {
		return ev, err
	}
	p, err := check(ev)
	return p.Event, err
}

// check validates the envelope and decodes the resource it carries.
func check(ev Event) (parsed, error) {
	p := parsed{Event: ev}
	if err := endpoint.Validate(ev); err != nil {
		return p, err
	}
	switch {
	case ev.Resource == "call" || strings.HasPrefix(ev.Event, "call."):
		p.call = &Call{}
		return p, decodeData(ev.Data, p.call)
	case ev.Resource == "contact" || strings.HasPrefix(ev.Event, "contact."):
		p.contact = &Contact{}
		return p, decodeData(ev.Data, p.contact)
	}
	return p, nil
}

// decodeData validates a resource and names failing fields under "data.".
func decodeData(data json.RawMessage, v any) error {
	if err := endpoint.Unmarshal(data, v); err != nil {
		return prefix(err)
	}
	return prefix(endpoint.Validate(v))
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
func (h *Hook) Receive(ctx context.Context, body []byte) (webhook.Outcome, error) {
	var ev Event
	if err := endpoint.Unmarshal(body, &ev); err != nil {
		// A wrong envelope from a caller without the token is still a 401.
		var t struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(body, &t) == nil && !h.authorized(t.Token) {
			return "", fault.New(fault.Unauthorized, "invalid webhook token")
		}
		return "", err
	}
	if !h.authorized(ev.Token) {
		return "", fault.New(fault.Unauthorized, "invalid webhook token")
	}
	p, err := check(ev)
	if err != nil {
		return "", err
	}
	log := logging.From(ctx).With().Str("event", ev.Event).Logger()
	ctx = logging.WithLogger(ctx, log)
	d := webhook.Delivery{
		Source:    "aircall",
		EventType: ev.Event,
		DedupeKey: dedupeKey(p),
		Payload:   body,
	}
	switch {
	case strings.HasPrefix(ev.Event, "call.") && p.call != nil:
		d.Writes = []webhook.Write{h.callWrite(ev, *p.call)}
	case strings.HasPrefix(ev.Event, "contact.") && p.contact != nil:
		d.Writes = []webhook.Write{h.contactWrite(ev, *p.contact)}
	}
	out, err := h.Store.Receive(ctx, d)
	if err == nil {
		log.Info().Str("outcome", string(out)).Msg("aircall event")
	}
	return out, err
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
	default:
		var v struct {
			ID json.Number `json:"id"`
		}
		_ = json.Unmarshal(p.Data, &v)
		id = v.ID.String()
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
			archived, raw, last_event, event_at, status_rank)
		SELECT @id, @call_uuid, @direction, @status, @missed, @started_at, @answered_at, @ended_at, @duration, @phone,
			@contact_id, @agent, @asset, @has_recording, @has_voicemail, @comments, @tags, @archived, @raw, @event_type,
			@event_at, @status_rank
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			call_uuid = EXCLUDED.call_uuid, direction = EXCLUDED.direction, status = EXCLUDED.status,
			missed_call_reason = EXCLUDED.missed_call_reason, started_at = EXCLUDED.started_at,
			answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at, duration = EXCLUDED.duration,
			phone_e164 = EXCLUDED.phone_e164, contact_id = EXCLUDED.contact_id, agent_name = EXCLUDED.agent_name,
			asset_url = COALESCE(EXCLUDED.asset_url, calls.asset_url),
			has_recording = EXCLUDED.has_recording OR calls.has_recording,
			has_voicemail = EXCLUDED.has_voicemail OR calls.has_voicemail,
			comments = EXCLUDED.comments, tags = EXCLUDED.tags, archived = EXCLUDED.archived,
			raw = EXCLUDED.raw, last_event = EXCLUDED.last_event, event_at = EXCLUDED.event_at,
			status_rank = EXCLUDED.status_rank, updated_at = now()
		WHERE (calls.event_at, calls.status_rank) <= (EXCLUDED.event_at, EXCLUDED.status_rank)
		RETURNING 'call:' || id AS subject`,
		Args: pgx.NamedArgs{
			"id": c.ID, "call_uuid": nullable(c.CallUUID), "direction": nullable(c.Direction), "status": nullable(c.Status),
			"missed": c.MissedCallReason, "started_at": unix(c.StartedAt), "answered_at": unix(c.AnsweredAt),
			"ended_at": unix(c.EndedAt), "duration": c.Duration, "phone": nullable(identity.Phone(c.RawDigits, h.Region)),
			"contact_id": contactID, "agent": agent, "asset": c.Asset, "has_recording": c.Recording != nil,
			"has_voicemail": c.Voicemail != nil, "comments": jsonOr(c.Comments, "[]"), "tags": jsonOr(c.Tags, "[]"),
			"archived": c.Archived, "raw": []byte(ev.Data), "event_at": time.Unix(ev.Timestamp, 0).UTC(),
			"status_rank": statusRank(c.Status),
		},
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
