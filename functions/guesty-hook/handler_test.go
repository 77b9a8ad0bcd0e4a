package function

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func start(t *testing.T) *faastest.Harness {
	t.Helper()
	return faastest.Start(t, Name, New, map[string]string{"GUESTY_WEBHOOK_SECRET": fixtures.GuestySecret})
}

// sign returns Svix headers for body as Guesty would send them.
func sign(body []byte, id string, at time.Time) http.Header {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(fixtures.GuestySecret, "whsec_"))
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

var msgSeq int

func post(t *testing.T, h *faastest.Harness, name string) (int, string) {
	t.Helper()
	msgSeq++
	body := fixtures.Read(name)
	return h.Post(t, body, sign(body, fmt.Sprintf("msg_test_%d", msgSeq), time.Now()))
}

func TestKnownAnswerSignature(t *testing.T) {
	h := start(t)
	body := fixtures.Read("guesty/reservation.new.json")
	hdr := http.Header{}
	hdr.Set("svix-id", fixtures.SvixID)
	hdr.Set("svix-timestamp", fixtures.SvixTimestamp)
	hdr.Set("svix-signature", fixtures.SvixSignature)

	// The vector's timestamp is old: a real clock must reject it.
	if code, body := h.Post(t, body, hdr); code != http.StatusUnauthorized {
		t.Fatalf("stale known-answer vector: %d %s, want 401", code, body)
	}
	ts, _ := strconv.ParseInt(fixtures.SvixTimestamp, 10, 64)
	h.Clock.Set(time.Unix(ts, 0).Add(42 * time.Second))
	if code, out := h.Post(t, body, hdr); code != http.StatusOK || !strings.Contains(out, "stored") {
		t.Fatalf("known-answer vector: %d %s", code, out)
	}
	// Several signatures, the first from a rotated-out key; webhook-* aliases.
	alias := http.Header{}
	alias.Set("webhook-id", fixtures.SvixID)
	alias.Set("webhook-timestamp", fixtures.SvixTimestamp)
	alias.Set("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,ignored "+fixtures.SvixSignature)
	if code, out := h.Post(t, body, alias); code != http.StatusOK || !strings.Contains(out, "duplicate") {
		t.Fatalf("aliased headers with several signatures: %d %s, want 200 duplicate", code, out)
	}
	for _, skew := range []time.Duration{-5*time.Minute - time.Second, 5*time.Minute + time.Second} {
		h.Clock.Set(time.Unix(ts, 0).Add(skew))
		if code, _ := h.Post(t, body, hdr); code != http.StatusUnauthorized {
			t.Errorf("clock skew %s: %d, want 401", skew, code)
		}
	}
}

func TestContractFixturesLandRows(t *testing.T) {
	h := start(t)
	for _, name := range fixtures.List("guesty") {
		if code, body := post(t, h, name); code != http.StatusOK || !strings.Contains(body, "stored") {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	ctx := context.Background()
	var (
		status, code, arrival, listing, guest string
		guests                                int
		checkIn                               time.Time
		checkInLocal                          time.Time
		refresh                               bool
	)
	err := h.DB.Pool.QueryRow(ctx, `SELECT status, confirmation_code, planned_arrival, listing_id, guest_id,
		guests_count, check_in, check_in_local, needs_refresh FROM reservations WHERE id = '6701a2b3c4d5e6f708192a3b'`).
		Scan(&status, &code, &arrival, &listing, &guest, &guests, &checkIn, &checkInLocal, &refresh)
	if err != nil {
		t.Fatal(err)
	}
	if status != "confirmed" || code != "HMK7M2Q9XA" || arrival != "13:00" || guests != 3 ||
		listing != "64f2b7c9d1e8a3f4b5c6d7e8" || guest != "66a1f0c2e4b0a1b2c3d4e5f6" || refresh ||
		!checkIn.Equal(time.Date(2025, 7, 18, 22, 0, 0, 0, time.UTC)) || checkInLocal.Format("2006-01-02") != "2025-07-18" {
		t.Errorf("reservation = %s %s %s %s %s %d %s %s %v", status, code, arrival, listing, guest, guests, checkIn, checkInLocal, refresh)
	}
	if n := dbtest.Count(t, h.DB.Pool, "guests", "id = '66a1f0c2e4b0a1b2c3d4e5f6' AND phone_e164 = '+15555550142' AND email = 'jordan.avery@example.com' AND full_name = 'Jordan Avery'"); n != 1 {
		t.Errorf("guest from the reservation not stored with normalised phone and email")
	}
	if n := dbtest.Count(t, h.DB.Pool, "listings", "id = '64f2b7c9d1e8a3f4b5c6d7e8' AND timezone = 'America/Los_Angeles' AND default_check_in_time = '15:00' AND raw->'publicDescription'->>'houseRules' LIKE '%Quiet hours%'"); n != 1 {
		t.Errorf("listing not stored with its details")
	}
	// reservation.new and .updated coalesce into one pending job per subject.
	for subject, kind := range map[string]string{
		"reservation:6701a2b3c4d5e6f708192a3b": "vectorize",
		"listing:64f2b7c9d1e8a3f4b5c6d7e8":     "vectorize",
		"guest:66a1f0c2e4b0a1b2c3d4e5f6":       "contact-sync",
	} {
		if n := dbtest.Count(t, h.DB.Pool, "jobs", "subject = $1 AND kind = $2 AND status = 'pending'", subject, kind); n != 1 {
			t.Errorf("%s job for %s: %d, want 1", kind, subject, n)
		}
	}
	byFunction := map[string]int{}
	for _, c := range h.Invoked.Calls() {
		byFunction[c.Function]++
	}
	if byFunction["vectorize"] != 3 || byFunction["chatwoot-reply"] != 2 {
		t.Errorf("invocations by function = %v, want vectorize 3, chatwoot-reply 2", byFunction)
	}
}

func TestLocalEvents(t *testing.T) {
	h := start(t)
	steps := []struct {
		fixture string
		check   string
	}{
		{"guesty/reservation.updated.json", "SELECT count(*) FROM reservations WHERE status = 'confirmed' AND guests_count = 3"},
		{"local/guesty.guest.created.json", "SELECT count(*) FROM guests WHERE email = 'jordan.avery@example.com' AND deleted_at IS NULL AND source_updated_at IS NOT NULL"},
		{"local/guesty.reservation.updated.v2.json", "SELECT count(*) FROM reservations WHERE status = 'canceled' AND needs_refresh AND guests_count = 3 AND planned_arrival = '13:00'"},
		{"local/guesty.listing.removed.json", "SELECT count(*) FROM listings WHERE id = '64f2b7c9d1e8a3f4b5c6d7e8' AND removed_at IS NOT NULL"},
		{"local/guesty.guest.deleted.json", "SELECT count(*) FROM guests WHERE id = '66a1f0c2e4b0a1b2c3d4e5f6' AND deleted_at IS NOT NULL"},
	}
	for _, s := range steps {
		if code, body := post(t, h, s.fixture); code != http.StatusOK || !strings.Contains(body, "stored") {
			t.Fatalf("%s: %d %s", s.fixture, code, body)
		}
		var n int
		if err := h.DB.Pool.QueryRow(context.Background(), s.check).Scan(&n); err != nil || n != 1 {
			t.Errorf("after %s: %q = %d (%v), want 1", s.fixture, s.check, n, err)
		}
	}
}

func TestRetriedDeliveryStoredOnce(t *testing.T) {
	h := start(t)
	body := fixtures.Read("guesty/reservation.new.json")
	hdr := sign(body, "msg_retry", time.Now())
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i], _ = h.Post(t, body, hdr) }()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 1 {
		t.Errorf("webhook_events = %d, want 1", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "reservations", ""); n != 1 {
		t.Errorf("reservations = %d, want 1", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", ""); n != 2 {
		t.Errorf("jobs = %d, want 2 (vectorize + contact-sync)", n)
	}
	if n := len(h.Invoked.Calls()); n != 2 {
		t.Errorf("invocations = %d, want 2", n)
	}
}

func TestOlderEventNeverRegresses(t *testing.T) {
	h := start(t)
	post(t, h, "guesty/reservation.updated.json")
	post(t, h, "guesty/reservation.new.json")
	var arrival string
	var guests int
	if err := h.DB.Pool.QueryRow(context.Background(), "SELECT planned_arrival, guests_count FROM reservations").Scan(&arrival, &guests); err != nil {
		t.Fatal(err)
	}
	if arrival != "13:00" || guests != 3 {
		t.Errorf("after an older event: arrival %s, guests %d; want 13:00, 3", arrival, guests)
	}
}

func TestBadInput(t *testing.T) {
	res := string(fixtures.Read("guesty/reservation.new.json"))
	signed := func(body string) http.Header { return sign([]byte(body), "msg_bad", time.Now()) }
	tests := []struct {
		name     string
		method   string
		body     string
		header   http.Header
		want     int
		contains string
		events   int
	}{
		{"no signature", "POST", res, http.Header{}, 401, "svix", 0},
		{"wrong signature", "POST", res, sign([]byte(res+" "), "msg_bad", time.Now()), 401, "signature", 0},
		{"stale", "POST", res, sign([]byte(res), "msg_bad", time.Now().Add(-6*time.Minute)), 401, "tolerance", 0},
		{"from the future", "POST", res, sign([]byte(res), "msg_bad", time.Now().Add(6*time.Minute)), 401, "tolerance", 0},
		{"malformed JSON", "POST", res[:100], signed(res[:100]), 400, "malformed JSON", 0},
		{"missing reservation id", "POST", strings.Replace(res, `"_id": "6701a2b3c4d5e6f708192a3b",`, "", 1), nil, 400, "reservation._id", 0},
		{"bad local date", "POST", strings.Replace(res, `"2025-07-18",`, `"18/07/2025",`, 1), nil, 400, "reservation.checkInDateLocalized", 0},
		{"bad check-in instant", "POST", strings.Replace(res, `"2025-07-18T22:00:00.000Z"`, `"tomorrow"`, 1), nil, 400, "reservation.checkIn", 0},
		{"missing event", "POST", strings.Replace(res, `"event": "reservation.new",`, "", 1), nil, 400, "event", 0},
		{"v2 without id", "POST", `{"event":"reservation.updated.v2","data":{}}`, nil, 400, "data.reservationId", 0},
		{"too large", "POST", `{"event":"x","pad":"` + strings.Repeat("y", 70000) + `"}`, nil, 413, "too large", 0},
		{"GET", "GET", "", http.Header{}, 405, "POST", 0},
		{"unknown event", "POST", string(fixtures.Read("local/guesty.task.created.json")), nil, 200, "ignored", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			hdr := tt.header
			if hdr == nil {
				hdr = signed(tt.body)
			}
			code, body := h.Do(t, tt.method, []byte(tt.body), hdr)
			if code != tt.want || !strings.Contains(body, tt.contains) {
				t.Errorf("got %d %s, want %d containing %q", code, body, tt.want, tt.contains)
			}
			if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != tt.events {
				t.Errorf("webhook_events = %d, want %d", n, tt.events)
			}
			for _, table := range []string{"reservations", "guests", "listings", "jobs"} {
				if n := dbtest.Count(t, h.DB.Pool, table, ""); n != 0 {
					t.Errorf("%s = %d rows, want none", table, n)
				}
			}
		})
	}
}

func TestSignatureOff(t *testing.T) {
	h := faastest.Start(t, Name, New, map[string]string{"GUESTY_SIGNATURE": "off"})
	body := fixtures.Read("guesty/listing.updated.json")
	for i := 0; i < 2; i++ {
		if code, out := h.Post(t, body, nil); code != http.StatusOK {
			t.Fatalf("unsigned delivery with signatures off: %d %s", code, out)
		}
	}
	// Without svix-id the body digest dedupes.
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 1 {
		t.Errorf("webhook_events = %d, want 1", n)
	}
}

// A delete or remove is final: an older update delivered after it (Svix
// retrying a delivery that failed before the deletion was stored) changes
// nothing and queues no contact sync; a change Guesty made after the
// deletion brings the record back.
func TestDeletionIsNotUndoneByAnOlderUpdate(t *testing.T) {
	for _, tt := range []struct {
		name, update, deletion, table, check string
	}{
		{"guest", "local/guesty.guest.created.json", "local/guesty.guest.deleted.json", "guests", "deleted_at IS NOT NULL"},
		{"listing", "guesty/listing.updated.json", "local/guesty.listing.removed.json", "listings", "removed_at IS NOT NULL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			post(t, h, tt.deletion)
			before := dbtest.Count(t, h.DB.Pool, "jobs", "")
			if code, body := post(t, h, tt.update); code != http.StatusOK {
				t.Fatalf("older update: %d %s", code, body)
			}
			if n := dbtest.Count(t, h.DB.Pool, tt.table, tt.check); n != 1 {
				t.Errorf("an older update undid the %s's deletion", tt.name)
			}
			if n := dbtest.Count(t, h.DB.Pool, "jobs", ""); n != before {
				t.Errorf("the ignored update queued %d jobs", n-before)
			}
			// Guesty changed it after the deletion: back.
			body := regexp.MustCompile(`"(updatedAt|lastUpdatedAt)": "[^"]*"`).ReplaceAll(fixtures.Read(tt.update), []byte(`"$1": "2099-01-01T00:00:00.000Z"`))
			msgSeq++
			if code, out := h.Post(t, body, sign(body, fmt.Sprintf("msg_test_%d", msgSeq), time.Now())); code != http.StatusOK {
				t.Fatalf("newer update: %d %s", code, out)
			}
			if n := dbtest.Count(t, h.DB.Pool, tt.table, tt.check); n != 0 {
				t.Errorf("a newer update did not restore the %s", tt.name)
			}
		})
	}
}

// A real Svix retry keeps the message id and is signed again with a new
// timestamp (and so a new signature): it is the same delivery. A dedupe key
// built from anything but the id would process every retry again.
func TestSvixRetryWithNewTimestampIsADuplicate(t *testing.T) {
	h := start(t)
	body := fixtures.Read("guesty/reservation.new.json")
	first := time.Now().Add(-3 * time.Minute)
	for i, at := range []time.Time{first, first.Add(5 * time.Second), first.Add(2 * time.Minute)} {
		hdr := sign(body, "msg_svix_retry", at)
		code, out := h.Post(t, body, hdr)
		want := "duplicate"
		if i == 0 {
			want = "stored"
		}
		if code != http.StatusOK || !strings.Contains(out, want) {
			t.Fatalf("attempt %d (timestamp %d): %d %s, want %s", i+1, at.Unix(), code, out, want)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 1 {
		t.Errorf("webhook_events = %d, want 1", n)
	}
	if n := len(h.Invoked.Calls()); n != 2 {
		t.Errorf("invocations = %d, want 2 (vectorize + contact-sync, once)", n)
	}
	// A new message id is a new delivery, even with the same body.
	if code, out := h.Post(t, body, sign(body, "msg_svix_other", time.Now())); code != http.StatusOK || strings.Contains(out, "duplicate") {
		t.Errorf("a new svix-id: %d %s", code, out)
	}
}
