package seed_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Guesty guest ids of the sample guests.
const (
	jordan = "66a1f0c2e4b0a1b2c3d4e5f6"
	sam    = "66a1f0c2e4b0a1b2c3d4e5a7"
)

// discloseBefore is SECRETS_DISCLOSE_BEFORE's default.
const discloseBefore = 24 * time.Hour

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// The runner's sample stays are placed relative to today: on any day Jordan
// is in the middle of a stay (door code and Wi-Fi shared), Sam arrives in a
// week (not yet), each at the listing's own local check-in and check-out
// times, daylight saving or not.
func TestLoadLivePlacesStaysRelativeToToday(t *testing.T) {
	la := mustZone(t, "America/Los_Angeles")
	denver := mustZone(t, "America/Denver")
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"winter", time.Date(2026, 12, 6, 10, 47, 0, 0, time.UTC)},
		{"summer", time.Date(2027, 7, 1, 12, 0, 0, 0, time.UTC)},
		{"the day daylight saving starts", time.Date(2027, 3, 14, 12, 0, 0, 0, la)},
		{"late evening in LA, already tomorrow in UTC", time.Date(2026, 5, 31, 23, 30, 0, 0, la)},
		{"early morning UTC, still yesterday in LA", time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.New(t)
			if err := seed.LoadLive(ctx, d.Pool, &fntest.Recorder{}, tc.now, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
				t.Fatal(err)
			}
			stays := map[string]struct {
				guest    string
				loc      *time.Location
				inDays   int
				in, out  string // local times of day
				disclose bool   // at now
			}{
				seed.JordanReservation: {jordan, la, -1, "15:00", "11:00", true},
				seed.SamReservation:    {sam, denver, 7, "16:00", "10:00", false},
			}
			for id, want := range stays {
				var in, out time.Time
				var inLocal, outLocal time.Time
				var nights int
				if err := d.Pool.QueryRow(ctx, `SELECT check_in, check_out, check_in_local, check_out_local, nights_count
					FROM reservations WHERE id = $1`, id).Scan(&in, &out, &inLocal, &outLocal, &nights); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				today := tc.now.In(want.loc)
				wantIn := time.Date(today.Year(), today.Month(), today.Day()+want.inDays, 0, 0, 0, 0, time.UTC)
				if got := in.In(want.loc); got.Format(time.DateOnly) != wantIn.Format(time.DateOnly) || got.Format("15:04") != want.in {
					t.Errorf("%s: check-in %s local, want %s %s", id, got, wantIn.Format(time.DateOnly), want.in)
				}
				if inLocal.Format(time.DateOnly) != wantIn.Format(time.DateOnly) {
					t.Errorf("%s: check_in_local %s, want %s", id, inLocal.Format(time.DateOnly), wantIn.Format(time.DateOnly))
				}
				if got := out.In(want.loc); got.Format(time.DateOnly) != wantIn.AddDate(0, 0, nights).Format(time.DateOnly) || got.Format("15:04") != want.out {
					t.Errorf("%s: check-out %s local, want %d nights later at %s", id, got, nights, want.out)
				}
				if outLocal.Format(time.DateOnly) != out.In(want.loc).Format(time.DateOnly) {
					t.Errorf("%s: check_out_local %s, check_out %s", id, outLocal.Format(time.DateOnly), out.In(want.loc))
				}
				a, err := guests.For(ctx, d.Pool, want.guest, tc.now)
				if err != nil {
					t.Fatal(err)
				}
				if a.Stay == nil || a.Stay.ReservationID != id {
					t.Fatalf("%s: access stay %+v", want.guest, a.Stay)
				}
				if got := a.Stay.Window(tc.now, discloseBefore); got != want.disclose {
					t.Errorf("%s: secrets shared at %s = %v, want %v (stay %s to %s)", id, tc.now, got, want.disclose, a.Stay.CheckIn, a.Stay.CheckOut)
				}
				// Sam's turn comes: the day before arrival, from 24 h before check-in.
				if !a.Stay.Window(a.Stay.CheckIn.Add(-discloseBefore), discloseBefore) {
					t.Errorf("%s: secrets not shared 24 h before check-in", id)
				}
			}
			// The later Guesty update (13:00 arrival) still wins over the first event.
			if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND planned_arrival = '13:00'", seed.JordanReservation); n != 1 {
				t.Error("Jordan's reservation.updated did not apply after reservation.new")
			}
		})
	}
}

// Load keeps the fixtures' own dates: tests depend on them.
func TestLoadKeepsFixtureDates(t *testing.T) {
	d := dbtest.New(t)
	if err := seed.Load(context.Background(), d.Pool, &fntest.Recorder{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	for id, in := range map[string]string{seed.JordanReservation: "2025-07-18T22:00:00Z", seed.SamReservation: "2025-07-19T22:00:00Z"} {
		var got time.Time
		if err := d.Pool.QueryRow(context.Background(), "SELECT check_in FROM reservations WHERE id = $1", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got.UTC().Format(time.RFC3339) != in {
			t.Errorf("%s: check_in %s, want the fixture's %s", id, got.UTC().Format(time.RFC3339), in)
		}
	}
}

// The same now gives the same rows.
func TestLoadLiveIsDeterministic(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 47, 0, 0, time.UTC)
	var first []string
	for i := 0; i < 2; i++ {
		d := dbtest.New(t)
		if err := seed.LoadLive(context.Background(), d.Pool, &fntest.Recorder{}, now, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
			t.Fatal(err)
		}
		rows, err := d.Pool.Query(context.Background(), "SELECT id || ' ' || check_in::text || ' ' || check_out::text || ' ' || raw::text FROM reservations ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		rows.Close()
		if i == 0 {
			first = got
		} else if len(got) != len(first) || len(got) != 2 || got[0] != first[0] || got[1] != first[1] {
			t.Errorf("second load differs:\n%v\n%v", first, got)
		}
	}
}
