package seed_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/answer"
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
	casey  = "66a1f0c2e4b0a1b2c3d4e5c3"
	dana   = "66a1f0c2e4b0a1b2c3d4e5d4"
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

// The runner's sample stays are placed relative to today, in each
// listing's own time zone, whatever the hour: Casey arrives today (the door
// code and Wi-Fi already shared, before the check-in hour too), Jordan is
// in the middle of a stay (shared), Sam arrives in a week (not yet), Dana
// left three days ago (no longer), each at the listing's local check-in
// and check-out times, daylight saving or not.
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
		{"a minute after midnight in Denver", time.Date(2026, 6, 1, 0, 1, 0, 0, denver)},
		{"a minute before midnight in Denver", time.Date(2026, 6, 1, 23, 59, 0, 0, denver)},
		{"Denver morning, before Casey's check-in hour", time.Date(2026, 11, 3, 9, 0, 0, 0, denver)},
		{"a minute after midnight in LA", time.Date(2026, 11, 3, 0, 1, 0, 0, la)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.New(t)
			if err := seed.LoadLive(ctx, d.Pool, &fntest.Recorder{}, tc.now, seed.Sample()...); err != nil {
				t.Fatal(err)
			}
			stays := map[string]struct {
				guest    string
				loc      *time.Location
				inDays   int
				in, out  string // local times of day
				disclose bool   // at now
				ended    bool   // check-out before now
			}{
				seed.CaseyReservation:  {casey, denver, 0, "16:00", "10:00", true, false},
				seed.JordanReservation: {jordan, la, -1, "15:00", "11:00", true, false},
				seed.SamReservation:    {sam, denver, 7, "16:00", "10:00", false, false},
				seed.DanaReservation:   {dana, la, -6, "15:00", "11:00", false, true},
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
				if got := out.Before(tc.now); got != want.ended {
					t.Errorf("%s: stay over at %s = %v, want %v (check-out %s)", id, tc.now, got, want.ended, out)
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
				// Everyone's turn comes from 24 h before check-in.
				if !a.Stay.Window(a.Stay.CheckIn.Add(-discloseBefore), discloseBefore) {
					t.Errorf("%s: secrets not shared 24 h before check-in", id)
				}
			}
			// The later Guesty update (13:00 arrival) still wins over the first event.
			if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND planned_arrival = '13:00'", seed.JordanReservation); n != 1 {
				t.Error("Jordan's reservation.updated did not apply after reservation.new")
			}
			// Two stays a listing, one after the other: never overlapping.
			if n := dbtest.Count(t, d.Pool, "reservations a JOIN reservations b ON a.listing_id = b.listing_id AND a.id < b.id",
				"a.check_in < b.check_out AND b.check_in < a.check_out"); n != 0 {
				t.Errorf("%d sample stays overlap at one listing", n)
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
		if err := seed.LoadLive(context.Background(), d.Pool, &fntest.Recorder{}, now, seed.Sample()...); err != nil {
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
		} else if len(got) != 4 || !slices.Equal(got, first) {
			t.Errorf("second load differs:\n%v\n%v", first, got)
		}
	}
}

// The sample conversations are answered when the runner seeds and then
// dated back (seed.Conversations): honest only if every question about
// the door code or Wi-Fi got the answer it would have got when it is
// dated. Whatever the hour, each such question falls where its guest's
// window was as it is at the seeding (open, not yet open, or over).
func TestDaysAreTrueWhenDatedBack(t *testing.T) {
	policy, err := answer.ParsePolicy(answer.DefaultTopics, answer.DefaultPerson, answer.DefaultSecrets, answer.DefaultStay)
	if err != nil {
		t.Fatal(err)
	}
	la := mustZone(t, "America/Los_Angeles")
	denver := mustZone(t, "America/Denver")
	asked := 0
	for _, now := range []time.Time{
		time.Date(2026, 12, 6, 0, 10, 0, 0, denver),
		time.Date(2026, 12, 6, 15, 50, 0, 0, denver),
		time.Date(2026, 12, 6, 23, 50, 0, 0, la),
		time.Date(2027, 3, 14, 1, 0, 0, 0, la), // daylight saving starts
		time.Date(2027, 7, 1, 12, 0, 0, 0, time.UTC),
	} {
		ctx := context.Background()
		d := dbtest.New(t)
		if err := seed.LoadLive(ctx, d.Pool, &fntest.Recorder{}, now, seed.Sample()...); err != nil {
			t.Fatal(err)
		}
		state := func(s *guests.Stay, at time.Time) string {
			switch {
			case s.Window(at, discloseBefore):
				return "shared"
			case at.After(s.CheckOut):
				return "ended"
			}
			return "not yet"
		}
		var prev time.Duration = 1 << 62
		for i, ex := range seed.Days {
			if ex.Ago >= prev || ex.Ago <= 0 || ex.Ago > 7*24*time.Hour {
				t.Errorf("Days[%d]: %s ago, want within the week and oldest first", i, ex.Ago)
			}
			prev = ex.Ago
			g, ok := seed.FindGuest(ex.Guest)
			if !ok {
				t.Fatalf("Days[%d]: no sample guest %q", i, ex.Guest)
			}
			text := strings.TrimSpace(strings.Join(append(append([]string{}, ex.Texts...), ex.Spoken), " "))
			if g.GuestID == "" || !policy.AsksForSecret(text) {
				continue
			}
			asked++
			a, err := guests.For(ctx, d.Pool, g.GuestID, now)
			if err != nil || a.Stay == nil {
				t.Fatalf("%s: %v %+v", g.Name, err, a.Stay)
			}
			if then, seeded := state(a.Stay, now.Add(-ex.Ago)), state(a.Stay, now); then != seeded {
				t.Errorf("at %s, %s's %q is answered %q but dated %s ago, when it was %q", now, g.Name, text, seeded, ex.Ago, then)
			}
		}
	}
	if asked == 0 {
		t.Fatal("no sample question about a secret")
	}
}
