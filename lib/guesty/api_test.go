package guesty

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

// TestMain starts PostgreSQL for the API tests, but not for fuzzing: every
// fuzz worker runs TestMain, and FuzzParse needs no database.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	os.Exit(dbtest.Main(m))
}

func client(fake *guestytest.Server, d *dbtest.DB, o APIOptions) *API {
	o.BaseURL, o.ClientID, o.ClientSecret = fake.URL, fake.ClientID, fake.ClientSecret
	if d != nil {
		o.DB = d.Pool
	}
	return NewAPI(o)
}

func addListing(fake *guestytest.Server, id string) {
	fake.AddListing(map[string]any{"_id": id, "title": "Home " + id, "active": true, "lastUpdatedAt": "2026-01-02T03:04:05.000Z"})
}

// Replicas and cold starts share one token through PostgreSQL: sixteen
// concurrent callers in two "processes" and ten cold starts cost Guesty
// one token; near its expiry exactly one caller renews it.
// Mutation tried: reading the stored token outside the advisory lock only
// (no re-read after acquiring it) gives 2-4 tokens for the renewal.
func TestTokenSharedAndRenewedOnce(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t)
	addListing(fake, "l1")
	ctx := context.Background()
	run := func(apis []*API, perAPI int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, len(apis)*perAPI)
		for _, a := range apis {
			for range perAPI {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := a.Listing(ctx, "l1"); err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	run([]*API{client(fake, d, APIOptions{}), client(fake, d, APIOptions{})}, 8)
	for range 10 {
		run([]*API{client(fake, d, APIOptions{})}, 1)
	}
	if n := fake.Stats().TokensIssued; n != 1 {
		t.Fatalf("tokens issued = %d, want 1 for every replica and cold start", n)
	}
	// Guesty's clock moves on: the stored token has 10 minutes left.
	if _, err := d.Pool.Exec(ctx, "UPDATE guesty_tokens SET expires_at = now() + interval '10 minutes'"); err != nil {
		t.Fatal(err)
	}
	fresh := []*API{client(fake, d, APIOptions{}), client(fake, d, APIOptions{}), client(fake, d, APIOptions{})}
	run(fresh, 6)
	if n := fake.Stats().TokensIssued; n != 2 {
		t.Fatalf("tokens issued = %d, want 2: one renewal for 18 concurrent callers", n)
	}
	var count int
	var left time.Duration
	if err := d.Pool.QueryRow(ctx, "SELECT issued_count, expires_at - now() FROM guesty_tokens").Scan(&count, &left); err != nil {
		t.Fatal(err)
	}
	if count != 2 || left < 23*time.Hour {
		t.Errorf("stored token: issued_count %d, %s left; want 2 and about 24 h", count, left)
	}
	// The token is not stored readable.
	var sealed []byte
	_ = d.Pool.QueryRow(ctx, "SELECT sealed_token FROM guesty_tokens").Scan(&sealed)
	if strings.Contains(string(sealed), "fake-token") {
		t.Error("token stored in clear")
	}
}

// A sixth token in a day is refused, as Guesty refuses it; the error
// carries the wait and is retryable, and names no secret.
// Mutation tried: treating the token endpoint's 429 as Permanent fails the
// kind check.
func TestDailyTokenCap(t *testing.T) {
	fake := guestytest.New(t)
	addListing(fake, "l1")
	for i := range guestytest.DefaultTokensPerDay {
		if _, err := client(fake, nil, APIOptions{}).Listing(context.Background(), "l1"); err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
	}
	_, err := client(fake, nil, APIOptions{}).Listing(context.Background(), "l1")
	if fault.KindOf(err) != fault.Unavailable || fault.RetryAfter(err) < 23*time.Hour || StatusOf(err) != http.StatusTooManyRequests {
		t.Fatalf("sixth token: kind %s, retry after %s, status %d: %v", fault.KindOf(err), fault.RetryAfter(err), StatusOf(err), err)
	}
	if strings.Contains(err.Error(), fake.ClientSecret) {
		t.Error("error holds the client secret")
	}
	if s := fake.Stats(); s.TokensIssued != 5 || s.TokensRefused != 1 {
		t.Errorf("fake stats %+v", s)
	}
}

func TestErrors(t *testing.T) {
	d := dbtest.New(t)
	tests := []struct {
		name      string
		setup     func(f *guestytest.Server, o *APIOptions)
		call      func(a *API) error
		kind      fault.Kind
		is        error
		msg       string
		tokens    int
		requestsN int
	}{
		{"wrong secret names both secrets", func(f *guestytest.Server, o *APIOptions) { f.ClientSecret = "rotated" },
			func(a *API) error { _, err := a.Listing(context.Background(), "l1"); return err },
			fault.Permanent, nil, "guesty-client-secret", 0, 0},
		{"403 names the resource", func(f *guestytest.Server, o *APIOptions) { f.Forbid("/v1/guests") },
			func(a *API) error { _, err := a.Guest(context.Background(), "g1"); return err },
			fault.Permanent, ErrForbidden, "access to guests", 1, 1},
		{"unknown id", nil,
			func(a *API) error { _, err := a.Reservation(context.Background(), "nope"); return err },
			fault.NotFound, nil, "no reservation nope", 1, 1},
		{"lone 502 is retried", func(f *guestytest.Server, o *APIOptions) { f.FailNext(502) },
			func(a *API) error { _, err := a.Listing(context.Background(), "l1"); return err },
			0, nil, "", 1, 2},
		{"lasting 503 is unavailable", func(f *guestytest.Server, o *APIOptions) { f.FailNext(503, 503) },
			func(a *API) error { _, err := a.Listing(context.Background(), "l1"); return err },
			fault.Unavailable, nil, "HTTP 503", 1, 2},
		{"revoked token renewed once", func(f *guestytest.Server, o *APIOptions) {},
			func(a *API) error { return nil }, 0, nil, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := guestytest.New(t)
			addListing(fake, "l1")
			fake.AddGuest(map[string]any{"_id": "g1"})
			id, secret := fake.ClientID, fake.ClientSecret
			o := APIOptions{}
			if tt.setup != nil {
				tt.setup(fake, &o)
			}
			a := NewAPI(APIOptions{BaseURL: fake.URL, ClientID: id, ClientSecret: secret})
			if tt.name == "revoked token renewed once" {
				if _, err := a.Listing(context.Background(), "l1"); err != nil {
					t.Fatal(err)
				}
				fake.Revoke()
				if _, err := a.Listing(context.Background(), "l1"); err != nil {
					t.Fatalf("after revocation: %v", err)
				}
				if n := fake.Stats().TokensIssued; n != 2 {
					t.Errorf("tokens = %d, want 2", n)
				}
				return
			}
			err := tt.call(a)
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
			} else if fault.KindOf(err) != tt.kind || !strings.Contains(fault.Public(err), tt.msg) {
				t.Fatalf("got %s %q (%v); want %s containing %q", fault.KindOf(err), fault.Public(err), err, tt.kind, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if s := fake.Stats(); s.TokensIssued != tt.tokens || s.Requests != tt.requestsN {
				t.Errorf("fake saw %d tokens, %d requests; want %d, %d", s.TokensIssued, s.Requests, tt.tokens, tt.requestsN)
			}
		})
	}
	_ = d
}

// The client keeps under the fake's limits by itself: no 429, and no
// interval of a window's length holds more than the window allows.
// Mutation tried: removing the limiter's wait gives 429s and a peak of 40
// in a second.
func TestRateLimitRespected(t *testing.T) {
	limits := guestytest.Limits{PerSecond: 6, PerMinute: 20}
	fake := guestytest.New(t, guestytest.WithLimits(limits))
	addListing(fake, "l1")
	a := client(fake, nil, APIOptions{Limits: &Limits{PerSecond: 6, PerMinute: 20}, MaxWait: time.Minute})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := a.Listing(context.Background(), "l1"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	s := fake.Stats()
	if s.Requests != 20 || s.Throttled != 0 {
		t.Errorf("fake: %+v; want 20 requests, none throttled", s)
	}
	if p := fake.Peak(time.Second); p > limits.PerSecond {
		t.Errorf("peak per second %d > %d", p, limits.PerSecond)
	}
}

// A client that does not know the limits (another process spent them)
// backs off on 429 as Retry-After says; a wait beyond the call's budget
// returns at once with the wait, for the job's back-off, instead of
// sleeping it out.
// Mutation tried: ignoring Retry-After (retrying at once) makes the fake
// count more throttled requests than the two windows allow.
func TestBackOffOn429(t *testing.T) {
	fake := guestytest.New(t, guestytest.WithLimits(guestytest.Limits{PerSecond: 3, PerMinute: 8}))
	addListing(fake, "l1")
	unaware := &Limits{PerSecond: 100}
	a := client(fake, nil, APIOptions{Limits: unaware, MaxWait: 5 * time.Second})
	for i := range 6 {
		if _, err := a.Listing(context.Background(), "l1"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if th := fake.Stats().Throttled; th < 1 || th > 2 {
		t.Errorf("throttled = %d, want 1 or 2 (one per second window crossed)", th)
	}
	// The per-minute window is spent after 8: the next wait is about a
	// minute, beyond the 5 s budget.
	_, _ = a.Listing(context.Background(), "l1")
	_, _ = a.Listing(context.Background(), "l1")
	start := time.Now()
	_, err := a.Listing(context.Background(), "l1")
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("call slept %s instead of returning the wait", el)
	}
	if fault.KindOf(err) != fault.Unavailable || fault.RetryAfter(err) < 30*time.Second {
		t.Fatalf("want Unavailable with a wait of most of a minute, got %s %s: %v", fault.KindOf(err), fault.RetryAfter(err), err)
	}
}

// List pages with limit/skip until the list ends, asks for the fields it
// names, and filters as asked.
func TestListPages(t *testing.T) {
	fake := guestytest.New(t)
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	fake.Generate(3, 250, now)
	a := client(fake, nil, APIOptions{})
	var ids []string
	var skips []int
	q := url.Values{"fields": {"_id confirmationCode"}, "sort": {"_id"}}
	err := a.List(context.Background(), "/v1/reservations", q, 0, func(p Page, next int) error {
		skips = append(skips, p.Skip)
		for _, r := range p.Results {
			var o map[string]any
			_ = json.Unmarshal(r, &o)
			if len(o) != 2 {
				t.Fatalf("fields not applied: %v", o)
			}
			ids = append(ids, o["_id"].(string))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 250 || fmt.Sprint(skips) != "[0 100 200]" {
		t.Errorf("got %d ids in pages at %v", len(ids), skips)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}
