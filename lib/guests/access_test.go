package guests_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guests"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// For is what a guest may see: their active reservations, those
// reservations' listings (each once), and the stay the conversation is
// most likely about; a stranger sees the listings still offered. Written
// for `make mutate`; the mutants each case kills are named beside it.
func TestFor(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 7, 12, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO listings (id, title, timezone, removed_at) VALUES
			('L-sea', 'Sea View Loft', 'Europe/Lisbon', NULL),
			('L-old', 'Old Town Flat', 'Europe/Lisbon', NULL),
			('L-gone', 'Sold Cottage', 'Europe/Lisbon', now())`, nil},
		{`INSERT INTO guests (id, full_name) VALUES ('g-jordan', 'Jordan Lee'), ('g-past', 'Pat Past'), ('g-none', 'No Stays'), ('g-sam', 'Sam Rivera')`, nil},
		{`INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out, guests_count, planned_arrival) VALUES
			('R-last-year', 'C-OLD', 'checked_out', 'L-old', 'g-jordan', $1, $2, 2, NULL),
			('R-now', 'C-NOW', 'confirmed', 'L-sea', 'g-jordan', $3, $4, 3, '16:30'),
			('R-next', 'C-NEXT', 'confirmed', 'L-sea', 'g-jordan', $5, $6, 1, NULL),
			('R-undated', NULL, 'inquiry', NULL, 'g-jordan', NULL, NULL, NULL, NULL),
			('R-cancelled', 'C-X', 'canceled', 'L-gone', 'g-jordan', $3, $4, 2, NULL),
			('R-declined', 'C-D', 'declined', 'L-gone', 'g-jordan', $3, $4, 2, NULL),
			('R-sam', 'C-SAM', 'confirmed', 'L-gone', 'g-sam', $3, $4, 2, NULL),
			('R-past-1', 'C-P1', 'checked_out', 'L-old', 'g-past', $1, $2, 2, NULL),
			('R-past-2', 'C-P2', 'checked_out', 'L-sea', 'g-past', $7, $8, 2, NULL)`,
			[]any{now.Add(-365 * day), now.Add(-360 * day), now.Add(-day), now.Add(2 * day), now.Add(30 * day), now.Add(33 * day),
				now.Add(-20 * day), now.Add(-15 * day)}},
	} {
		if _, err := d.Pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("stranger sees the listings on offer", func(t *testing.T) {
		// Kills: `guestID == ""` negated.
		a, err := guests.For(ctx, d.Pool, "", now)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(a.Scope.ListingIDs)
		if a.GuestID != "" || a.Stay != nil || a.Scope.GuestID != "" || len(a.Scope.ReservationIDs) != 0 ||
			!slices.Equal(a.Scope.ListingIDs, []string{"L-old", "L-sea"}) {
			t.Fatalf("stranger: %+v", a)
		}
	})

	t.Run("guest with a stay under way", func(t *testing.T) {
		// Kills: `s.ListingID != "" && !seen[...]` negated or made ||
		// (a listing twice, or the empty one), the current-stay condition's
		// `a.Stay == nil` negated and its && made || (a later or past stay
		// chosen), `in != nil` / `out != nil` negated (dates lost, or a nil
		// dereference).
		a, err := guests.For(ctx, d.Pool, "g-jordan", now)
		if err != nil {
			t.Fatal(err)
		}
		if a.GuestID != "g-jordan" || a.Scope.GuestID != "g-jordan" {
			t.Errorf("guest %q, scope guest %q", a.GuestID, a.Scope.GuestID)
		}
		// Ordered by check-in, undated last; cancelled and declined left out.
		if want := []string{"R-last-year", "R-now", "R-next", "R-undated"}; !slices.Equal(a.Scope.ReservationIDs, want) {
			t.Errorf("reservations %v, want %v", a.Scope.ReservationIDs, want)
		}
		if want := []string{"L-old", "L-sea"}; !slices.Equal(a.Scope.ListingIDs, want) {
			t.Errorf("listings %v, want %v", a.Scope.ListingIDs, want)
		}
		if a.Stay == nil {
			t.Fatal("no stay")
		}
		s := *a.Stay
		want := guests.Stay{ReservationID: "R-now", ConfirmationCode: "C-NOW", Status: "confirmed", ListingID: "L-sea",
			ListingTitle: "Sea View Loft", Timezone: "Europe/Lisbon", CheckIn: now.Add(-day), CheckOut: now.Add(2 * day),
			GuestsCount: 3, PlannedArrival: "16:30"}
		if !s.CheckIn.Equal(want.CheckIn) || !s.CheckOut.Equal(want.CheckOut) {
			t.Errorf("stay dates %s – %s, want %s – %s", s.CheckIn, s.CheckOut, want.CheckIn, want.CheckOut)
		}
		s.CheckIn, s.CheckOut, want.CheckIn, want.CheckOut = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if s != want {
			t.Errorf("stay %+v, want %+v", s, want)
		}
		if !a.Stay.Window(now, 48*time.Hour) {
			t.Error("the stay under way is not in its disclosure window")
		}
	})

	t.Run("between stays: the next one", func(t *testing.T) {
		a, err := guests.For(ctx, d.Pool, "g-jordan", now.Add(10*day))
		if err != nil {
			t.Fatal(err)
		}
		if a.Stay == nil || a.Stay.ReservationID != "R-next" {
			t.Fatalf("stay %+v, want R-next", a.Stay)
		}
		if a.Stay.Window(now.Add(10*day), 48*time.Hour) {
			t.Error("the next stay's window is open 20 days ahead")
		}
	})

	t.Run("only past stays: the latest", func(t *testing.T) {
		// Kills: `a.Stay == nil && len(stays) > 0` negated, made || or
		// >= (an index out of range, or no stay), `len(stays)-1` made +1.
		a, err := guests.For(ctx, d.Pool, "g-past", now)
		if err != nil {
			t.Fatal(err)
		}
		if a.Stay == nil || a.Stay.ReservationID != "R-past-2" {
			t.Fatalf("stay %+v, want the latest past stay R-past-2", a.Stay)
		}
		if a.Stay.Window(now, 48*time.Hour) {
			t.Error("a stay that ended 15 days ago is in its disclosure window")
		}
	})

	t.Run("no stays", func(t *testing.T) {
		a, err := guests.For(ctx, d.Pool, "g-none", now)
		if err != nil {
			t.Fatal(err)
		}
		if a.Stay != nil || len(a.Scope.ReservationIDs) != 0 || len(a.Scope.ListingIDs) != 0 || a.Scope.GuestID != "g-none" {
			t.Fatalf("no stays: %+v", a)
		}
	})

	t.Run("database gone", func(t *testing.T) {
		// Kills: each `err != nil` negated in For (an error swallowed
		// into an empty scope would hide a guest's own data, or worse,
		// an error returned with a success).
		d2 := dbtest.New(t)
		d2.Pool.Close()
		for _, id := range []string{"", "g-jordan"} {
			if a, err := guests.For(ctx, d2.Pool, id, now); err == nil {
				t.Errorf("For(%q) on a closed pool = %+v, no error", id, a)
			}
		}
	})
}
