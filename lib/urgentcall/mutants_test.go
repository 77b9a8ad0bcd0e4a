package urgentcall_test

// Tests written for `make mutate`: each names the gremlins mutants of
// stay.go it kills.

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/urgentcall"
)

// storedCall writes a calls row as the hook would have, with the fields a
// case sets (nil stays NULL), and queues its urgent-call job directly: the
// job must decide on the row alone (a replayed job, or one queued before
// the call's later events arrived).
func (r *rig) storedCall(direction, status string, answered bool, missedReason *string, withTimes, withDuration bool) int64 {
	r.t.Helper()
	return r.storedCallAt(r.now.Add(-2*time.Minute), direction, status, answered, missedReason, withTimes, withDuration)
}

// storedCallAt is storedCall for a call that started at start.
func (r *rig) storedCallAt(start time.Time, direction, status string, answered bool, missedReason *string, withTimes, withDuration bool) int64 {
	r.t.Helper()
	call := r.newCall()
	end := start.Add(time.Minute)
	var started, ended, answeredAt any
	if withTimes {
		started, ended = start, end
	}
	if answered {
		answeredAt = start.Add(10 * time.Second)
	}
	var duration any
	if withDuration {
		duration = 60
	}
	r.exec(`INSERT INTO calls (id, direction, status, missed_call_reason, started_at, answered_at, ended_at, duration,
			phone_e164, last_event, event_at, status_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'call.ended', $10, 3)`,
		call, direction, status, missedReason, started, answeredAt, ended, duration, guestPhone, end)
	err := pgx.BeginFunc(context.Background(), r.db.Pool, func(tx pgx.Tx) error {
		_, err := jobs.Enqueue(context.Background(), tx, jobs.UrgentCall, jobs.CallSubject(call), "")
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return call
}

// Which stored calls are missed: inbound, ended, and either never answered
// or ended with a missed-call reason (a voicemail is answered by the
// voicemail box). An outbound call, a call not ended yet and an answered
// one are not, whoever the caller. A call stored without its times or
// duration (Aircall left them out) is still told, at the time of its last
// event.
// Kills: missed's `status == "done" && direction == "inbound"` with either
// && made ||, its `!answered || missedReason != ""` made &&, and
// `missedReason != ""` negated; loadCall's `duration != nil` negated (a
// call without a duration read through a nil pointer).
func TestWhichStoredCallsAreMissed(t *testing.T) {
	reason := "no_available_agent"
	for _, c := range []struct {
		name                    string
		direction, status       string
		answered                bool
		reason                  *string
		withTimes, withDuration bool
		missed                  bool
	}{
		{"unanswered, no reason given", "inbound", "done", false, nil, true, true, true},
		{"answered, then a missed-call reason", "inbound", "done", true, &reason, true, true, true},
		{"no times, no duration", "inbound", "done", false, &reason, false, false, true},
		{"answered", "inbound", "done", true, nil, true, true, false},
		{"outbound, unanswered", "outbound", "done", false, &reason, true, true, false},
		{"inbound, not ended", "inbound", "initial", false, &reason, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.stay("res-today-0009", guestID, 0, "confirmed")
			call := r.storedCall(c.direction, c.status, c.answered, c.reason, c.withTimes, c.withDuration)
			o := r.mustRun(call)
			if o.status != jobs.StatusDone {
				t.Fatalf("job status %s (%v)", o.status, o.err)
			}
			if !c.missed {
				r.skipped(o, urgentcall.ReasonNotMissed)
				return
			}
			if o.res.Outcome != urgentcall.OutcomeNotified || len(r.notes()) != 1 {
				t.Fatalf("result = %+v, %d notes; want the team told once", o.res, len(r.notes()))
			}
			contains(t, r.notes()[0].Content, "arriving today")
		})
	}
}

// Days are the listing's: a call at 20:00 in Los Angeles on the eve of a
// check-in is from a guest arriving tomorrow, though it is the check-in
// day in UTC already; that holds whether the stay has Guesty's local date
// or only the check-in instant. A listing whose time zone cannot be read
// counts days in UTC.
// Kills: location's `tz == ""` and `err != nil` negated (the listing's
// zone dropped, or a nil zone for an unreadable one); localDate's
// `local != nil` and `instant != nil` negated (a nil date read, or a stay
// with only its instant not found).
func TestCallDaysInListingZone(t *testing.T) {
	la, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	checkIn := time.Date(2026, 7, 10, 15, 0, 0, 0, la)
	eve := time.Date(2026, 7, 9, 20, 0, 0, 0, la) // 03:00 UTC on the 10th
	reason := "no_available_agent"
	for _, c := range []struct {
		name      string
		zone      string
		localDate bool
		want      string
	}{
		{"local date", tz, true, "arriving tomorrow (Friday 10 July)"},
		{"check-in instant only", tz, false, "arriving tomorrow (Friday 10 July)"},
		{"unreadable zone", "Nowhere/Land", true, "arriving today (Friday 10 July)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.exec(`UPDATE listings SET timezone = $2 WHERE id = $1`, listingID, c.zone)
			var local any
			if c.localDate {
				local = checkIn.Format(time.DateOnly)
			}
			r.exec(`INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out, check_in_local, guests_count)
				VALUES ('res-zone-0010', 'HMKZONE', 'confirmed', $1, $2, $3, $4, $5, 2)`, listingID, guestID, checkIn, checkIn.AddDate(0, 0, 3), local)
			call := r.storedCallAt(eve, "inbound", "done", false, &reason, true, true)
			o := r.mustRun(call)
			if o.res.Outcome != urgentcall.OutcomeNotified || len(r.notes()) != 1 {
				t.Fatalf("result = %+v, %d notes; want the team told once", o.res, len(r.notes()))
			}
			contains(t, r.notes()[0].Content, c.want)
		})
	}
}
