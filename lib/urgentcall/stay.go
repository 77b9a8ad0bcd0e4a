package urgentcall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
)

// call is what the flow reads of a calls row.
type call struct {
	id               int64
	direction        string
	status           string
	missedReason     string
	answered         bool
	phone            string
	calledAt         time.Time
	duration         int
	hasVoicemail     bool
	hasAudio         bool
	assetURL         string
	transcript       string
	transcriptFailed bool
}

// missed reports whether c is an inbound call that ended without anyone
// answering it (a voicemail is one).
func (c call) missed() bool {
	return c.status == "done" && c.direction == "inbound" && (!c.answered || c.missedReason != "")
}

// errGone: the call row is not there (erased, or never stored).
var errGone = errors.New("call gone")

func loadCall(ctx context.Context, db *pgxpool.Pool, id int64) (call, error) {
	c := call{id: id}
	var direction, status, missed, phone, asset, transcript *string
	var started, ended *time.Time
	var duration *int
	var audio, failed bool
	err := db.QueryRow(ctx, `SELECT direction, status, missed_call_reason, answered_at IS NOT NULL, phone_e164,
			started_at, ended_at, event_at, duration, has_voicemail, recording_url IS NOT NULL OR has_voicemail OR has_recording,
			asset_url, transcript, transcript_error IS NOT NULL
		FROM calls WHERE id = $1`, id).Scan(&direction, &status, &missed, &c.answered, &phone, &started, &ended, &c.calledAt,
		&duration, &c.hasVoicemail, &audio, &asset, &transcript, &failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, errGone
	}
	if err != nil {
		return c, unavailable(err, fmt.Sprintf("load call %d", id))
	}
	c.direction, c.status, c.missedReason, c.phone = deref(direction), deref(status), deref(missed), deref(phone)
	c.assetURL, c.transcript, c.hasAudio, c.transcriptFailed = deref(asset), deref(transcript), audio, failed
	switch {
	case started != nil:
		c.calledAt = *started
	case ended != nil:
		c.calledAt = *ended
	}
	if duration != nil {
		c.duration = *duration
	}
	return c, nil
}

// stay is the guest and the stay a call is urgent for.
type stay struct {
	guestID       string
	guestName     string
	reservationID string
	code          string
	status        string
	listingID     string
	listingTitle  string
	loc           *time.Location
	checkIn       time.Time // the local date (midnight in UTC)
	checkOut      time.Time // the local date, zero when unknown
	checkInTime   string    // the listing's default, "15:00"
	guestsCount   int
	arrival       string
}

// Reasons a call is not urgent.
const (
	ReasonNotMissed  = "not a missed inbound call"
	ReasonUnknown    = "the caller's number is not one guest's"
	ReasonNoStay     = "the caller has no stay starting today or tomorrow"
	ReasonCallGone   = "the call is not stored"
	arrivalDaysAhead = 1 // today (0) or tomorrow (1), in the listing's time zone
)

// identify finds the guest a call is urgent for by the trusted path: the
// caller's number (Aircall's caller id, in E.164) is exactly one guest's,
// and that guest has a stay, not cancelled, whose check-in is the day of
// the call or the next in its listing's time zone. A number shared by
// several guests proves nobody. It returns the reason when there is none.
func identify(ctx context.Context, db *pgxpool.Pool, c call) (*stay, string, error) {
	if c.phone == "" {
		return nil, ReasonUnknown, nil
	}
	rows, err := db.Query(ctx, `SELECT id, COALESCE(full_name, NULLIF(concat_ws(' ', first_name, last_name), ''), '')
		FROM guests WHERE phone_e164 = $1 AND deleted_at IS NULL LIMIT 2`, c.phone)
	if err != nil {
		return nil, "", unavailable(err, fmt.Sprintf("match caller of call %d", c.id))
	}
	type guest struct{ id, name string }
	gs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (guest, error) {
		var g guest
		return g, r.Scan(&g.id, &g.name)
	})
	if err != nil {
		return nil, "", unavailable(err, fmt.Sprintf("match caller of call %d", c.id))
	}
	if len(gs) != 1 {
		return nil, ReasonUnknown, nil
	}
	ss, err := stays(ctx, db, gs[0].id, "", gs[0].name)
	if err != nil {
		return nil, "", fmt.Errorf("stays of the caller of call %d: %w", c.id, err)
	}
	for i := range ss {
		s := &ss[i]
		called := date(c.calledAt.In(s.loc))
		if days := int(s.checkIn.Sub(called).Hours() / 24); !s.checkIn.IsZero() && !s.checkIn.Before(called) && days <= arrivalDaysAhead {
			return s, "", nil
		}
	}
	return nil, ReasonNoStay, nil
}

// stays reads guestID's stays that are not cancelled, by check-in; with
// reservationID, that one only (cancelled or not: a retry keeps the stay
// the first attempt chose).
func stays(ctx context.Context, db *pgxpool.Pool, guestID, reservationID, name string) ([]stay, error) {
	rows, err := db.Query(ctx, `
		SELECT r.id, COALESCE(r.confirmation_code, ''), COALESCE(r.status, ''), COALESCE(r.listing_id, ''),
			COALESCE(l.title, l.nickname, ''), COALESCE(l.timezone, ''), r.check_in, r.check_in_local, r.check_out,
			r.check_out_local, COALESCE(l.default_check_in_time, ''), COALESCE(r.guests_count, 0),
			COALESCE(r.planned_arrival, '')
		FROM reservations r LEFT JOIN listings l ON l.id = r.listing_id
		WHERE r.guest_id = $1 AND CASE WHEN $2 = '' THEN COALESCE(r.status, '') NOT IN `+guests.InactiveSQL+`
				AND (r.check_in IS NOT NULL OR r.check_in_local IS NOT NULL) ELSE r.id = $2 END
		ORDER BY COALESCE(r.check_in, r.check_in_local::timestamptz), r.id`, guestID, reservationID)
	if err != nil {
		return nil, unavailable(err, "read stays")
	}
	defer rows.Close()
	var out []stay
	for rows.Next() {
		s := stay{guestID: guestID, guestName: name}
		var tz string
		var in, inLocal, out2, outLocal *time.Time
		if err := rows.Scan(&s.reservationID, &s.code, &s.status, &s.listingID, &s.listingTitle, &tz, &in, &inLocal,
			&out2, &outLocal, &s.checkInTime, &s.guestsCount, &s.arrival); err != nil {
			return nil, unavailable(err, "read stays")
		}
		s.loc = location(tz)
		s.checkIn = localDate(inLocal, in, s.loc)
		s.checkOut = localDate(outLocal, out2, s.loc)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err, "read stays")
	}
	return out, nil
}

// guestName reads a guest's name for the note ("" when erased).
func guestName(ctx context.Context, db *pgxpool.Pool, id string) (string, error) {
	var name string
	err := db.QueryRow(ctx, `SELECT COALESCE(full_name, NULLIF(concat_ws(' ', first_name, last_name), ''), '')
		FROM guests WHERE id = $1`, id).Scan(&name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", unavailable(err, "read guest")
	}
	return name, nil
}

// location is the listing's time zone; a listing without a readable one
// counts days in UTC.
func location(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// localDate is Guesty's local date when stored, else the instant's date in
// loc; zero when neither is known.
func localDate(local, instant *time.Time, loc *time.Location) time.Time {
	switch {
	case local != nil:
		return date(*local)
	case instant != nil:
		return date(instant.In(loc))
	}
	return time.Time{}
}

// date is t's calendar date as midnight UTC, so dates compare and subtract
// without a time zone's daylight saving shifts.
func date(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func unavailable(err error, op string) error {
	return fault.Wrap(fault.Unavailable, fmt.Errorf("%s: %w", op, err), "database unavailable")
}
