package function

import (
	"context"
	"testing"

	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/seed"
)

// A reservation stored before its listing has no time zone. A Los Angeles
// check-in at 5:30 PM is the next day in UTC; the contact's check-in date
// is Guesty's local date (checkInDateLocalized), not the instant's UTC day.
func TestContactSyncDatesWithoutTheListing(t *testing.T) {
	s := start(t, nil)
	if err := seed.Load(context.Background(), s.DB.Pool, &fntest.Recorder{}, "guesty/reservation.new.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(context.Background(), `UPDATE reservations
		SET check_in = '2025-07-19T00:30:00Z', check_out = '2025-07-22T01:00:00Z' WHERE id = '6701a2b3c4d5e6f708192a3b'`); err != nil {
		t.Fatal(err)
	}
	if res := s.syncJordan(t); res["outcome"] != "created" {
		t.Fatalf("sync: %v", res)
	}
	contacts := s.fake.Contacts(acct)
	if len(contacts) != 1 {
		t.Fatalf("%d contacts", len(contacts))
	}
	got := contacts[0].CustomAttributes
	if got["check_in"] != "2025-07-18" || got["check_out"] != "2025-07-21" {
		t.Errorf("check_in %v, check_out %v; want Guesty's local days 2025-07-18 and 2025-07-21", got["check_in"], got["check_out"])
	}
}
