package guests

import (
	"testing"
	"time"
)

// A four-night stay the window and Ended tests share.
var (
	checkIn  = time.Date(2026, 7, 10, 15, 0, 0, 0, time.UTC)
	checkOut = time.Date(2026, 7, 14, 11, 0, 0, 0, time.UTC)
)

func booked(status string) *Stay { return &Stay{Status: status, CheckIn: checkIn, CheckOut: checkOut} }

// The disclosure window is [check-in - before, check-out], for confirmed
// stays only: door codes and Wi-Fi are never shared before it opens or
// after the guest has left.
func TestWindow(t *testing.T) {
	before := 48 * time.Hour
	for _, c := range []struct {
		name string
		s    *Stay
		now  time.Time
		want bool
	}{
		{"a week before", booked("confirmed"), checkIn.Add(-7 * 24 * time.Hour), false},
		{"just before the window opens", booked("confirmed"), checkIn.Add(-before - time.Second), false},
		{"when it opens", booked("confirmed"), checkIn.Add(-before), true},
		{"at check-in", booked("confirmed"), checkIn, true},
		{"during the stay, checked in", booked("checked_in"), checkIn.Add(24 * time.Hour), true},
		{"at check-out", booked("confirmed"), checkOut, true},
		{"a second after check-out", booked("confirmed"), checkOut.Add(time.Second), false},
		{"a day after check-out", booked("checked_in"), checkOut.Add(24 * time.Hour), false},
		{"a month after check-out", booked("confirmed"), checkOut.Add(30 * 24 * time.Hour), false},
		{"cancelled, during", booked("canceled"), checkIn.Add(time.Hour), false},
		{"inquiry, during", booked("inquiry"), checkIn.Add(time.Hour), false},
		{"no stay", nil, checkIn, false},
		{"no check-out date", &Stay{Status: "confirmed", CheckIn: checkIn}, checkIn, false},
		{"no check-in date", &Stay{Status: "confirmed", CheckOut: checkOut}, checkIn, false},
		{"checked checkOut early, before the booked check-out", booked("checked_out"), checkOut.Add(-24 * time.Hour), false},
	} {
		if got := c.s.Window(c.now, before); got != c.want {
			t.Errorf("%s: Window = %v, want %v", c.name, got, c.want)
		}
	}
}

// Ended decides between "the stay has ended" and "confirmed guests only"
// when a secret is refused: a checked-out guest was a guest.
func TestEnded(t *testing.T) {
	for _, c := range []struct {
		name string
		s    *Stay
		now  time.Time
		want bool
	}{
		{"confirmed, during", booked("confirmed"), checkIn.Add(time.Hour), false},
		{"confirmed, at check-out", booked("confirmed"), checkOut, false},
		{"confirmed, after check-out", booked("confirmed"), checkOut.Add(time.Second), true},
		{"checked checkIn, after check-out", booked("checked_in"), checkOut.Add(time.Hour), true},
		{"checked checkOut early", booked("checked_out"), checkOut.Add(-24 * time.Hour), true},
		{"checked checkOut, after", booked("checked_out"), checkOut.Add(24 * time.Hour), true},
		{"inquiry, after its dates", booked("inquiry"), checkOut.Add(24 * time.Hour), false},
		{"confirmed, no check-out date", &Stay{Status: "confirmed", CheckIn: checkIn}, checkOut.Add(24 * time.Hour), false},
		{"no stay", nil, checkOut.Add(time.Hour), false},
	} {
		if got := c.s.Ended(c.now); got != c.want {
			t.Errorf("%s: Ended = %v, want %v", c.name, got, c.want)
		}
	}
}

// Arrival and Departure state the listing's clock or nothing: the instant
// in the listing's zone, else Guesty's local day at the listing's default
// time, never the instant read in UTC (a Los Angeles 3 PM is not 10 PM).
func TestStayArrivalAndDeparture(t *testing.T) {
	base := Stay{CheckIn: time.Date(2025, 7, 18, 22, 0, 0, 0, time.UTC), CheckOut: time.Date(2025, 7, 21, 18, 0, 0, 0, time.UTC),
		CheckInDay: "2025-07-18", CheckOutDay: "2025-07-21"}
	tests := []struct {
		name          string
		tz, din, dout string
		in, out       string // "" : not known
		noInstants    bool   // Guesty's UTC instants missing
	}{
		{"zone", "America/Los_Angeles", "", "", "2025-07-18 15:00", "2025-07-21 11:00", false},
		{"zone wins over the defaults", "America/Los_Angeles", "16:00", "10:00", "2025-07-18 15:00", "2025-07-21 11:00", false},
		{"defaults on the local days", "", "16:00", "10:00", "2025-07-18 16:00", "2025-07-21 10:00", false},
		{"zone without the instants: the defaults", "America/Los_Angeles", "16:00", "10:00", "2025-07-18 16:00", "2025-07-21 10:00", true},
		{"an unknown zone: the defaults", "Mars/Olympus_Mons", "16:00", "10:00", "2025-07-18 16:00", "2025-07-21 10:00", false},
		{"an unknown zone and no defaults: nothing", "Mars/Olympus_Mons", "", "", "", "", false},
		{"a default check-in only", "", "16:00", "", "2025-07-18 16:00", "", false},
		{"nothing local", "", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			s.Timezone, s.DefaultCheckIn, s.DefaultCheckOut = tt.tz, tt.din, tt.dout
			if tt.noInstants {
				s.CheckIn, s.CheckOut = time.Time{}, time.Time{}
			}
			for _, c := range []struct {
				what string
				at   func() (time.Time, bool)
				want string
			}{{"arrival", s.Arrival, tt.in}, {"departure", s.Departure, tt.out}} {
				got, ok := c.at()
				if ok != (c.want != "") || (ok && got.Format("2006-01-02 15:04") != c.want) {
					t.Errorf("%s = %v, %v; want %q", c.what, got, ok, c.want)
				}
			}
		})
	}
}
