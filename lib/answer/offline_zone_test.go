package answer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/lang"
)

// A reservation can arrive before its listing (Guesty sends
// reservation.new first; the rehearsal saw it): the stay then has no time
// zone. Its check-in instant read in UTC told a Los Angeles guest "from
// 10:00 PM" for 3 PM. The answer states the listing's clock or nothing.
func TestCheckInTimeWithoutTheListingsZone(t *testing.T) {
	now := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC)
	stay := func(tz, defaultIn string) *guests.Stay {
		return &guests.Stay{ReservationID: "R", Status: "confirmed", ListingID: "L", Timezone: tz,
			CheckIn:    time.Date(2025, 7, 18, 22, 0, 0, 0, time.UTC), // 15:00 in Los Angeles
			CheckOut:   time.Date(2025, 7, 21, 18, 0, 0, 0, time.UTC),
			CheckInDay: "2025-07-18", CheckOutDay: "2025-07-21", PlannedArrival: "17:30", DefaultCheckIn: defaultIn}
	}
	tests := []struct {
		name    string
		stay    *guests.Stay
		want    string // "" : no time stated
		handoff bool
	}{
		{"the listing's zone", stay("America/Los_Angeles", ""), "3:00 PM", false},
		{"no zone, the listing's default time on the local day", stay("", "15:00"), "3:00 PM", false},
		{"no listing stored: no time rather than a wrong one", stay("", ""), "", true},
		{"an unknown zone name counts as none", stay("Mars/Olympus_Mons", ""), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := engine(t, &fakeIndex{}, nil).Answer(context.Background(),
				Request{Question: "What time can we check in?", Access: guests.Access{GuestID: "G", Stay: tt.stay}, Now: now})
			if res.Handoff != tt.handoff {
				t.Fatalf("handoff %v (%s), want %v:\n%s", res.Handoff, res.Reason, tt.handoff, res.Text)
			}
			// A hand-off's text is the agents' private note: the instant may
			// stand there, named as UTC; a guest's answer never states it.
			if res.Handoff && strings.Contains(res.Text, "22:00") && !strings.Contains(res.Text, "22:00 UTC") {
				t.Errorf("note states 22:00 without naming UTC:\n%s", res.Text)
			}
			for _, wrong := range []string{"10:00 PM", "22:00", "5:30 PM", "17:30"} {
				if !res.Handoff && strings.Contains(res.Text, wrong) {
					t.Fatalf("answer states %q (UTC, or the planned arrival) as the check-in time:\n%s", wrong, res.Text)
				}
			}
			if tt.want != "" && (!strings.Contains(res.Text, tt.want) || !strings.Contains(res.Text, "18 July")) {
				t.Errorf("answer lacks %q on 18 July:\n%s", tt.want, res.Text)
			}
		})
	}
}

// A guest refused the Wi-Fi is told why: not yet (and from when), the stay
// has ended, or confirmed guests only. Guesty's checked_out status, early
// or on time, is an ended stay, never "confirmed guests only".
func TestSecretRefusalSaysWhy(t *testing.T) {
	in := time.Date(2026, 7, 10, 15, 0, 0, 0, time.UTC)
	out := time.Date(2026, 7, 14, 11, 0, 0, 0, time.UTC)
	stay := func(status string) *guests.Stay {
		return &guests.Stay{ReservationID: "R", Status: status, ListingID: "L", Timezone: "UTC", CheckIn: in, CheckOut: out}
	}
	ended := lang.SecretsEnded.In("en")
	unconfirmed := lang.SecretsUnconfirmed.In("en")
	later, _, _ := strings.Cut(lang.SecretsFrom.In("en"), "%s")
	for _, c := range []struct {
		name string
		s    *guests.Stay
		now  time.Time
		want string
	}{
		{"confirmed, a week ahead", stay("confirmed"), in.Add(-7 * 24 * time.Hour), later},
		{"confirmed, after check-out", stay("confirmed"), out.Add(time.Hour), ended},
		{"checked out, after check-out", stay("checked_out"), out.Add(time.Hour), ended},
		{"checked out early", stay("checked_out"), out.Add(-24 * time.Hour), ended},
		{"inquiry", stay("inquiry"), in.Add(time.Hour), unconfirmed},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := engine(t, &fakeIndex{}, nil).Answer(context.Background(),
				Request{Question: "What is the wifi password?", Access: guests.Access{GuestID: "G", Stay: c.s}, Now: c.now})
			if res.Handoff || res.Provenance.Policy != "secret-later" || !strings.HasPrefix(res.Text, c.want) {
				t.Errorf("got %q (handoff %v, policy %q), want it to start %q", res.Text, res.Handoff, res.Provenance.Policy, c.want)
			}
		})
	}
}
