// Package guests says what a Guesty guest may see: their reservations,
// those reservations' listings, and the stay the conversation is most
// likely about. Who a Chatwoot contact is, and how far that is proven, is
// lib/guests/trust: it normalises phone numbers (libphonenumber's metadata,
// several megabytes), which only llm-query needs.
package guests

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/retrieval"
)

// Stay is the reservation a conversation is about.
type Stay struct {
	ReservationID    string
	ConfirmationCode string
	Status           string
	ListingID        string
	ListingTitle     string
	Timezone         string
	CheckIn          time.Time // instant
	CheckOut         time.Time
	GuestsCount      int
	PlannedArrival   string
	PlannedDeparture string
	// The listing's local dates of the stay, YYYY-MM-DD (Guesty's
	// checkInDateLocalized and checkOutDateLocalized); "" when not sent.
	CheckInDay, CheckOutDay string
	// The listing's default times, HH:MM; "" until the listing is stored.
	DefaultCheckIn, DefaultCheckOut string
}

// Arrival is the check-in time as the guest reads it, on the listing's
// clock: the check-in instant in the listing's time zone; when the listing
// is stored without a zone, the reservation's local day
// (checkInDateLocalized) at the listing's default check-in time. ok is
// false when neither tells the local time, as for a reservation whose
// listing is not stored yet: reading the instant in UTC would tell a Los
// Angeles guest "from 10 PM" for 3 PM. The guest's planned arrival is not
// the check-in time (a guest may plan to come later, or ask to come
// earlier) and is never used for it. Without the listing's zone the result
// is in UTC standing in for it: print its day and clock, never its zone.
func (s *Stay) Arrival() (t time.Time, ok bool) {
	return s.local(s.CheckInDay, s.DefaultCheckIn, s.CheckIn)
}

// Departure is Arrival for the check-out.
func (s *Stay) Departure() (t time.Time, ok bool) {
	return s.local(s.CheckOutDay, s.DefaultCheckOut, s.CheckOut)
}

func (s *Stay) local(day, clock string, instant time.Time) (time.Time, bool) {
	if s.Timezone != "" && !instant.IsZero() {
		if loc, err := time.LoadLocation(s.Timezone); err == nil {
			return instant.In(loc), true
		}
	}
	if day != "" && clock != "" {
		if t, err := time.Parse("2006-01-02 15:04", day+" "+clock); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Confirmed reports whether the stay is booked for sure.
func (s *Stay) Confirmed() bool {
	return s != nil && (s.Status == "confirmed" || s.Status == "checked_in")
}

// Ended reports whether the stay is over at now: Guesty marked the guest
// checked out (possibly before the booked check-out), or a booked stay's
// check-out has passed. An unconfirmed reservation never "ends": it was
// never a stay.
func (s *Stay) Ended(now time.Time) bool {
	if s == nil {
		return false
	}
	return s.Status == "checked_out" || s.Confirmed() && !s.CheckOut.IsZero() && now.After(s.CheckOut)
}

// Window reports whether now is within [check-in - before, check-out]: when
// door codes, Wi-Fi passwords and the exact address may be shared.
func (s *Stay) Window(now time.Time, before time.Duration) bool {
	if !s.Confirmed() || s.CheckIn.IsZero() || s.CheckOut.IsZero() {
		return false
	}
	return !now.Before(s.CheckIn.Add(-before)) && !now.After(s.CheckOut)
}

// Access is what a guest may see.
type Access struct {
	GuestID string
	Stay    *Stay // current or next stay; the latest past one otherwise; nil if none
	Scope   retrieval.Scope
}

// InactiveStatuses are the reservation statuses (as Guesty writes them)
// that are not a stay any more: a guest's access, the identity check and
// retrieval all leave such a reservation out. The one list; SQL reads it
// as InactiveSQL.
var InactiveStatuses = []string{"canceled", "cancelled", "declined", "expired", "closed"}

// InactiveSQL is InactiveStatuses as an SQL list: `status NOT IN ` +
// InactiveSQL.
var InactiveSQL = "('" + strings.Join(InactiveStatuses, "', '") + "')"

// Inactive reports whether status is one of InactiveStatuses.
func Inactive(status string) bool { return slices.Contains(InactiveStatuses, status) }

// For returns the access of guestID at now. A stranger ("") may see shared
// knowledge and the public sections of active listings.
func For(ctx context.Context, db *pgxpool.Pool, guestID string, now time.Time) (Access, error) {
	a := Access{GuestID: guestID}
	if guestID == "" {
		rows, err := db.Query(ctx, "SELECT id FROM listings WHERE removed_at IS NULL")
		if err != nil {
			return a, fmt.Errorf("public listings: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return a, fmt.Errorf("public listings: %w", err)
		}
		a.Scope = retrieval.Scope{ListingIDs: ids}
		return a, nil
	}
	rows, err := db.Query(ctx, `
		SELECT r.id, COALESCE(r.confirmation_code, ''), COALESCE(r.status, ''), COALESCE(r.listing_id, ''),
			COALESCE(l.title, ''), COALESCE(l.timezone, ''), r.check_in, r.check_out, COALESCE(r.guests_count, 0),
			COALESCE(r.planned_arrival, ''), COALESCE(r.planned_departure, ''),
			COALESCE(to_char(r.check_in_local, 'YYYY-MM-DD'), ''), COALESCE(to_char(r.check_out_local, 'YYYY-MM-DD'), ''),
			COALESCE(l.default_check_in_time, ''), COALESCE(l.default_check_out_time, '')
		FROM reservations r LEFT JOIN listings l ON l.id = r.listing_id
		WHERE r.guest_id = $1 AND COALESCE(r.status, '') NOT IN `+InactiveSQL+`
		ORDER BY r.check_in NULLS LAST`, guestID)
	if err != nil {
		return a, fmt.Errorf("stays of guest: %w", err)
	}
	defer rows.Close()
	var stays []Stay
	for rows.Next() {
		var s Stay
		var in, out *time.Time
		if err := rows.Scan(&s.ReservationID, &s.ConfirmationCode, &s.Status, &s.ListingID, &s.ListingTitle,
			&s.Timezone, &in, &out, &s.GuestsCount, &s.PlannedArrival, &s.PlannedDeparture,
			&s.CheckInDay, &s.CheckOutDay, &s.DefaultCheckIn, &s.DefaultCheckOut); err != nil {
			return a, fmt.Errorf("stays of guest: %w", err)
		}
		if in != nil {
			s.CheckIn = *in
		}
		if out != nil {
			s.CheckOut = *out
		}
		stays = append(stays, s)
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("stays of guest: %w", err)
	}
	a.Scope.GuestID = guestID
	seen := map[string]bool{}
	for i := range stays {
		s := &stays[i]
		a.Scope.ReservationIDs = append(a.Scope.ReservationIDs, s.ReservationID)
		if s.ListingID != "" && !seen[s.ListingID] {
			seen[s.ListingID] = true
			a.Scope.ListingIDs = append(a.Scope.ListingIDs, s.ListingID)
		}
		// The first stay not over yet, else the last one.
		if a.Stay == nil && !s.CheckOut.IsZero() && s.CheckOut.After(now) {
			a.Stay = s
		}
	}
	if a.Stay == nil && len(stays) > 0 {
		a.Stay = &stays[len(stays)-1]
	}
	return a, nil
}
