package guesty

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

// APISource is the webhook_events source of entities read from the Open
// API: each version read is stored raw like a delivery, deduplicated on
// kind, id and lastUpdatedAt, so reading an unchanged entity again queues
// nothing, and its domain writes are the legacy events' own.
const APISource = "guesty-api"

// Fields asked of the API: what the columns, the documents and the
// contact sync read, not Guesty's whole objects (a reservation's money and
// integration blocks are most of its size).
var (
	ReservationFields = []string{"_id", "confirmationCode", "status", "listingId", "listing._id", "listing.title",
		"listing.nickname", "guestId", "guest._id", "guest.fullName", "guest.firstName", "guest.lastName",
		"guest.email", "guest.phone", "checkIn", "checkOut", "checkInDateLocalized", "checkOutDateLocalized",
		"plannedArrival", "plannedDeparture", "guestsCount", "nightsCount", "source", "createdAt", "lastUpdatedAt"}
	ListingFields = []string{"_id", "title", "nickname", "active", "type", "propertyType", "roomType", "accommodates",
		"bedrooms", "beds", "bathrooms", "timezone", "defaultCheckInTime", "defaultCheckOutTime", "address",
		"amenities", "publicDescription", "customFields", "tags", "createdAt", "lastUpdatedAt"}
	GuestFields = []string{"_id", "fullName", "firstName", "lastName", "email", "phone", "emails", "phones",
		"createdAt", "updatedAt", "lastUpdatedAt"}
)

// Kinds of entity a guesty-fetch subject names.
const (
	KindReservation = "reservation"
	KindListing     = "listing"
	KindGuest       = "guest"
)

// ParseSubject splits a guesty-fetch subject, "reservation:<id>",
// "listing:<id>" or "guest:<id>".
func ParseSubject(subject string) (kind, id string, err error) {
	kind, id, ok := strings.Cut(subject, ":")
	switch {
	case !ok || id == "" || strings.ContainsAny(id, "/?#% :"):
		return "", "", fault.Field("subject", "must be reservation:<id>, listing:<id> or guest:<id>")
	case kind != KindReservation && kind != KindListing && kind != KindGuest:
		return "", "", fault.Field("subject", "unknown kind %q", kind)
	}
	return kind, id, nil
}

// FetchResult says what a fetch did.
type FetchResult struct {
	Subject string `json:"subject"`
	// Outcome: stored (a new version), duplicate (the stored version is
	// this one), gone (Guesty has no such entity any more).
	Outcome string `json:"outcome"`
}

// Fetch reads the entity subject names from the API and stores it as a
// legacy event would (Apply). A listing or guest Guesty no longer has is
// removed as listing.removed or guest.deleted would; a reservation it no
// longer has is left as it is (Guesty cancels reservations, it does not
// delete them).
func (h *Hook) Fetch(ctx context.Context, api *API, subject string) (FetchResult, error) {
	kind, id, err := ParseSubject(subject)
	if err != nil {
		return FetchResult{}, err
	}
	res := FetchResult{Subject: subject}
	var raw json.RawMessage
	switch kind {
	case KindReservation:
		raw, err = api.Reservation(ctx, id, ReservationFields...)
	case KindListing:
		raw, err = api.Listing(ctx, id, ListingFields...)
	case KindGuest:
		raw, err = api.Guest(ctx, id, GuestFields...)
	}
	if fault.KindOf(err) == fault.NotFound {
		res.Outcome = "gone"
		var w webhook.Write
		switch kind {
		case KindListing:
			w = removeListingWrite(id)
		case KindGuest:
			w = deleteGuestWrite(id)
		default:
			return res, nil
		}
		_, err := h.Store.Receive(ctx, webhook.Delivery{Source: APISource, EventType: "api." + kind + ".gone",
			DedupeKey: subject + ":gone", Payload: []byte(`{}`), Writes: []webhook.Write{w}})
		return res, err
	}
	if err != nil {
		return res, err
	}
	out, err := h.Apply(ctx, kind, raw)
	res.Outcome = string(out)
	return res, err
}

// Apply stores one entity as read from the API (kind is reservation,
// listing or guest): the raw object as an event of APISource, and the
// upserts and jobs of its legacy event, ordered by its lastUpdatedAt.
func (h *Hook) Apply(ctx context.Context, kind string, raw json.RawMessage) (webhook.Outcome, error) {
	d, updated, err := h.Delivery(kind, raw)
	if err != nil {
		return "", err
	}
	out, err := h.Store.Receive(ctx, d)
	if err != nil {
		return "", err
	}
	if out == webhook.Duplicate && kind == KindReservation && updated != "" {
		// This version was stored before; a lean event since flagged the
		// row, and the API says nothing changed after it.
		var r Reservation
		_ = json.Unmarshal(raw, &r)
		if _, err := h.Store.DB.Exec(ctx, `UPDATE reservations SET needs_refresh = false
			WHERE id = $1 AND needs_refresh AND source_updated_at = $2`, r.ID, instant(updated)); err != nil {
			return "", fmt.Errorf("clear needs_refresh of reservation %s: %w", r.ID, err)
		}
	}
	logging.From(ctx).Debug().Str("kind", kind).Str("outcome", string(out)).Msg("guesty entity applied")
	return out, nil
}

// Delivery builds the stored event of one entity read from the API and
// returns it with the entity's lastUpdatedAt. An entity Guesty sent that
// does not validate is Permanent: asking again returns the same.
func (h *Hook) Delivery(kind string, raw json.RawMessage) (webhook.Delivery, string, error) {
	var (
		writes  []webhook.Write
		id      string
		updated string
		err     error
	)
	switch kind {
	case KindReservation:
		var r Reservation
		if err = sub("reservation", raw, &r); err == nil {
			writes, id, updated = h.reservationWrites(r, raw), r.ID, r.LastUpdatedAt
		}
	case KindListing:
		var l Listing
		if err = sub("listing", raw, &l); err == nil {
			writes, id, updated = []webhook.Write{listingWrite(l, raw)}, l.ID, l.LastUpdatedAt
		}
	case KindGuest:
		var g Guest
		if err = sub("guest", raw, &g); err == nil {
			updated = g.LastUpdatedAt
			if updated == "" {
				updated = g.UpdatedAt
			}
			writes, id = []webhook.Write{h.guestWrite(g, raw)}, g.ID
		}
	default:
		return webhook.Delivery{}, "", fault.New(fault.Invalid, "unknown Guesty entity kind %q", kind)
	}
	if err != nil {
		return webhook.Delivery{}, "", fault.Wrap(fault.Permanent, err, fmt.Sprintf("Guesty API sent a %s Concierge cannot read", kind))
	}
	key := kind + ":" + id + ":" + updated
	if updated == "" {
		key = kind + ":" + id + ":body:" + webhook.BodyKey(raw)
	}
	return webhook.Delivery{Source: APISource, EventType: "api." + kind, DedupeKey: key, Payload: raw, Writes: writes}, updated, nil
}
