package guesty

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/webhook"
)

// countingInvoker stands in for the gateway.
type countingInvoker struct{ n atomic.Int64 }

func (c *countingInvoker) Async(context.Context, string, []byte, http.Header) error {
	c.n.Add(1)
	return nil
}

// An import stopped mid-walk resumes at its page, and the whole of it
// stores every wanted entity once: no duplicate rows, events or pending
// jobs; a second import changes nothing. A dry run writes nothing.
// The interruption falls between pages; TestImportInterruptedMidPage
// covers one inside a page (the cursor saved too early).
func TestImportInterruptedAndResumed(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t)
	now := time.Now().UTC()
	const listings, reservations = 30, 460
	fake.Generate(listings, reservations, now)
	from, to := guestytest.Stamp(now.Add(-ImportPast)), guestytest.Stamp(now.Add(ImportFuture))
	want := 0
	for i := range reservations {
		out := fake.Reservation(guestytest.ID('r', i))["checkOut"].(string)
		if out >= from && out <= to {
			want++
		}
	}
	inv := &countingInvoker{}
	hook := &Hook{Store: &webhook.Store{DB: d.Pool, Invoker: inv}, Region: "US"}
	api := client(fake, d, APIOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	s := &Sync{API: api, Hook: hook, DB: d.Pool, Name: "import", Progress: func(p Progress) {
		if pages++; p.Phase == PhaseReservations && pages == 3 {
			cancel() // Ctrl-C during the second page of reservations
		}
	}}

	dry := &Sync{API: api, Hook: hook, DB: d.Pool, Name: "import", DryRun: true}
	rep, err := dry.Import(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changes.New[KindReservation] != want || rep.Changes.New[KindListing] != 27 {
		t.Errorf("dry run: %+v; want %d new reservations, 27 listings", rep.Changes, want)
	}
	if n := dbtest.Count(t, d.Pool, "webhook_events", "") + dbtest.Count(t, d.Pool, "guesty_sync", ""); n != 0 {
		t.Fatalf("dry run wrote %d rows", n)
	}

	if _, err := s.Import(ctx, now); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	partial := dbtest.Count(t, d.Pool, "reservations", "")
	if partial == 0 || partial >= want {
		t.Fatalf("interrupted after %d of %d reservations", partial, want)
	}
	s.Progress = nil
	rep, err = s.Import(context.Background(), now.Add(time.Hour)) // resumed later: the window stays
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed {
		t.Error("not reported as resumed")
	}
	checks := map[string]struct {
		table, cond string
		want        int
	}{
		"reservations":         {"reservations", "", want},
		"active listings":      {"listings", "raw <> '{}'::jsonb", 27}, // the others are stubs named by reservations
		"guests":               {"guests", "", want},
		"one event per entity": {"webhook_events", "source = 'guesty-api'", want + 27},
		"vectorize jobs":       {"jobs", "kind = 'vectorize' AND subject LIKE 'reservation:%'", want},
		"contact-sync jobs":    {"jobs", "kind = 'contact-sync'", want},
	}
	for name, c := range checks {
		if n := dbtest.Count(t, d.Pool, c.table, c.cond); n != c.want {
			t.Errorf("%s: %d, want %d", name, n, c.want)
		}
	}
	invoked := inv.n.Load()
	rep, err = s.Import(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed || rep.Counts.Stored != 0 || rep.Counts.Unchanged != want+27 || inv.n.Load() != invoked {
		t.Errorf("second import: %+v, %d invocations; want everything unchanged, none", rep, inv.n.Load()-invoked)
	}
	if n := api.TokensRequested(); n != 1 {
		t.Errorf("tokens = %d, want 1", n)
	}
}

// cancelAfter stands in for the gateway and cancels the import's context
// after n invocations: Ctrl-C in the middle of a page.
type cancelAfter struct {
	n, after atomic.Int64
	cancel   context.CancelFunc
}

func (c *cancelAfter) Async(context.Context, string, []byte, http.Header) error {
	if c.n.Add(1) == c.after.Load() {
		c.cancel()
	}
	return nil
}

// An import stopped in the middle of a page (some of its reservations
// stored, the cursor still at the page's start) resumes at that page: the
// page's stored reservations are read again and change nothing, the rest
// are stored, and every entity has one row, one event and one job of each
// kind.
// Mutation tried: saving the cursor before applying a page (instead of
// after) skips the rest of the interrupted page on resume: reservations
// are missing.
func TestImportInterruptedMidPage(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t)
	now := time.Now().UTC()
	fake.Generate(5, 300, now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := &cancelAfter{cancel: cancel}
	// Five listings, then each reservation invokes its re-index and its
	// contact sync: stop after the 40th reservation of the first page.
	inv.after.Store(5 + 2*40)
	hook := &Hook{Store: &webhook.Store{DB: d.Pool, Invoker: inv}, Region: "US"}
	s := &Sync{API: client(fake, d, APIOptions{}), Hook: hook, DB: d.Pool, Name: "import"}
	if _, err := s.Import(ctx, now); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	partial := dbtest.Count(t, d.Pool, "reservations", "")
	var phase string
	var skip int
	if err := d.Pool.QueryRow(context.Background(), "SELECT phase, skip FROM guesty_sync WHERE name = 'import'").Scan(&phase, &skip); err != nil {
		t.Fatal(err)
	}
	if phase != PhaseReservations || skip != 0 || partial < 30 || partial >= PageLimit {
		t.Fatalf("interrupted at phase %s skip %d with %d reservations stored; want inside the first page", phase, skip, partial)
	}

	rep, err := s.Import(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := rep.Counts.Reservations
	if !rep.Resumed || want <= PageLimit {
		t.Fatalf("resumed import: %+v", rep)
	}
	for name, c := range map[string]struct {
		table, cond string
		want        int
	}{
		"reservations":            {"reservations", "", want},
		"one event per entity":    {"webhook_events", "source = 'guesty-api' AND event_type = 'api.reservation'", want},
		"one vectorize job each":  {"jobs", "kind = 'vectorize' AND subject LIKE 'reservation:%'", want},
		"one contact-sync each":   {"jobs", "kind = 'contact-sync'", want},
		"listings stored once":    {"webhook_events", "source = 'guesty-api' AND event_type = 'api.listing'", 5},
		"no reservation left out": {"reservations", "confirmation_code IS NULL", 0},
	} {
		if n := dbtest.Count(t, d.Pool, c.table, c.cond); n != c.want {
			t.Errorf("%s: %d, want %d", name, n, c.want)
		}
	}
	if rep.Counts.Unchanged < partial {
		t.Errorf("the interrupted page's stored reservations were not read again as unchanged: %+v (stored before: %d)", rep.Counts, partial)
	}
}
