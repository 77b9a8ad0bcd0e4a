package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/webhook"
)

// newHook is guesty-hook as its New builds it, from lib/guesty: a
// function's tests cannot import another function, since the template
// builds each one alone (make shrinkwrap).
func newHook(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	v, err := guesty.NewVerifier(fixtures.GuestySecret)
	if err != nil {
		return nil, err
	}
	v.Now = env.Now
	hook := &guesty.Hook{Store: &webhook.Store{DB: env.DB, Invoker: env.Invoker}, Verifier: v}
	return func(req handler.Request) (handler.Response, error) {
		out, err := hook.Receive(req.Context(), req.Header, req.Body)
		if err != nil {
			return faas.Error(err), nil
		}
		return faas.JSON(http.StatusOK, map[string]string{"status": string(out)}), nil
	}, nil
}

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

const (
	resID   = "6701a2b3c4d5e6f708192a3b"
	guestID = "66a1f0c2e4b0a1b2c3d4e5f6"
)

// system is guesty-hook and guesty-fetch on one database, with the fake
// Guesty behind guesty-fetch.
type system struct {
	hook, fetch *faastest.Harness
	fake        *guestytest.Server
	db          *dbtest.DB
	// relayed counts the invocations of each harness already delivered.
	relayed map[*faastest.Harness]int
}

func start(t *testing.T) *system {
	t.Helper()
	d := dbtest.New(t)
	fake := guestytest.New(t)
	// Guesty's copy of the contract fixture's reservation.
	var fx struct {
		Reservation json.RawMessage `json:"reservation"`
	}
	if err := json.Unmarshal(fixtures.Read("guesty/reservation.new.json"), &fx); err != nil {
		t.Fatal(err)
	}
	if err := fake.AddJSON("reservation", fx.Reservation); err != nil {
		t.Fatal(err)
	}
	s := &system{fake: fake, db: d, relayed: map[*faastest.Harness]int{}}
	s.hook = faastest.StartWith(t, d, "guesty-hook", newHook, nil)
	s.fetch = faastest.StartWith(t, d, Name, New, map[string]string{
		"GUESTY_API_URL": fake.URL, "GUESTY_CLIENT_ID": fake.ClientID, "GUESTY_CLIENT_SECRET": fake.ClientSecret,
	})
	return s
}

var msgSeq atomic.Int64

// deliver posts a signed v2 event to guesty-hook.
func (s *system) deliver(t *testing.T, body []byte) {
	t.Helper()
	id := fmt.Sprintf("msg_fetch_%d", msgSeq.Add(1))
	if code, out := s.hook.Post(t, body, guestytest.Sign(fixtures.GuestySecret, id, time.Now(), body)); code != http.StatusOK || !strings.Contains(out, "stored") {
		t.Fatalf("guesty-hook: %d %s", code, out)
	}
}

// relay delivers the guesty-fetch invocations the harnesses made since the
// last relay, as the queue-worker would (signed by jobs.Invoke), and
// returns guesty-fetch's answers.
func (s *system) relay(t *testing.T) []string {
	t.Helper()
	var answers []string
	for _, h := range []*faastest.Harness{s.hook, s.fetch} {
		calls := h.Invoked.Calls()
		for _, c := range calls[s.relayed[h]:] {
			if c.Function != Name {
				continue
			}
			_, out := s.fetch.Post(t, c.Body, c.Header)
			answers = append(answers, out)
		}
		s.relayed[h] = len(calls)
	}
	return answers
}

type row struct {
	Status, Code, Arrival, Guest string
	Guests                       int
	Refresh                      bool
}

func (s *system) reservation(t *testing.T) row {
	t.Helper()
	var r row
	var code, arrival, guest *string
	var n *int
	err := s.db.Pool.QueryRow(context.Background(), `SELECT COALESCE(status, ''), confirmation_code, planned_arrival, guest_id,
		guests_count, needs_refresh FROM reservations WHERE id = $1`, resID).Scan(&r.Status, &code, &arrival, &guest, &n, &r.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	if code != nil {
		r.Code = *code
	}
	if arrival != nil {
		r.Arrival = *arrival
	}
	if guest != nil {
		r.Guest = *guest
	}
	if n != nil {
		r.Guests = *n
	}
	return r
}

// A lean v2 create, in every known shape, ends as the whole reservation:
// stored at once with what the event carries, flagged, then completed by
// guesty-fetch with the guest, the re-index and the contact sync; the
// stay is then the guest's confirmed stay.
// Mutation tried: reading only data.reservation._id (the old parser) fails
// the data.reservation.id and data.id shapes with 400.
func TestV2CreateStoresWholeReservation(t *testing.T) {
	for _, shape := range guestytest.Shapes {
		t.Run(shape.String(), func(t *testing.T) {
			s := start(t)
			s.deliver(t, guestytest.ReservationEventV2("reservation.created.v2", resID, shape,
				map[string]any{"status": "confirmed"}, time.Now()))
			if r := s.reservation(t); !r.Refresh || r.Status != "confirmed" || r.Code != "" {
				t.Fatalf("after the lean event: %+v; want the status only, flagged", r)
			}
			answers := s.relay(t)
			if len(answers) != 1 || !strings.Contains(answers[0], `"outcome":"stored"`) {
				t.Fatalf("guesty-fetch answers %v", answers)
			}
			r := s.reservation(t)
			if r.Refresh || r.Code != "HMK7M2Q9XA" || r.Arrival != "15:00" || r.Guest != guestID || r.Guests != 2 {
				t.Errorf("after the fetch: %+v", r)
			}
			if n := dbtest.Count(t, s.db.Pool, "guests", "id = $1 AND phone_e164 = '+15555550142'", guestID); n != 1 {
				t.Error("guest not stored from the fetched reservation")
			}
			for kind, subject := range map[string]string{"vectorize": "reservation:" + resID, "contact-sync": "guest:" + guestID} {
				if n := dbtest.Count(t, s.db.Pool, "jobs", "kind = $1 AND subject = $2", kind, subject); n < 1 {
					t.Errorf("no %s job for %s", kind, subject)
				}
			}
			if n := dbtest.Count(t, s.db.Pool, "jobs", "kind = 'guesty-fetch' AND status = 'done'"); n != 1 {
				t.Errorf("guesty-fetch jobs done = %d, want 1", n)
			}
			a, err := guests.For(context.Background(), s.db.Pool, guestID, time.Date(2025, 7, 19, 12, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if !a.Stay.Confirmed() || !a.Stay.Window(time.Date(2025, 7, 19, 12, 0, 0, 0, time.UTC), time.Hour) {
				t.Errorf("stay %+v: want confirmed and within its window", a.Stay)
			}
		})
	}
}

// A cancellation sent only by a lean v2 event cancels the stay at once —
// before any fetch, and even when Guesty's API still answers the older,
// confirmed version (or fails): the door code is refused from the
// moment the event is stored.
// Mutation tried: letting a whole reservation overwrite the status
// whatever status_at says brings "confirmed" back after the stale fetch.
func TestV2CancelAtOnce(t *testing.T) {
	s := start(t)
	during := time.Date(2025, 7, 19, 12, 0, 0, 0, time.UTC)
	s.deliver(t, guestytest.ReservationEventV2("reservation.created.v2", resID, guestytest.ShapeReservationID, nil, time.Now()))
	s.relay(t)
	if a, _ := guests.For(context.Background(), s.db.Pool, guestID, during); !a.Stay.Window(during, time.Hour) {
		t.Fatalf("set-up: stay not open: %+v", a.Stay)
	}
	// The guest changed the arrival time, then canceled; Guesty's API is
	// down, then lags: it serves the version before the cancellation,
	// newer than the one stored.
	s.fake.UpdateReservation(resID, func(r map[string]any) { r["plannedArrival"] = "13:00" })
	s.fake.FailNext(503, 503)
	s.deliver(t, guestytest.ReservationEventV2("reservation.updated.v2", resID, guestytest.ShapeNestedID,
		map[string]any{"status": "canceled"}, time.Now().Add(time.Second)))
	check := func(when string) {
		t.Helper()
		if r := s.reservation(t); r.Status != "canceled" {
			t.Fatalf("%s: status %q, want canceled", when, r.Status)
		}
		a, err := guests.For(context.Background(), s.db.Pool, guestID, during)
		if err != nil {
			t.Fatal(err)
		}
		if a.Stay.Confirmed() || a.Stay.Window(during, time.Hour) {
			t.Fatalf("%s: stay %+v still open to the door code", when, a.Stay)
		}
	}
	check("before any fetch")
	if answers := s.relay(t); len(answers) != 1 || !strings.Contains(answers[0], "unavailable") {
		t.Fatalf("fetch during the outage: %v", answers)
	}
	check("after a failed fetch")
	// Redrive runs the job again; the API answers the stale version.
	var id string
	if err := s.db.Pool.QueryRow(context.Background(), "SELECT id::text FROM jobs WHERE kind = 'guesty-fetch' AND status = 'retrying'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Pool.Exec(context.Background(), "UPDATE jobs SET next_attempt_at = now() WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if code, out := s.fetch.RunJob(t, jobs.Job{ID: id, Kind: jobs.GuestyFetch.Name, Function: Name, Subject: "reservation:" + resID}); code != http.StatusOK {
		t.Fatalf("stale fetch: %d %s", code, out)
	}
	check("after a fetch of the older version")
	if r := s.reservation(t); r.Arrival != "13:00" {
		t.Errorf("the lagging version's other fields were not applied: %+v", r)
	}
	// Guesty catches up: the canceled version is newer and agrees.
	s.fake.UpdateReservation(resID, func(r map[string]any) { r["status"] = "canceled" })
	s.deliver(t, guestytest.ReservationEventV2("reservation.updated.v2", resID, guestytest.ShapeDataID, nil, time.Now()))
	s.relay(t)
	check("after the fetch of the canceled version")
}

// An update that arrives before its create (Svix does not order
// deliveries) is completed from the API; the late create changes nothing
// it does not know better, and no version is stored twice.
// Mutation tried: applying a lean event's fields whatever the stored
// lastUpdatedAt turns planned arrival back to the create's 15:00.
func TestV2UpdateBeforeCreate(t *testing.T) {
	s := start(t)
	created := time.Now().Add(-time.Hour)
	s.fake.UpdateReservation(resID, func(r map[string]any) { r["plannedArrival"] = "13:00"; r["guestsCount"] = 3 })
	s.deliver(t, guestytest.ReservationEventV2("reservation.updated.v2", resID, guestytest.ShapeReservationID,
		map[string]any{"plannedArrival": "13:00"}, time.Now()))
	s.relay(t)
	if r := s.reservation(t); r.Arrival != "13:00" || r.Guests != 3 || r.Code != "HMK7M2Q9XA" || r.Refresh {
		t.Fatalf("after the update: %+v", r)
	}
	// The create, published an hour earlier, arrives late with the old arrival.
	s.deliver(t, guestytest.ReservationEventV2("reservation.created.v2", resID, guestytest.ShapeNestedID,
		map[string]any{"status": "inquiry", "plannedArrival": "15:00"}, created))
	if r := s.reservation(t); r.Arrival != "13:00" || r.Status != "confirmed" {
		t.Errorf("the late create regressed the reservation: %+v", r)
	}
	answers := s.relay(t)
	if len(answers) != 1 || !strings.Contains(answers[0], `"outcome":"duplicate"`) {
		t.Errorf("second fetch of the same version: %v", answers)
	}
	if r := s.reservation(t); r.Refresh {
		t.Error("needs_refresh left set after a fetch of the current version")
	}
	if n := dbtest.Count(t, s.db.Pool, "webhook_events", "source = 'guesty-api'"); n != 1 {
		t.Errorf("stored API versions = %d, want 1", n)
	}
}

// Without credentials the function starts (make run) and a job fails for
// good naming the secrets, for a replay once they are set.
func TestWithoutCredentials(t *testing.T) {
	h := faastest.Start(t, Name, New, nil)
	var id string
	if err := h.DB.Pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject) VALUES ('guesty-fetch', 'guesty-fetch', 'reservation:x') RETURNING id::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	code, out := h.RunJob(t, jobs.Job{ID: id, Kind: jobs.GuestyFetch.Name, Function: Name, Subject: "reservation:x"})
	if code == http.StatusOK || !strings.Contains(out, "guesty-client-id") {
		t.Errorf("%d %s", code, out)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "id = $1 AND status = 'failed'", id); n != 1 {
		t.Error("job not parked as failed")
	}
}

// Deletions through the API: a listing or guest Guesty no longer has (404
// to guesty-fetch) is removed exactly as listing.removed and guest.deleted
// remove them — marked, and re-indexed so their documents narrow — and a
// reservation Guesty no longer has is left alone (Guesty cancels, it does
// not delete). A later fetch of the same gone entity changes nothing.
// Mutation tried: treating a 404 as a transient error leaves the listing
// in place and the job retrying.
func TestFetchOfDeletedEntities(t *testing.T) {
	const listingID = "64f2b7c9d1e8a3f4b5c6d7e8"
	for _, tc := range []struct {
		subject, table, mark string
		removed              bool
	}{
		{"listing:" + listingID, "listings", "removed_at", true},
		{"guest:" + guestID, "guests", "deleted_at", true},
		{"reservation:" + resID, "reservations", "", false},
	} {
		t.Run(tc.table, func(t *testing.T) {
			s := start(t)
			ctx := context.Background()
			s.deliver(t, fixtures.Read("guesty/listing.updated.json"))
			s.deliver(t, guestytest.ReservationEventV2("reservation.created.v2", resID, guestytest.ShapeReservationID, nil, time.Now()))
			s.relay(t)
			// Guesty no longer has any of them; the earlier jobs are done.
			s.fake.Forget(resID)
			if _, err := s.db.Pool.Exec(ctx, "UPDATE jobs SET status = 'done'"); err != nil {
				t.Fatal(err)
			}
			id := strings.SplitN(tc.subject, ":", 2)[1]
			run := func() string {
				t.Helper()
				var job string
				if err := s.db.Pool.QueryRow(ctx, `INSERT INTO jobs (kind, function, subject) VALUES ('guesty-fetch', 'guesty-fetch', $1) RETURNING id::text`, tc.subject).Scan(&job); err != nil {
					t.Fatal(err)
				}
				code, out := s.fetch.RunJob(t, jobs.Job{ID: job, Kind: jobs.GuestyFetch.Name, Function: Name, Subject: tc.subject})
				if code != http.StatusOK || !strings.Contains(out, `"outcome":"gone"`) {
					t.Fatalf("fetch of a deleted %s: %d %s", tc.table, code, out)
				}
				return job
			}
			run()
			if !tc.removed {
				if n := dbtest.Count(t, s.db.Pool, "reservations", "id = $1 AND confirmation_code = 'HMK7M2Q9XA'", id); n != 1 {
					t.Error("a reservation Guesty no longer answers was changed")
				}
				if n := dbtest.Count(t, s.db.Pool, "jobs", "status <> 'done' AND kind = 'vectorize'"); n != 0 {
					t.Errorf("%d re-index jobs for an untouched reservation", n)
				}
				return
			}
			if n := dbtest.Count(t, s.db.Pool, tc.table, "id = $1 AND "+tc.mark+" IS NOT NULL", id); n != 1 {
				t.Fatalf("%s %s not marked %s", tc.table, id, tc.mark)
			}
			if n := dbtest.Count(t, s.db.Pool, "jobs", "kind = 'vectorize' AND subject = $1 AND status = 'pending'", tc.subject); n != 1 {
				t.Errorf("no re-index queued to narrow the documents of %s", tc.subject)
			}
			var at time.Time
			if err := s.db.Pool.QueryRow(ctx, "SELECT "+tc.mark+" FROM "+tc.table+" WHERE id = $1", id).Scan(&at); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Pool.Exec(ctx, "UPDATE jobs SET status = 'done'"); err != nil {
				t.Fatal(err)
			}
			run() // a second fetch of the same gone entity
			var again time.Time
			if err := s.db.Pool.QueryRow(ctx, "SELECT "+tc.mark+" FROM "+tc.table+" WHERE id = $1", id).Scan(&again); err != nil {
				t.Fatal(err)
			}
			if !again.Equal(at) || dbtest.Count(t, s.db.Pool, "jobs", "status = 'pending'") != 0 {
				t.Errorf("a repeated fetch of a gone %s changed it (%s -> %s) or queued work", tc.table, at, again)
			}
		})
	}
}
