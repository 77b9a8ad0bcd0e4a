package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/localrun"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

const jordanReservation = "6701a2b3c4d5e6f708192a3b"

// A v2-only account in make run: the runner starts with GUESTY_API_URL at
// the fake (as `concierge fake-guesty` serves it) and no seeded fixtures;
// the listing arrives by its legacy webhook (listing events have no v2
// yet) and the reservation only as a lean reservation.created.v2 naming
// its id. guesty-fetch reads it from the API, and Jordan's question is
// answered from it: the check-in time the fake holds (4:30 PM, which
// neither the fixtures nor the knowledge say). The nightly reconciliation
// is on the runner's schedule.
func TestV2OnlyAccountEndToEnd(t *testing.T) {
	fake := guestytest.New(t)
	if err := seedFakeGuesty(fake); err != nil {
		t.Fatal(err)
	}
	fake.UpdateReservation(jordanReservation, func(r map[string]any) { r["checkIn"] = "2025-07-18T23:30:00.000Z" })
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "false", "BOT_BURST_WINDOW": "0s",
		"GUESTY_API_URL": fake.URL, "GUESTY_CLIENT_ID": fake.ClientID, "GUESTY_CLIENT_SECRET": fake.ClientSecret})

	if !containsSchedule(sys.Cron.Schedules(), localrun.Scheduled{Function: "guesty-reconcile", Schedule: "41 2 * * *"}) {
		t.Errorf("the runner does not schedule guesty-reconcile: %+v", sys.Cron.Schedules())
	}

	send := func(body []byte) {
		t.Helper()
		h := guestytest.Sign(fixtures.GuestySecret, fmt.Sprintf("msg_e2e_%d", time.Now().UnixNano()), time.Now(), body)
		if res, out := call(t, "POST", sys.URL+"/function/guesty-hook", body, h); res.StatusCode != http.StatusOK || !strings.Contains(out, "stored") {
			t.Fatalf("guesty-hook: %d %s", res.StatusCode, out)
		}
	}
	send(fixtures.Read("guesty/listing.updated.json"))
	lean := guestytest.ReservationEventV2("reservation.created.v2", jordanReservation, guestytest.ShapeDataID, nil, time.Now())
	if bytes.Contains(lean, []byte("HMK7M2Q9XA")) || bytes.Contains(lean, []byte("checkIn")) {
		t.Fatalf("the v2 event is not lean: %s", lean)
	}
	send(lean)

	deadline := time.Now().Add(45 * time.Second)
	fetched := func() bool {
		return dbtest.Count(t, d.Pool, "reservations", "id = $1 AND confirmation_code = 'HMK7M2Q9XA' AND NOT needs_refresh AND guest_id IS NOT NULL", jordanReservation) == 1
	}
	for !fetched() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !fetched() {
		t.Fatalf("guesty-fetch did not complete the reservation; jobs: %d guesty-fetch done", dbtest.Count(t, d.Pool, "jobs", "kind = 'guesty-fetch' AND status = 'done'"))
	}
	if n := fake.Stats().Requests; n == 0 {
		t.Fatal("nothing reached the fake Guesty")
	}
	for dbtest.Count(t, d.Pool, "jobs", "status NOT IN ('done', 'failed')") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}

	res, body := call(t, "POST", sys.URL+"/dev/ask", []byte("What time can we check in?"), nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "4:30 PM") || !strings.Contains(body, `"status": "posted"`) {
		t.Fatalf("ask as Jordan: %d %s", res.StatusCode, body)
	}

	t.Logf("answer: %s", body)

	// By hand, the nightly run is one POST; everything is current.
	if res, out := call(t, "POST", sys.URL+"/function/guesty-reconcile", nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(out, `"repaired"`) {
		t.Errorf("guesty-reconcile: %d %s", res.StatusCode, out)
	}
	ctx := context.Background()
	var status string
	if err := d.Pool.QueryRow(ctx, "SELECT status FROM reservations WHERE id = $1", jordanReservation).Scan(&status); err != nil || status != "confirmed" {
		t.Errorf("reservation status %q (%v) after the reconciliation", status, err)
	}
}

func containsSchedule(list []localrun.Scheduled, want localrun.Scheduled) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}
