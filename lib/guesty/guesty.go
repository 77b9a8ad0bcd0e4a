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

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/identity"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/payload"
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
	// PublishedAt is when Guesty published a v2 event: it orders what the
	// event carries against whole reservations (lastUpdatedAt).
	// Read leniently: a delivery is never refused for its timestamp.
	PublishedAt string `json:"publishedAt"`
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

// parsed is a validated delivery ready to store.
type parsed struct {
	event  string
	writes []webhook.Write
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
		if err := CheckID(msgID); err != nil {
			return "", err
		}
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
	out, err := h.Store.Receive(ctx, webhook.Delivery{Source: "guesty", EventType: p.event, DedupeKey: key, Payload: body, Writes: p.writes})
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
	if err := payload.Decode(body, &env); err != nil {
		return parsed{}, err
	}
	p := parsed{event: env.Event}
	switch env.Event {
	case "reservation.new", "reservation.updated":
		var r Reservation
		if err := sub("reservation", env.Reservation, &r); err != nil {
			return p, err
		}
		p.writes = h.reservationWrites(r, env.Reservation)
	case "reservation.created.v2", "reservation.updated.v2":
		r, raw, err := leanReservation(env)
		if err != nil {
			return p, err
		}
		p.writes = []webhook.Write{leanReservationWrite(r, raw, instant(env.PublishedAt))}
	case "listing.new", "listing.updated":
		var l Listing
		if err := sub("listing", env.Listing, &l); err != nil {
			return p, err
		}
		p.writes = []webhook.Write{listingWrite(l, env.Listing)}
	case "listing.removed":
		id := firstID(env.Listing, env.ListingID)
		if id == "" {
			return p, fault.Field("listing._id", "is required")
		}
		p.writes = []webhook.Write{removeListingWrite(id)}
	case "guest.created", "guest.updated":
		var g Guest
		if err := sub("guest", env.Guest, &g); err != nil {
			return p, err
		}
		p.writes = []webhook.Write{h.guestWrite(g, env.Guest)}
	case "guest.deleted":
		id := firstID(env.Guest, env.GuestID)
		if id == "" {
			return p, fault.Field("guest._id", "is required")
		}
		p.writes = []webhook.Write{deleteGuestWrite(id)}
	}
	return p, nil
}

// sub decodes and validates a nested object, naming failing fields from the
// top of the payload ("reservation.checkInDateLocalized").
func sub(name string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fault.Field(name, "is required")
	}
	err := payload.Decode(raw, v)
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
// Integrators disagree on the inner shape — data.reservationId beside
// data.reservation._id, data.reservation.id, data.id with the fields in
// data — so every known place is tried, and a status is read wherever it
// sits: a cancellation must not be lost to a shape.
func leanReservation(env Envelope) (Reservation, json.RawMessage, error) {
	var data struct {
		ReservationID string          `json:"reservationId"`
		UnderscoreID  string          `json:"_id"`
		ID            string          `json:"id"`
		Status        string          `json:"status"`
		Reservation   json.RawMessage `json:"reservation"`
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &data); err != nil {
			return Reservation{}, nil, fault.Field("data", "must be an object")
		}
	}
	raw := data.Reservation
	if len(raw) == 0 || string(raw) == "null" {
		raw = env.Reservation
	}
	if (len(raw) == 0 || string(raw) == "null") && (data.UnderscoreID != "" || data.ID != "") {
		raw = env.Data
	}
	var r Reservation
	var plainID struct {
		ID string `json:"id"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, nil, fault.Field("data.reservation", "malformed: %v", err)
		}
		_ = json.Unmarshal(raw, &plainID)
	}
	for _, id := range []string{r.ID, plainID.ID, data.ReservationID, data.UnderscoreID, data.ID, env.ReservationID} {
		if id != "" {
			r.ID = id
			break
		}
	}
	if r.ID == "" {
		return r, nil, fault.Field("data.reservationId", "is required")
	}
	if r.Status == "" {
		r.Status = data.Status
	}
	if err := payload.Validate(r); err != nil {
		if fe, ok := err.(*fault.Error); ok && fe.Field != "" {
			fe.Field = "data.reservation." + fe.Field
		}
		return r, nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
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

// reservationJobs re-index the reservation and re-sync its guest's
// contact, whose custom attributes carry the stay.
var reservationJobs = []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "vec"}, {Kind: jobs.ContactSync, Column: "guest"}}

const reservationReturning = `RETURNING 'reservation:' || id AS vec, 'guest:' || guest_id AS guest`

func reservationArgs(r Reservation) pgx.NamedArgs {
	return pgx.NamedArgs{
		"id": r.ID, "code": nullable(r.ConfirmationCode), "status": nullable(r.Status),
		"listing_id": nullable(r.listingID()), "guest_id": nullable(r.guestID()),
		"check_in": instant(r.CheckIn), "check_out": instant(r.CheckOut),
		"check_in_local": date(r.CheckInDateLocalized), "check_out_local": date(r.CheckOutDateLocalized),
		"arrival": nullable(r.PlannedArrival), "departure": nullable(r.PlannedDeparture),
		"guests_count": r.GuestsCount, "nights_count": r.NightsCount, "res_source": nullable(r.Source),
		"updated": instant(r.LastUpdatedAt),
	}
}

func (h *Hook) reservationWrites(r Reservation, raw json.RawMessage) []webhook.Write {
	args := reservationArgs(r)
	args["raw"] = []byte(raw)
	out := []webhook.Write{{
		Name: "reservation",
		SQL: `INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out,
			check_in_local, check_out_local, planned_arrival, planned_departure, guests_count, nights_count,
			source, raw, needs_refresh, source_updated_at, status_at)
		SELECT @id, @code, @status, @listing_id, @guest_id, @check_in, @check_out, @check_in_local, @check_out_local,
			@arrival, @departure, @guests_count, @nights_count, @res_source, @raw, false, @updated, @updated
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			confirmation_code = EXCLUDED.confirmation_code,
			-- A status a v2 event decided after this version of the
			-- reservation (a cancellation) stands.
			status = CASE WHEN reservations.status_at IS NOT NULL AND (EXCLUDED.source_updated_at IS NULL
				OR EXCLUDED.source_updated_at < reservations.status_at) THEN reservations.status ELSE EXCLUDED.status END,
			status_at = CASE WHEN reservations.status_at IS NOT NULL AND (EXCLUDED.source_updated_at IS NULL
				OR EXCLUDED.source_updated_at < reservations.status_at) THEN reservations.status_at ELSE EXCLUDED.source_updated_at END,
			listing_id = EXCLUDED.listing_id, guest_id = EXCLUDED.guest_id, check_in = EXCLUDED.check_in,
			check_out = EXCLUDED.check_out, check_in_local = EXCLUDED.check_in_local,
			check_out_local = EXCLUDED.check_out_local, planned_arrival = EXCLUDED.planned_arrival,
			planned_departure = EXCLUDED.planned_departure, guests_count = EXCLUDED.guests_count,
			nights_count = EXCLUDED.nights_count, source = EXCLUDED.source, raw = EXCLUDED.raw,
			needs_refresh = false, source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
		WHERE reservations.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR reservations.source_updated_at <= EXCLUDED.source_updated_at
		` + reservationReturning,
		Args: args,
		Jobs: reservationJobs,
	}}
	if r.Listing != nil && r.Listing.ID != "" {
		// A stub so the reservation's listing has a name before its own
		// listing webhook arrives; the listing event fills the rest.
		out = append(out, webhook.Write{
			Name: "listing_stub",
			SQL: `INSERT INTO listings (id, title, nickname)
			SELECT @stub_id, @stub_title, @stub_nickname WHERE EXISTS (SELECT 1 FROM reservation)
			ON CONFLICT (id) DO NOTHING`,
			Args: pgx.NamedArgs{"stub_id": r.Listing.ID, "stub_title": nullable(r.Listing.Title), "stub_nickname": nullable(r.Listing.Nickname)},
		})
	}
	if g := r.Guest; g != nil && g.ID != "" {
		// The embedded guest fills gaps without overriding what the guest's
		// own events said.
		phone, email := h.guestKeys(*g)
		out = append(out, webhook.Write{
			Name: "guest_fill",
			SQL: `INSERT INTO guests (id, full_name, first_name, last_name, email, phone_e164)
			SELECT @g_id, @g_full, @g_first, @g_last, @g_email, @g_phone WHERE EXISTS (SELECT 1 FROM reservation)
			ON CONFLICT (id) DO UPDATE SET
				full_name = COALESCE(guests.full_name, EXCLUDED.full_name),
				first_name = COALESCE(guests.first_name, EXCLUDED.first_name),
				last_name = COALESCE(guests.last_name, EXCLUDED.last_name),
				email = COALESCE(guests.email, EXCLUDED.email),
				phone_e164 = COALESCE(guests.phone_e164, EXCLUDED.phone_e164)`,
			Args: pgx.NamedArgs{"g_id": g.ID, "g_full": nullable(fullName(*g)), "g_first": nullable(g.FirstName),
				"g_last": nullable(g.LastName), "g_email": email, "g_phone": phone},
		})
	}
	return out
}

// leanColumns are the reservation columns a lean v2 event may carry.
var leanColumns = []struct{ column, arg string }{
	{"confirmation_code", "code"}, {"listing_id", "listing_id"}, {"guest_id", "guest_id"},
	{"check_in", "check_in"}, {"check_out", "check_out"}, {"check_in_local", "check_in_local"},
	{"check_out_local", "check_out_local"}, {"planned_arrival", "arrival"}, {"planned_departure", "departure"},
	{"guests_count", "guests_count"}, {"nights_count", "nights_count"},
}

// leanReservationSQL upserts what a lean v2 event carries. Fields are
// applied only when the event is not older than the whole reservation
// stored (its lastUpdatedAt), and never erased; the status is applied when
// the event is not older than whatever decided the stored status, and
// stamps status_at, so a whole reservation fetched before a cancellation
// cannot undo it. The row is flagged for a refresh from the API.
var leanReservationSQL = func() string {
	const at = "COALESCE(@event_at::timestamptz, now())"
	fresh := "(reservations.source_updated_at IS NULL OR " + at + " >= reservations.source_updated_at)"
	statusWins := "(EXCLUDED.status IS NOT NULL AND (reservations.status_at IS NULL OR " + at + " >= reservations.status_at))"
	var set strings.Builder
	for _, c := range leanColumns {
		fmt.Fprintf(&set, "\t\t\t%[1]s = CASE WHEN %[2]s THEN COALESCE(EXCLUDED.%[1]s, reservations.%[1]s) ELSE reservations.%[1]s END,\n", c.column, fresh)
	}
	return `INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out,
			check_in_local, check_out_local, planned_arrival, planned_departure, guests_count, nights_count, raw,
			needs_refresh, status_at)
		SELECT @id, @code, @status, @listing_id, @guest_id, @check_in, @check_out, @check_in_local, @check_out_local,
			@arrival, @departure, @guests_count, @nights_count, @raw, true,
			CASE WHEN @status::text IS NULL THEN NULL ELSE ` + at + ` END
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
` + set.String() + `			status = CASE WHEN ` + statusWins + ` THEN EXCLUDED.status ELSE reservations.status END,
			status_at = CASE WHEN ` + statusWins + ` THEN ` + at + ` ELSE reservations.status_at END,
			needs_refresh = true, updated_at = now()
		` + reservationReturning + `, 'reservation:' || id AS fetch_subject`
}()

// leanReservationWrite stores what a lean v2 event carries (see
// leanReservationSQL) and queues guesty-fetch for the whole reservation,
// besides the re-index and contact sync of any event: a cancellation
// reaches the stay's policy and its document at once, not after the fetch.
func leanReservationWrite(r Reservation, raw json.RawMessage, published *time.Time) webhook.Write {
	args := reservationArgs(r)
	args["raw"] = []byte(raw)
	args["event_at"] = published
	return webhook.Write{
		Name: "reservation",
		SQL:  leanReservationSQL,
		Args: args,
		Jobs: append(append([]webhook.JobFrom{}, reservationJobs...), webhook.JobFrom{Kind: jobs.GuestyFetch, Column: "fetch_subject"}),
	}
}

func listingWrite(l Listing, raw json.RawMessage) webhook.Write {
	return webhook.Write{
		Name: "listing",
		SQL: `INSERT INTO listings (id, title, nickname, timezone, default_check_in_time, default_check_out_time, raw, source_updated_at)
		SELECT @id, @title, @nickname, @timezone, @check_in_time, @check_out_time, @raw, @updated
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			title = EXCLUDED.title, nickname = EXCLUDED.nickname, timezone = EXCLUDED.timezone,
			default_check_in_time = EXCLUDED.default_check_in_time,
			default_check_out_time = EXCLUDED.default_check_out_time, raw = EXCLUDED.raw,
			source_updated_at = EXCLUDED.source_updated_at, removed_at = NULL, updated_at = now()
		WHERE (listings.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR listings.source_updated_at <= EXCLUDED.source_updated_at)
			-- Removal is final unless Guesty changed the listing after it: a
			-- retried older update must not bring it back.
			AND (listings.removed_at IS NULL OR EXCLUDED.source_updated_at > listings.removed_at)
		RETURNING 'listing:' || id AS vec`,
		Args: pgx.NamedArgs{
			"id": l.ID, "title": nullable(l.Title), "nickname": nullable(l.Nickname), "timezone": nullable(l.Timezone),
			"check_in_time": nullable(l.DefaultCheckInTime), "check_out_time": nullable(l.DefaultCheckOutTime),
			"raw": []byte(raw), "updated": instant(l.LastUpdatedAt),
		},
		Jobs: []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "vec"}},
	}
}

func removeListingWrite(id string) webhook.Write {
	return webhook.Write{
		Name: "listing",
		SQL: `INSERT INTO listings (id, removed_at) SELECT @id, now() WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET removed_at = COALESCE(listings.removed_at, now()), updated_at = now()
		RETURNING 'listing:' || id AS vec`,
		Args: pgx.NamedArgs{"id": id},
		Jobs: []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "vec"}},
	}
}

// guestKeys returns the normalised phone and email of g.
func (h *Hook) guestKeys(g Guest) (phone, email *string) {
	for _, p := range append([]string{g.Phone}, g.Phones...) {
		if e := identity.Phone(p, h.Region); e != "" {
			phone = &e
			break
		}
	}
	for _, m := range append([]string{g.Email}, g.Emails...) {
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

func (h *Hook) guestWrite(g Guest, raw json.RawMessage) webhook.Write {
	phone, email := h.guestKeys(g)
	updated := instant(g.LastUpdatedAt)
	if updated == nil {
		updated = instant(g.UpdatedAt)
	}
	return webhook.Write{
		Name: "guest",
		SQL: `INSERT INTO guests (id, full_name, first_name, last_name, email, phone_e164, raw, source_updated_at)
		SELECT @id, @full_name, @first_name, @last_name, @email, @phone, @raw, @updated
		WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET
			full_name = EXCLUDED.full_name, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
			email = EXCLUDED.email, phone_e164 = EXCLUDED.phone_e164, raw = EXCLUDED.raw,
			source_updated_at = EXCLUDED.source_updated_at, deleted_at = NULL, updated_at = now()
		WHERE (guests.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
			OR guests.source_updated_at <= EXCLUDED.source_updated_at)
			-- Deletion is final unless Guesty changed the guest after it: a
			-- retried older update must not bring back (and sync, index) the
			-- personal data of a deleted guest.
			AND (guests.deleted_at IS NULL OR EXCLUDED.source_updated_at > guests.deleted_at)
		RETURNING 'guest:' || id AS subject`,
		Args: pgx.NamedArgs{
			"id": g.ID, "full_name": nullable(fullName(g)), "first_name": nullable(g.FirstName),
			"last_name": nullable(g.LastName), "email": email, "phone": phone, "raw": []byte(raw), "updated": updated,
		},
		Jobs: []webhook.JobFrom{{Kind: jobs.ContactSync, Column: "subject"}, {Kind: jobs.Vectorize, Column: "subject"}},
	}
}

// deleteGuestWrite marks the guest deleted; the re-index narrows the
// guest's documents. Chatwoot contacts are left to people.
func deleteGuestWrite(id string) webhook.Write {
	return webhook.Write{
		Name: "guest",
		SQL: `INSERT INTO guests (id, deleted_at) SELECT @id, now() WHERE EXISTS (SELECT 1 FROM ev)
		ON CONFLICT (id) DO UPDATE SET deleted_at = COALESCE(guests.deleted_at, now()), updated_at = now()
		RETURNING 'guest:' || id AS subject`,
		Args: pgx.NamedArgs{"id": id},
		Jobs: []webhook.JobFrom{{Kind: jobs.Vectorize, Column: "subject"}},
	}
}
