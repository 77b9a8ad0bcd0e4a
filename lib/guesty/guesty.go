// Package guesty receives Guesty webhooks: Svix signature, dedupe on the
// message id, and upserts of guests, listings and reservations in which the
// newest lastUpdatedAt wins, with the vectorize and contact-sync jobs of a
// change written in the same transaction.
package guesty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// Envelope is the outer shape of every Guesty webhook. Legacy events carry
// the whole resource; v2 reservation events carry ids in data.
type Envelope struct {
	Event         string          `json:"event" validate:"required"`
	Reservation   json.RawMessage `json:"reservation"`
	Listing       json.RawMessage `json:"listing"`
	Guest         json.RawMessage `json:"guest"`
	Data          json.RawMessage `json:"data"`
	ReservationID string          `json:"reservationId"`
	ListingID     string          `json:"listingId"`
	GuestID       string          `json:"guestId"`
}

// Reservation holds the reservation fields Concierge uses.
type Reservation struct {
	ID               string `json:"_id" validate:"required"`
	ConfirmationCode string `json:"confirmationCode"`
	Status           string `json:"status"`
	ListingID        string `json:"listingId"`
	Listing          *struct {
		ID       string `json:"_id"`
		Title    string `json:"title"`
		Nickname string `json:"nickname"`
	} `json:"listing"`
	GuestID               string `json:"guestId"`
	Guest                 *Guest `json:"guest"`
	CheckIn               string `json:"checkIn" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
	CheckOut              string `json:"checkOut" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
	CheckInDateLocalized  string `json:"checkInDateLocalized" validate:"omitempty,datetime=2006-01-02"`
	CheckOutDateLocalized string `json:"checkOutDateLocalized" validate:"omitempty,datetime=2006-01-02"`
	PlannedArrival        string `json:"plannedArrival" validate:"omitempty,datetime=15:04"`
	PlannedDeparture      string `json:"plannedDeparture" validate:"omitempty,datetime=15:04"`
	GuestsCount           *int   `json:"guestsCount" validate:"omitempty,gte=0"`
	NightsCount           *int   `json:"nightsCount" validate:"omitempty,gte=0"`
	Source                string `json:"source"`
	LastUpdatedAt         string `json:"lastUpdatedAt" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
}

// Guest holds the guest fields Concierge uses.
type Guest struct {
	ID            string   `json:"_id" validate:"required"`
	FullName      string   `json:"fullName"`
	FirstName     string   `json:"firstName"`
	LastName      string   `json:"lastName"`
	Email         string   `json:"email"`
	Phone         string   `json:"phone"`
	Phones        []string `json:"phones"`
	Emails        []string `json:"emails"`
	UpdatedAt     string   `json:"updatedAt" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
	LastUpdatedAt string   `json:"lastUpdatedAt" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
}

// Listing holds the listing fields kept in columns; the whole object is
// kept in raw for the retrieval documents.
type Listing struct {
	ID                  string `json:"_id" validate:"required"`
	Title               string `json:"title"`
	Nickname            string `json:"nickname"`
	Timezone            string `json:"timezone"`
	DefaultCheckInTime  string `json:"defaultCheckInTime" validate:"omitempty,datetime=15:04"`
	DefaultCheckOutTime string `json:"defaultCheckOutTime" validate:"omitempty,datetime=15:04"`
	LastUpdatedAt       string `json:"lastUpdatedAt" validate:"omitempty,datetime=2006-01-02T15:04:05Z07:00"`
}

// Hook receives Guesty deliveries.
type Hook struct {
	Store *webhook.Store
	// Verifier is nil when signatures are switched off.
	Verifier *Verifier
	Region   string
}

// parsed is a validated delivery ready to apply.
type parsed struct {
	event string
	apply func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error)
}

// Receive verifies, validates and stores one delivery.
func (h *Hook) Receive(ctx context.Context, header http.Header, body []byte) (webhook.Outcome, error) {
	var msgID string
	if h.Verifier != nil {
		id, err := h.Verifier.Verify(header, body)
		if err != nil {
			return "", err
		}
		msgID = id
	} else {
		msgID = headerValue(header, "id")
	}
	p, err := h.parse(body)
	if err != nil {
		return "", err
	}
	key := msgID
	if key == "" {
		key = "body:" + webhook.BodyKey(body)
	}
	log := logging.From(ctx).With().Str("event", p.event).Str("svix_id", safeID(msgID)).Logger()
	ctx = logging.WithLogger(ctx, log)
	out, err := h.Store.Receive(ctx, webhook.Delivery{Source: "guesty", EventType: p.event, DedupeKey: key, Payload: body, Apply: p.apply})
	if err == nil {
		log.Info().Str("outcome", string(out)).Msg("guesty event")
	}
	return out, err
}

func headerValue(h http.Header, name string) string {
	if v := h.Get("svix-" + name); v != "" {
		return v
	}
	return h.Get("webhook-" + name)
}

func safeID(id string) string {
	if len(id) > 64 {
		return id[:64]
	}
	return id
}

// Parse validates a body and returns its event type; exported for fuzzing.
func Parse(body []byte) (string, error) {
	p, err := (&Hook{}).parse(body)
	return p.event, err
}

func (h *Hook) parse(body []byte) (parsed, error) {
	var env Envelope
	if err := endpoint.Decode(body, &env); err != nil {
		return parsed{}, err
	}
	p := parsed{event: env.Event}
	switch env.Event {
	case "reservation.new", "reservation.updated":
		var r Reservation
		if err := sub("reservation", env.Reservation, &r); err != nil {
			return p, err
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) {
			return h.upsertReservation(ctx, tx, r, env.Reservation)
		}
	case "reservation.created.v2", "reservation.updated.v2":
		r, raw, err := leanReservation(env)
		if err != nil {
			return p, err
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) {
			return h.markReservation(ctx, tx, r, raw)
		}
	case "listing.new", "listing.updated":
		var l Listing
		if err := sub("listing", env.Listing, &l); err != nil {
			return p, err
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) {
			return h.upsertListing(ctx, tx, l, env.Listing)
		}
	case "listing.removed":
		id := firstID(env.Listing, env.ListingID)
		if id == "" {
			return p, fault.Field("listing._id", "is required")
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) { return h.removeListing(ctx, tx, id) }
	case "guest.created", "guest.updated":
		var g Guest
		if err := sub("guest", env.Guest, &g); err != nil {
			return p, err
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) { return h.upsertGuest(ctx, tx, g, env.Guest) }
	case "guest.deleted":
		id := firstID(env.Guest, env.GuestID)
		if id == "" {
			return p, fault.Field("guest._id", "is required")
		}
		p.apply = func(ctx context.Context, tx pgx.Tx) ([]jobs.Job, error) { return h.deleteGuest(ctx, tx, id) }
	}
	return p, nil
}

// sub decodes and validates a nested object, naming failing fields from the
// top of the payload ("reservation.checkInDateLocalized").
func sub(name string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fault.Field(name, "is required")
	}
	err := endpoint.Decode(raw, v)
	if fe, ok := err.(*fault.Error); ok {
		if fe.Field != "" {
			fe.Field = name + "." + fe.Field
		} else {
			fe.Field = name
		}
	}
	return err
}

func firstID(raw json.RawMessage, fallback string) string {
	var o struct {
		ID string `json:"_id"`
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &o)
	}
	if o.ID != "" {
		return o.ID
	}
	return fallback
}

// leanReservation reads the id (and whatever fields) a v2 event carries.
// Integrators disagree on the inner shape, so every known place is tried.
func leanReservation(env Envelope) (Reservation, json.RawMessage, error) {
	var data struct {
		ReservationID string          `json:"reservationId"`
		ID            string          `json:"_id"`
		Reservation   json.RawMessage `json:"reservation"`
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return Reservation{}, nil, fault.Field("data", "must be an object")
		}
	}
	raw := data.Reservation
	if len(raw) == 0 {
		raw = env.Reservation
	}
	if len(raw) == 0 && data.ID != "" {
		raw = env.Data
	}
	var r Reservation
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, nil, fault.Field("data.reservation", "malformed: %v", err)
		}
	}
	for _, id := range []string{r.ID, data.ReservationID, data.ID, env.ReservationID} {
		if id != "" {
			r.ID = id
			break
		}
	}
	if r.ID == "" {
		return r, nil, fault.Field("data.reservationId", "is required")
	}
	if err := endpoint.Validate(r); err != nil {
		if fe, ok := err.(*fault.Error); ok && fe.Field != "" {
			fe.Field = "data.reservation." + fe.Field
		}
		return r, nil, err
	}
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	return r, raw, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// instant parses an ISO-8601 instant already checked by the validator.
func instant(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}

func date(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil
	}
	return &t
}

func (r Reservation) listingID() string {
	if r.ListingID != "" {
		return r.ListingID
	}
	if r.Listing != nil {
		return r.Listing.ID
	}
	return ""
}

func (r Reservation) guestID() string {
	if r.GuestID != "" {
		return r.GuestID
	}
	if r.Guest != nil {
		return r.Guest.ID
	}
	return ""
}

func (h *Hook) enqueue(ctx context.Context, tx pgx.Tx, out []jobs.Job, k jobs.Kind, subject string) ([]jobs.Job, error) {
	j, err := jobs.Enqueue(ctx, tx, k, subject, logging.Trace(ctx))
	if err != nil {
		return nil, err
	}
	return append(out, j), nil
}

func (h *Hook) upsertReservation(ctx context.Context, tx pgx.Tx, r Reservation, raw json.RawMessage) ([]jobs.Job, error) {
	listingID, guestID := r.listingID(), r.guestID()
	tag, err := tx.Exec(ctx, `
		INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out,
			check_in_local, check_out_local, planned_arrival, planned_departure, guests_count, nights_count,
			source, raw, needs_refresh, source_updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, false, $16)
		ON CONFLICT (id) DO UPDATE SET
			confirmation_code = EXCLUDED.confirmation_code, status = EXCLUDED.status,
			listing_id = EXCLUDED.listing_id, guest_id = EXCLUDED.guest_id, check_in = EXCLUDED.check_in,
			check_out = EXCLUDED.check_out, check_in_local = EXCLUDED.check_in_local,
			check_out_local = EXCLUDED.check_out_local, planned_arrival = EXCLUDED.planned_arrival,
			planned_departure = EXCLUDED.planned_departure, guests_count = EXCLUDED.guests_count,
			nights_count = EXCLUDED.nights_count, source = EXCLUDED.source, raw = EXCLUDED.raw,
			needs_refresh = false, source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
		WHERE reservations.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR reservations.source_updated_at <= EXCLUDED.source_updated_at`,
		r.ID, nullable(r.ConfirmationCode), nullable(r.Status), nullable(listingID), nullable(guestID),
		instant(r.CheckIn), instant(r.CheckOut), date(r.CheckInDateLocalized), date(r.CheckOutDateLocalized),
		nullable(r.PlannedArrival), nullable(r.PlannedDeparture), r.GuestsCount, r.NightsCount,
		nullable(r.Source), []byte(raw), instant(r.LastUpdatedAt))
	if err != nil {
		return nil, fmt.Errorf("upsert reservation %s: %w", r.ID, err)
	}
	if tag.RowsAffected() == 0 {
		logging.From(ctx).Info().Str("reservation_id", r.ID).Msg("older reservation event; state kept")
		return nil, nil
	}
	if r.Listing != nil && r.Listing.ID != "" {
		// A stub so the reservation's listing has a name before its own
		// listing webhook arrives; the listing event fills the rest.
		if _, err := tx.Exec(ctx, `INSERT INTO listings (id, title, nickname) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, r.Listing.ID, nullable(r.Listing.Title), nullable(r.Listing.Nickname)); err != nil {
			return nil, fmt.Errorf("listing stub %s: %w", r.Listing.ID, err)
		}
	}
	if r.Guest != nil && r.Guest.ID != "" {
		if err := h.fillGuest(ctx, tx, *r.Guest); err != nil {
			return nil, err
		}
	}
	out, err := h.enqueue(ctx, tx, nil, jobs.Vectorize, "reservation:"+r.ID)
	if err != nil {
		return nil, err
	}
	if guestID != "" {
		// The contact's custom attributes carry the stay: re-sync it.
		return h.enqueue(ctx, tx, out, jobs.ContactSync, "guest:"+guestID)
	}
	return out, nil
}

// markReservation stores what a lean v2 event carries, never erasing a
// field it does not carry, and flags the row for a refresh from the API.
func (h *Hook) markReservation(ctx context.Context, tx pgx.Tx, r Reservation, raw json.RawMessage) ([]jobs.Job, error) {
	listingID, guestID := r.listingID(), r.guestID()
	_, err := tx.Exec(ctx, `
		INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out,
			check_in_local, check_out_local, planned_arrival, planned_departure, guests_count, raw, needs_refresh)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true)
		ON CONFLICT (id) DO UPDATE SET
			confirmation_code = COALESCE(EXCLUDED.confirmation_code, reservations.confirmation_code),
			status = COALESCE(EXCLUDED.status, reservations.status),
			listing_id = COALESCE(EXCLUDED.listing_id, reservations.listing_id),
			guest_id = COALESCE(EXCLUDED.guest_id, reservations.guest_id),
			check_in = COALESCE(EXCLUDED.check_in, reservations.check_in),
			check_out = COALESCE(EXCLUDED.check_out, reservations.check_out),
			check_in_local = COALESCE(EXCLUDED.check_in_local, reservations.check_in_local),
			check_out_local = COALESCE(EXCLUDED.check_out_local, reservations.check_out_local),
			planned_arrival = COALESCE(EXCLUDED.planned_arrival, reservations.planned_arrival),
			planned_departure = COALESCE(EXCLUDED.planned_departure, reservations.planned_departure),
			guests_count = COALESCE(EXCLUDED.guests_count, reservations.guests_count),
			needs_refresh = true, updated_at = now()`,
		r.ID, nullable(r.ConfirmationCode), nullable(r.Status), nullable(listingID), nullable(guestID),
		instant(r.CheckIn), instant(r.CheckOut), date(r.CheckInDateLocalized), date(r.CheckOutDateLocalized),
		nullable(r.PlannedArrival), nullable(r.PlannedDeparture), r.GuestsCount, []byte(raw))
	if err != nil {
		return nil, fmt.Errorf("mark reservation %s: %w", r.ID, err)
	}
	out, err := h.enqueue(ctx, tx, nil, jobs.Vectorize, "reservation:"+r.ID)
	if err != nil {
		return nil, err
	}
	if guestID != "" {
		return h.enqueue(ctx, tx, out, jobs.ContactSync, "guest:"+guestID)
	}
	return out, nil
}

func (h *Hook) upsertListing(ctx context.Context, tx pgx.Tx, l Listing, raw json.RawMessage) ([]jobs.Job, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO listings (id, title, nickname, timezone, default_check_in_time, default_check_out_time, raw, source_updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET
			title = EXCLUDED.title, nickname = EXCLUDED.nickname, timezone = EXCLUDED.timezone,
			default_check_in_time = EXCLUDED.default_check_in_time,
			default_check_out_time = EXCLUDED.default_check_out_time, raw = EXCLUDED.raw,
			source_updated_at = EXCLUDED.source_updated_at, removed_at = NULL, updated_at = now()
		WHERE listings.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR listings.source_updated_at <= EXCLUDED.source_updated_at`,
		l.ID, nullable(l.Title), nullable(l.Nickname), nullable(l.Timezone), nullable(l.DefaultCheckInTime),
		nullable(l.DefaultCheckOutTime), []byte(raw), instant(l.LastUpdatedAt))
	if err != nil {
		return nil, fmt.Errorf("upsert listing %s: %w", l.ID, err)
	}
	if tag.RowsAffected() == 0 {
		logging.From(ctx).Info().Str("listing_id", l.ID).Msg("older listing event; state kept")
		return nil, nil
	}
	return h.enqueue(ctx, tx, nil, jobs.Vectorize, "listing:"+l.ID)
}

func (h *Hook) removeListing(ctx context.Context, tx pgx.Tx, id string) ([]jobs.Job, error) {
	if _, err := tx.Exec(ctx, `
		INSERT INTO listings (id, removed_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET removed_at = COALESCE(listings.removed_at, now()), updated_at = now()`, id); err != nil {
		return nil, fmt.Errorf("remove listing %s: %w", id, err)
	}
	return h.enqueue(ctx, tx, nil, jobs.Vectorize, "listing:"+id)
}

// guestKeys returns the normalised phone and email of g.
func (h *Hook) guestKeys(g Guest) (phone, email *string) {
	phones := append([]string{g.Phone}, g.Phones...)
	for _, p := range phones {
		if e := identity.Phone(p, h.Region); e != "" {
			phone = &e
			break
		}
	}
	emails := append([]string{g.Email}, g.Emails...)
	for _, m := range emails {
		if e := identity.Email(m); e != "" {
			email = &e
			break
		}
	}
	return phone, email
}

func fullName(g Guest) string {
	if g.FullName != "" {
		return g.FullName
	}
	return strings.TrimSpace(g.FirstName + " " + g.LastName)
}

// fillGuest records the guest embedded in a reservation without overriding
// what the guest's own events said.
func (h *Hook) fillGuest(ctx context.Context, tx pgx.Tx, g Guest) error {
	phone, email := h.guestKeys(g)
	_, err := tx.Exec(ctx, `
		INSERT INTO guests (id, full_name, first_name, last_name, email, phone_e164)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET
			full_name = COALESCE(guests.full_name, EXCLUDED.full_name),
			first_name = COALESCE(guests.first_name, EXCLUDED.first_name),
			last_name = COALESCE(guests.last_name, EXCLUDED.last_name),
			email = COALESCE(guests.email, EXCLUDED.email),
			phone_e164 = COALESCE(guests.phone_e164, EXCLUDED.phone_e164)`,
		g.ID, nullable(fullName(g)), nullable(g.FirstName), nullable(g.LastName), email, phone)
	if err != nil {
		return fmt.Errorf("guest %s from reservation: %w", g.ID, err)
	}
	return nil
}

func (h *Hook) upsertGuest(ctx context.Context, tx pgx.Tx, g Guest, raw json.RawMessage) ([]jobs.Job, error) {
	phone, email := h.guestKeys(g)
	updated := instant(g.LastUpdatedAt)
	if updated == nil {
		updated = instant(g.UpdatedAt)
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO guests (id, full_name, first_name, last_name, email, phone_e164, raw, source_updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET
			full_name = EXCLUDED.full_name, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
			email = EXCLUDED.email, phone_e164 = EXCLUDED.phone_e164, raw = EXCLUDED.raw,
			source_updated_at = EXCLUDED.source_updated_at, deleted_at = NULL, updated_at = now()
		WHERE guests.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR guests.source_updated_at <= EXCLUDED.source_updated_at`,
		g.ID, nullable(fullName(g)), nullable(g.FirstName), nullable(g.LastName), email, phone, []byte(raw), updated)
	if err != nil {
		return nil, fmt.Errorf("upsert guest %s: %w", g.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, nil
	}
	out, err := h.enqueue(ctx, tx, nil, jobs.ContactSync, "guest:"+g.ID)
	if err != nil {
		return nil, err
	}
	return h.enqueue(ctx, tx, out, jobs.Vectorize, "guest:"+g.ID)
}

func (h *Hook) deleteGuest(ctx context.Context, tx pgx.Tx, id string) ([]jobs.Job, error) {
	if _, err := tx.Exec(ctx, `
		INSERT INTO guests (id, deleted_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET deleted_at = COALESCE(guests.deleted_at, now()), updated_at = now()`, id); err != nil {
		return nil, fmt.Errorf("delete guest %s: %w", id, err)
	}
	// Re-index narrows the guest's documents; contacts are left to people.
	return h.enqueue(ctx, tx, nil, jobs.Vectorize, "guest:"+id)
}
