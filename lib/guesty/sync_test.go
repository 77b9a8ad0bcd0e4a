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
// Mutation tried: saving the cursor before applying a page (instead of
// after) loses the page the interruption fell on: rows are missing.
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
