// Package seed loads the contract fixtures through the same intake code as
// the webhooks (without signatures), for tests, benchmarks and the local
// runner's first start.
package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/webhook"
)

// Jordan's stay, as the contract fixtures tell it.
var Jordan = []string{
	"guesty/listing.updated.json", "guesty/reservation.new.json", "guesty/reservation.updated.json",
	"aircall/call.created.json", "aircall/call.ended.json", "aircall/call.voicemail_left.json",
}

// Sam is a second guest at another listing, for isolation tests.
var Sam = []string{"local/guesty.listing.second.json", "local/guesty.reservation.second.json"}

// Casey stays at Sam's listing (before Sam), and Dana at Jordan's (before
// Jordan): with LoadLive, a guest arriving today and one whose stay is over.
var (
	Casey = []string{"local/guesty.listing.second.json", "local/guesty.reservation.today.json"}
	Dana  = []string{"guesty/listing.updated.json", "local/guesty.reservation.past.json"}
)

// Sample is every sample guest's fixtures, each once, listings before
// their reservations: what the local runner loads.
func Sample() []string {
	var out []string
	seen := map[string]bool{}
	for _, names := range [][]string{Jordan, Sam, Casey, Dana} {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Load stores the named fixtures (see fixtures.List) through the hooks'
// intake path; inv receives the jobs they queue. The fixtures keep their
// own dates (July 2025), which tests depend on.
func Load(ctx context.Context, db *pgxpool.Pool, inv jobs.Invoker, names ...string) error {
	return load(ctx, db, inv, names, func(_ string, b []byte) ([]byte, error) { return b, nil })
}

// LiveCheckIn places the sample stays relative to today for LoadLive: the
// check-in day's offset in days from today, in the listing's time zone, by
// reservation id. With the door code and Wi-Fi shared from
// SECRETS_DISCLOSE_BEFORE (24 h) before check-in until check-out:
//   - Casey arrives today at 4 PM: shared all day, before the check-in hour
//     too (the window opened yesterday at 4 PM);
//   - Jordan checked in yesterday at 3 PM (three nights): shared;
//   - Sam arrives in a week: not yet, and told from when;
//   - Dana checked in six days ago for three nights, so checked out three
//     days ago at 11 AM: the stay has ended.
//
// Each stay keeps its length and its times of day.
var LiveCheckIn = map[string]int{
	CaseyReservation:  0,
	JordanReservation: -1,
	SamReservation:    7,
	DanaReservation:   -6,
}

// Reservation ids of the sample stays.
const (
	JordanReservation = "6701a2b3c4d5e6f708192a3b"
	SamReservation    = "6701a2b3c4d5e6f708192b7c"
	CaseyReservation  = "6701a2b3c4d5e6f708192c8d"
	DanaReservation   = "6701a2b3c4d5e6f708192d9e"
)

// LoadLive is Load for the local runner: the reservations of LiveCheckIn
// are moved by whole days, in their listing's time zone, so that their
// check-in falls on the planned day relative to now; every date of such a
// reservation moves with it (creation, last update), so the fixtures'
// order of events holds. The same now gives the same rows.
func LoadLive(ctx context.Context, db *pgxpool.Pool, inv jobs.Invoker, now time.Time, names ...string) error {
	zones := map[string]*time.Location{} // listing id -> its time zone
	for _, name := range names {
		var ev struct {
			Listing struct {
				ID       string `json:"_id"`
				Timezone string `json:"timezone"`
			} `json:"listing"`
		}
		if json.Unmarshal(fixtures.Read(name), &ev) != nil || ev.Listing.ID == "" || ev.Listing.Timezone == "" {
			continue
		}
		loc, err := time.LoadLocation(ev.Listing.Timezone)
		if err != nil {
			return fmt.Errorf("seed %s: time zone: %w", name, err)
		}
		zones[ev.Listing.ID] = loc
	}
	return load(ctx, db, inv, names, func(name string, b []byte) ([]byte, error) {
		out, err := moveStay(b, now, zones)
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", name, err)
		}
		return out, nil
	})
}

// Fields of a Guesty reservation that moveStay shifts.
var (
	instantFields = []string{"checkIn", "checkOut", "createdAt", "confirmedAt", "lastUpdatedAt"}
	dateFields    = []string{"checkInDateLocalized", "checkOutDateLocalized"}
)

// guestyInstant is how Guesty writes an instant.
const guestyInstant = "2006-01-02T15:04:05.000Z07:00"

// moveStay returns a Guesty reservation event with its dates moved as
// LiveCheckIn plans; any other body comes back unchanged.
func moveStay(body []byte, now time.Time, zones map[string]*time.Location) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return body, nil // not an object: not a reservation event
	}
	r, _ := ev["reservation"].(map[string]any)
	id, _ := r["_id"].(string)
	offset, ok := LiveCheckIn[id]
	if !ok {
		return body, nil
	}
	listing, _ := r["listingId"].(string)
	loc := zones[listing]
	if loc == nil {
		loc = time.UTC
	}
	in, ok := r["checkIn"].(string)
	if !ok {
		return nil, fmt.Errorf("reservation %s has no checkIn", id)
	}
	checkIn, err := time.Parse(time.RFC3339, in)
	if err != nil {
		return nil, fmt.Errorf("reservation %s: checkIn: %w", id, err)
	}
	days := civilDays(checkIn.In(loc), now.In(loc)) + offset
	for _, f := range instantFields {
		v, ok := r[f].(string)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("reservation %s: %s: %w", id, f, err)
		}
		// AddDate in the listing's zone keeps the local time of day across
		// a daylight-saving change.
		r[f] = t.In(loc).AddDate(0, 0, days).UTC().Format(guestyInstant)
	}
	for _, f := range dateFields {
		v, ok := r[f].(string)
		if !ok {
			continue
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return nil, fmt.Errorf("reservation %s: %s: %w", id, f, err)
		}
		r[f] = d.AddDate(0, 0, days).Format(time.DateOnly)
	}
	return json.Marshal(ev)
}

// civilDays is the number of calendar days from a's date to b's date, each
// read in its own location.
func civilDays(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

func load(ctx context.Context, db *pgxpool.Pool, inv jobs.Invoker, names []string, rewrite func(name string, body []byte) ([]byte, error)) error {
	store := &webhook.Store{DB: db, Invoker: inv}
	ac, err := aircall.NewHook(store, []string{fixtures.AircallToken}, "US")
	if err != nil {
		return err
	}
	gh := &guesty.Hook{Store: store, Region: "US"}
	for i, name := range names {
		body, err := rewrite(name, fixtures.Read(name))
		if err != nil {
			return err
		}
		base := path.Base(name)
		switch {
		case strings.HasPrefix(name, "aircall/") || strings.HasPrefix(base, "aircall."):
			_, err = ac.Receive(ctx, body)
		case strings.HasPrefix(name, "guesty/") || strings.HasPrefix(base, "guesty."):
			h := http.Header{}
			h.Set("svix-id", fmt.Sprintf("seed-%s-%d", base, i))
			_, err = gh.Receive(ctx, h, body)
		default:
			err = fmt.Errorf("no intake for fixture %s", name)
		}
		if err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	return nil
}
