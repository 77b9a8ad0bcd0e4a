package guesty

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/webhook"
)

func gid(n int) string { return fmt.Sprintf("g%023d", n) }

func stayOf(t *testing.T, d *dbtest.DB, guestID string) guests.Access {
	t.Helper()
	a, err := guests.For(context.Background(), d.Pool, guestID, time.Date(2026, 12, 21, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func reservationFor(id, guestID, listingID string, updated time.Time) map[string]any {
	return map[string]any{
		"_id": id, "confirmationCode": "CODE" + id[len(id)-4:], "status": "confirmed",
		"listingId": listingID, "listing": map[string]any{"_id": listingID, "title": "Home " + listingID},
		"guestId": guestID, "guest": map[string]any{"_id": guestID, "fullName": "Guest " + guestID, "phone": "+1 555 555 01" + id[len(id)-2:]},
		"checkIn": "2026-12-20T23:00:00.000Z", "checkOut": "2026-12-23T19:00:00.000Z",
		"checkInDateLocalized": "2026-12-20", "checkOutDateLocalized": "2026-12-23",
		"lastUpdatedAt": guestytest.Stamp(updated),
	}
}

// Nightly reconciliation repairs what the webhooks missed: a reservation
// whose webhook never came is stored whole, a cancellation Guesty sent no
// (or a lost) webhook for closes the stay; a run right after repairs
// nothing and writes nothing (no event, no job); each run reads from the
// previous run's start less the overlap.
// Mutations tried: comparing with >= instead of After (the version a
// webhook delivered is stored again, with its jobs); dropping the
// lastUpdatedAt filter's since (from the first lookback every night: still
// idempotent, caught by the since check).
func TestReconcileRepairsDrift(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t)
	ctx := context.Background()
	before := time.Now().Add(-3 * time.Hour)
	fake.AddListing(map[string]any{"_id": "l0000000000000000000001", "title": "Harbor Home", "active": true,
		"timezone": "America/Los_Angeles", "lastUpdatedAt": guestytest.Stamp(before)})
	fake.AddListing(map[string]any{"_id": "l0000000000000000000002", "title": "Closed Home", "active": false,
		"lastUpdatedAt": guestytest.Stamp(before)})
	for i, id := range []string{"r0000000000000000000011", "r0000000000000000000012", "r0000000000000000000013"} {
		fake.AddReservation(reservationFor(id, gid(i+1), "l0000000000000000000001", before))
	}
	inv := &countingInvoker{}
	hook := &Hook{Store: &webhook.Store{DB: d.Pool, Invoker: inv}, Region: "US"}
	rec := &Reconciler{API: client(fake, d, APIOptions{}), Hook: hook, DB: d.Pool}
	// The first booking's webhook did arrive, with the version Guesty has.
	body, _ := json.Marshal(map[string]any{"event": "reservation.updated", "reservation": fake.Reservation("r0000000000000000000011")})
	if _, err := hook.Receive(ctx, http.Header{"Svix-Id": {"msg_reconcile_1"}}, body); err != nil {
		t.Fatal(err)
	}

	// The first run stores what the webhooks missed in the last 48 hours:
	// two reservations and the active listing.
	first, err := rec.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != ReconcileDone || first.Repaired != 3 || first.Unchanged != 1 || first.Skipped != 1 {
		t.Fatalf("first run: %+v; want 3 repaired, the delivered booking unchanged, the inactive listing skipped", first)
	}
	if n := dbtest.Count(t, d.Pool, "webhook_events", "source = $1 AND payload->>'_id' = 'r0000000000000000000011'", APISource); n != 0 {
		t.Error("the booking the webhook delivered was stored again")
	}
	if a := stayOf(t, d, gid(2)); a.Stay == nil || !a.Stay.Confirmed() {
		t.Fatalf("set-up: the stay to cancel is not confirmed: %+v", a.Stay)
	}
	second, err := rec.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if second.Repaired != 0 || second.Reservations != 0 || second.Unchanged != 1 {
		t.Fatalf("second run: %+v; want nothing read since the first run but the listing, nothing repaired", second)
	}
	if want := first.Until.Add(-ReconcileOverlap); !second.Since.Equal(want) {
		t.Errorf("second run read from %s, want the first run's start less the overlap, %s", second.Since, want)
	}

	// Drift: a booking whose webhook never came, and a cancellation whose
	// webhook was lost.
	fake.AddReservation(reservationFor("r0000000000000000000014", gid(4), "l0000000000000000000001", time.Now()))
	fake.UpdateReservation("r0000000000000000000012", func(r map[string]any) { r["status"] = "canceled" })
	third, err := rec.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if third.Repaired != 2 || third.Reservations != 2 {
		t.Fatalf("third run: %+v; want the new booking and the cancellation repaired", third)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "id = 'r0000000000000000000014' AND confirmation_code = 'CODE0014' AND guest_id = $1", gid(4)); n != 1 {
		t.Error("the booking whose webhook never came is not stored whole")
	}
	if a := stayOf(t, d, gid(2)); a.Stay != nil {
		t.Errorf("the canceled stay still counts: %+v", a.Stay)
	}

	events := dbtest.Count(t, d.Pool, "webhook_events", "")
	jobsBefore := dbtest.Count(t, d.Pool, "jobs", "")
	invoked := inv.n.Load()
	fourth, err := rec.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Repaired != 0 || fourth.Reservations != 2 || fourth.Unchanged != 3 {
		t.Errorf("fourth run: %+v; want the overlap re-read and nothing repaired", fourth)
	}
	if n := dbtest.Count(t, d.Pool, "webhook_events", ""); n != events {
		t.Errorf("an idempotent run stored %d events", n-events)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", ""); n != jobsBefore || inv.n.Load() != invoked {
		t.Errorf("an idempotent run queued %d jobs, invoked %d", n-jobsBefore, inv.n.Load()-invoked)
	}

	var b bytes.Buffer
	if err := WritePrometheus(ctx, d.Pool, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# HELP " + MetricReconcileRepaired, MetricReconcileRepaired + " 0\n", MetricReconcileUnfinished + " 0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), MetricReconcileLastFinished+" 0.000") {
		t.Errorf("last finished not set:\n%s", b.String())
	}
}

// Guesty's 429 ends the run at once with the provider's delay (for the job
// to be retried after it), not a sleep inside the function; the cursor
// keeps every page done, and the resumed run reads no page twice.
// Mutation tried: a MaxWait of an hour (waiting the 429 out) makes the
// first run take a minute: the elapsed check fails.
func TestReconcileRateLimitedEndsRetrying(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t, guestytest.WithLimits(guestytest.Limits{PerMinute: 2}))
	now := time.Now().UTC()
	fake.Generate(1, 250, now)
	hook := &Hook{Store: &webhook.Store{DB: d.Pool, Invoker: &countingInvoker{}}, Region: "US"}
	rec := &Reconciler{API: client(fake, d, APIOptions{MaxWait: time.Second}), Hook: hook, DB: d.Pool}
	ctx := context.Background()

	start := time.Now()
	rep, err := rec.Run(ctx, now, false)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("rate-limited run ended without error: %+v", rep)
	}
	if fault.KindOf(err) != fault.Unavailable || fault.RetryAfter(err) < 30*time.Second {
		t.Errorf("error %v: kind %s, retry after %s; want unavailable with Guesty's delay", err, fault.KindOf(err), fault.RetryAfter(err))
	}
	if elapsed > 10*time.Second {
		t.Errorf("the run waited %s for the rate limit; it must end and be retried", elapsed)
	}
	if rep.Repaired != 200 || rep.Status != "" {
		t.Errorf("interrupted run: %+v; want the two pages read before the 429 stored", rep)
	}
	st, err := ReadReconcileState(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Unfinished || st.Repaired != 200 {
		t.Errorf("state after the 429: %+v", st)
	}
	// A retry job with nothing to resume does nothing; this one resumes,
	// in a later process (a fresh client without the paused limiter).
	fake.SetLimits(guestytest.GuestyLimits)
	rec.API = client(fake, d, APIOptions{MaxWait: time.Second})
	rep, err = rec.Run(ctx, now.Add(time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed || rep.Status != ReconcileDone || rep.Repaired != 251 || !rep.Since.Equal(now.Truncate(time.Microsecond).Add(-ReconcileFirstLookback)) {
		t.Errorf("resumed run: %+v; want 250 reservations and the listing, the first window kept", rep)
	}
	firstPages := 0
	for _, r := range fake.Requests() {
		if r.Path == "/v1/reservations" && r.Query.Get("skip") == "0" && r.Status == 200 {
			firstPages++
		}
	}
	if firstPages != 1 {
		t.Errorf("the first page was read %d times; the resume must start at the cursor", firstPages)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", ""); n != 250 {
		t.Errorf("reservations = %d, want 250", n)
	}
	rep, err = rec.Run(ctx, now.Add(2*time.Minute), true)
	if err != nil || rep.Status != ReconcileNothing {
		t.Errorf("retry with nothing to resume: %+v, %v", rep, err)
	}
}
