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

// Decode parses and validates a delivery body without checking the token.
func Decode(body []byte) (Event, error) {
	var ev Event
	if err := endpoint.Unmarshal(body, &ev); err != nil {
		return ev, err
	}
	if err := endpoint.Validate(ev); err != nil {
		return ev, err
	}
	switch {
	case ev.Resource == "call" || strings.HasPrefix(ev.Event, "call."):
		var c Call
		if err := decodeData(ev.Data, &c); err != nil {
			return ev, err
		}
	case ev.Resource == "contact" || strings.HasPrefix(ev.Event, "contact."):
		var c Contact
		if err := decodeData(ev.Data, &c); err != nil {
			return ev, err
		}
	}
	return ev, nil
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

// Receive authenticates, validates and stores one delivery.
func (h *Hook) Receive(ctx context.Context, body []byte) (webhook.Outcome, error) {
	var env struct {
		Token string `json:"token"`
	}
	if err := endpoint.Unmarshal(body, &env); err != nil {
		return "", err
	}
	// Authenticate before validating, so an unauthenticated caller learns
	// nothing about what a valid payload looks like.
	if !h.authorized(env.Token) {
		return "", fault.New(fault.Unauthorized, "invalid webhook token")
	}
	ev, err := Decode(body)
	if err != nil {
		return "", err
	}
	log := logging.From(ctx).With().Str("event", ev.Event).Logger()
	ctx = logging.WithLogger(ctx, log)
	d := webhook.Delivery{
		Source:    "aircall",
		EventType: ev.Event,
		DedupeKey: dedupeKey(ev),
		Payload:   body,
	}
	switch {
	case strings.HasPrefix(ev.Event, "call."):
		var c Call
		_ = json.Unmarshal(ev.Data, &c)
		d.Apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) { return h.upsertCall(ctx, tx, ev, c) }
	case strings.HasPrefix(ev.Event, "contact."):
		var c Contact
		_ = json.Unmarshal(ev.Data, &c)
		d.Apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) { return nil, h.upsertContact(ctx, tx, ev, c) }
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
func dedupeKey(ev Event) string {
	var compact bytes.Buffer
	if err := json.Compact(&compact, ev.Data); err != nil {
		compact.Write(ev.Data)
	}
	var id struct {
		ID json.Number `json:"id"`
	}
	_ = json.Unmarshal(ev.Data, &id)
	return ev.Event + ":" + id.ID.String() + ":" + strconv.FormatInt(ev.Timestamp, 10) + ":" + webhook.BodyKey(compact.Bytes())[:16]
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

func (h *Hook) upsertCall(ctx context.Context, tx pgx.Tx, ev Event, c Call) ([]jobs.Job, error) {
	var agent *string
	if c.User != nil && c.User.Name != "" {
		agent = &c.User.Name
	}
	var contactID *int64
	if c.Contact != nil && c.Contact.ID != 0 {
		contactID = &c.Contact.ID
	}
	var phone *string
	if p := identity.Phone(c.RawDigits, h.Region); p != "" {
		phone = &p
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO calls (id, call_uuid, direction, status, missed_call_reason, started_at, answered_at, ended_at,
			duration, phone_e164, contact_id, agent_name, asset_url, has_recording, has_voicemail, comments, tags,
			archived, raw, last_event, event_at, status_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
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
		WHERE (calls.event_at, calls.status_rank) <= (EXCLUDED.event_at, EXCLUDED.status_rank)`,
		c.ID, nullable(c.CallUUID), nullable(c.Direction), nullable(c.Status), c.MissedCallReason,
		unix(c.StartedAt), unix(c.AnsweredAt), unix(c.EndedAt), c.Duration, phone, contactID, agent, c.Asset,
		c.Recording != nil, c.Voicemail != nil, jsonOr(c.Comments, "[]"), jsonOr(c.Tags, "[]"), c.Archived,
		[]byte(ev.Data), ev.Event, time.Unix(ev.Timestamp, 0).UTC(), statusRank(c.Status))
	if err != nil {
		return nil, fmt.Errorf("upsert call %d: %w", c.ID, err)
	}
	if tag.RowsAffected() == 0 {
		logging.From(ctx).Info().Int64("aircall_call_id", c.ID).Msg("older call event; state kept")
		return nil, nil
	}
	j, err := jobs.Enqueue(ctx, tx, jobs.Vectorize, "call:"+strconv.FormatInt(c.ID, 10), logging.Trace(ctx))
	if err != nil {
		return nil, err
	}
	return []jobs.Job{j}, nil
}

func (h *Hook) upsertContact(ctx context.Context, tx pgx.Tx, ev Event, c Contact) error {
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
	var deleted *time.Time
	at := time.Unix(ev.Timestamp, 0).UTC()
	if ev.Event == "contact.deleted" {
		deleted = &at
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO aircall_contacts (id, first_name, last_name, phones, emails, raw, event_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET
			first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, phones = EXCLUDED.phones,
			emails = EXCLUDED.emails, raw = EXCLUDED.raw, event_at = EXCLUDED.event_at,
			deleted_at = EXCLUDED.deleted_at, updated_at = now()
		WHERE aircall_contacts.event_at <= EXCLUDED.event_at`,
		c.ID, nullable(c.FirstName), nullable(c.LastName), phones, emails, []byte(ev.Data), at, deleted)
	if err != nil {
		return fmt.Errorf("upsert aircall contact %d: %w", c.ID, err)
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
