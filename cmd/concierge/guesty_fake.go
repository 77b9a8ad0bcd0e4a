package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

const fakeGuestyUsage = `usage: concierge fake-guesty [--addr 127.0.0.1:8091] [--listings N --reservations N]

Serves a fake Guesty Open API on loopback (lib/guesty/guestytest: OAuth
tokens with Guesty's cap of five a day, its rate limits with 429 and
Retry-After, pagination, field selection), so the Open API paths run
without a Guesty account:

  - it holds the contract fixtures' account: the Harbor View Loft with
    Jordan Avery's reservation 6701a2b3c4d5e6f708192a3b, and Sam Rivera's
    cabin and stay; a lean v2 webhook naming Jordan's reservation is
    completed by guesty-fetch from here;
  - --listings and --reservations add a generated account of that size,
    for make import-guesty.

Point make run (SEED_FIXTURES=false for a v2-only account) and make
import-guesty at it with the settings it prints.
`

// fakeGuestyAddr is where the fake listens unless --addr says otherwise:
// beside make run's 8080.
const fakeGuestyAddr = "127.0.0.1:8091"

// fakeGuesty runs `concierge fake-guesty` until ctx ends.
func fakeGuesty(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fake-guesty", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", fakeGuestyAddr, "")
	listings := fs.Int("listings", 0, "")
	reservations := fs.Int("reservations", 0, "")
	if help, err := parseArgs(fs, args, fakeGuestyUsage, out); help || err != nil {
		return err
	}
	if *listings < 0 || *reservations < 0 || (*reservations > 0 && *listings == 0) {
		return fmt.Errorf("bad arguments (reservations need listings)\n%s", fakeGuestyUsage)
	}
	fake := guestytest.NewServer()
	if err := seedFakeGuesty(fake); err != nil {
		return err
	}
	if *listings > 0 {
		fake.Generate(*listings, *reservations, time.Now().UTC())
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fake-guesty: listen on %s (--addr to change it): %w", *addr, err)
	}
	fake.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(out, "fake Guesty Open API on %s (Ctrl-C stops it); in the terminals of make run and make import-guesty:\n", fake.URL)
	fmt.Fprintf(out, "  export GUESTY_API_URL=%s GUESTY_CLIENT_ID=%s GUESTY_CLIENT_SECRET=%s\n", fake.URL, fake.ClientID, fake.ClientSecret)
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("fake-guesty: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := fake.Stats()
	fmt.Fprintf(out, "served %d API requests (%d throttled), issued %d tokens\n", st.Requests, st.Throttled, st.TokensIssued)
	return srv.Shutdown(sctx)
}

// fakeGuestyFixtures are the contract fixtures whose objects the fake
// holds, as Guesty would serve them.
var fakeGuestyFixtures = []struct{ fixture, kind string }{
	{"guesty/listing.updated.json", "listing"},
	{"guesty/reservation.new.json", "reservation"},
	{"local/guesty.listing.second.json", "listing"},
	{"local/guesty.reservation.second.json", "reservation"},
}

// seedFakeGuesty stores the fixtures' listings, reservations and the
// guests the reservations embed.
func seedFakeGuesty(fake *guestytest.Server) error {
	for _, f := range fakeGuestyFixtures {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(fixtures.Read(f.fixture), &env); err != nil {
			return fmt.Errorf("fixture %s: %w", f.fixture, err)
		}
		if err := fake.AddJSON(f.kind, env[f.kind]); err != nil {
			return fmt.Errorf("fixture %s: %w", f.fixture, err)
		}
		if f.kind != "reservation" {
			continue
		}
		var r struct {
			Guest json.RawMessage `json:"guest"`
		}
		if err := json.Unmarshal(env[f.kind], &r); err == nil && len(r.Guest) > 0 {
			if err := fake.AddJSON("guest", r.Guest); err != nil {
				return fmt.Errorf("fixture %s guest: %w", f.fixture, err)
			}
		}
	}
	return nil
}
