package webhook

// Tests written for `make mutate`: each names the gremlins mutant of
// webhook.go or unparsed.go it kills.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// unparsed is an authenticated delivery whose body did not decode.
func unparsed(source, event, key, reason string) Delivery {
	return Delivery{Source: source, EventType: event, DedupeKey: key, Payload: []byte(`{"k":"` + key + `"}`), ParseError: reason}
}

// What a delivery is decides what its row says: handled when it had
// writes, the parse error only when it did not decode (NULL otherwise),
// and the outcome the hook answers with.
// Kills: statementWith `d.ParseError != ""` negated (a parse error stored
// for every event, none for the unparsed one), `"handled": d.Writes != nil`
// negated, run1's `case d.ParseError != ""` and `case d.Writes == nil`
// negated, Receive's `d.ParseError != "" && d.Writes != nil` negated or
// turned into ||.
func TestDeliveryRowAndOutcome(t *testing.T) {
	s, rec, _, pool := setup(t)
	for _, c := range []struct {
		name        string
		d           Delivery
		want        Outcome
		handled     bool
		parseError  *string
		dispatched  int
		itemsStored int
	}{
		{"stored", item("k-stored", "a", intp(1)), Stored, true, nil, 1, 1},
		{"ignored", Delivery{Source: "test", EventType: "item.viewed", DedupeKey: "k-ignored", Payload: []byte(`{}`)}, Ignored, false, nil, 0, 1},
		{"unparsed", unparsed("test", "item.updated", "k-unparsed", "data.id: must be a string"), Unparsed, false, strp("data.id: must be a string"), 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := rec.count()
			out, err := s.Receive(ctx(), c.d)
			if err != nil || out != c.want {
				t.Fatalf("Receive = %q, %v; want %q", out, err, c.want)
			}
			var handled bool
			var parseError *string
			if err := pool.QueryRow(context.Background(), "SELECT handled, parse_error FROM webhook_events WHERE dedupe_key = $1", c.d.DedupeKey).Scan(&handled, &parseError); err != nil {
				t.Fatal(err)
			}
			if handled != c.handled || (parseError == nil) != (c.parseError == nil) || (parseError != nil && *parseError != *c.parseError) {
				t.Errorf("row handled=%v parse_error=%v, want %v %v", handled, deref(parseError), c.handled, deref(c.parseError))
			}
			if n := rec.count() - before; n != c.dispatched {
				t.Errorf("dispatched %d jobs, want %d", n, c.dispatched)
			}
			if n := count(t, pool, "items", ""); n != c.itemsStored {
				t.Errorf("items = %d, want %d", n, c.itemsStored)
			}
		})
	}
	t.Run("unparsed with writes is refused", func(t *testing.T) {
		d := item("k-both", "b", intp(1))
		d.ParseError = "data: not an object"
		if _, err := s.Receive(ctx(), d); err == nil || !strings.Contains(err.Error(), "did not parse has no writes") {
			t.Fatalf("Receive = %v, want the refusal", err)
		}
		if n := count(t, pool, "webhook_events", "dedupe_key = 'k-both'"); n != 0 {
			t.Errorf("stored %d events", n)
		}
	})
}

func strp(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// A job written with a delay waits for redrive: its not_before is the
// delay ahead, and it is not dispatched. A job without a delay is
// dispatched at once and has no not_before.
// Kills: statementWith's first `j.Delay > 0` made >= or <= (a zero delay
// holds the job back / a delay is ignored) and the second `j.Delay > 0`
// made >= or <= (a delayed job dispatched, an immediate one not).
func TestDelayedJobs(t *testing.T) {
	s, rec, _, pool := setup(t)
	delayed := item("k-delayed", "d", intp(1))
	delayed.Writes[0].Jobs = []JobFrom{{Kind: testKind, Column: "subject", Delay: 10 * time.Minute}}
	if out, err := s.Receive(ctx(), delayed); err != nil || out != Stored {
		t.Fatalf("Receive = %q, %v", out, err)
	}
	if n := rec.count(); n != 0 {
		t.Errorf("a delayed job was dispatched (%d)", n)
	}
	var wait float64
	if err := pool.QueryRow(context.Background(), `SELECT extract(epoch FROM not_before - now()) FROM jobs
		WHERE subject = 'item:d' AND next_attempt_at = not_before`).Scan(&wait); err != nil {
		t.Fatalf("delayed job: %v", err)
	}
	if wait < 9*60 || wait > 10*60 {
		t.Errorf("delayed job due in %.0f s, want about 600", wait)
	}

	now := item("k-now", "n", intp(1))
	now.Writes[0].Jobs = []JobFrom{{Kind: testKind, Column: "subject", Delay: 0}}
	if out, err := s.Receive(ctx(), now); err != nil || out != Stored {
		t.Fatalf("Receive = %q, %v", out, err)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("an immediate job was dispatched %d times, want 1", n)
	}
	if n := count(t, pool, "jobs", "subject = 'item:n' AND not_before IS NULL AND next_attempt_at <= now()"); n != 1 {
		t.Errorf("immediate job rows without not_before = %d, want 1", n)
	}
}

// Unparsed events stay visible until resolved: counted by source and type
// (in that order), listed oldest first a page at a time, and exported
// for the operator. Resolve applies the decoded delivery once.
// Kills: every mutant of unparsed.go's error checks (a query error
// ignored or a success taken for one: `err != nil` negated in
// ParseFailures, ListUnparsed and their CollectRows), Resolve's
// `d.ParseError != ""` negated, WriteParseFailures' concatenations.
func TestUnparsedLifecycle(t *testing.T) {
	s, rec, _, pool := setup(t)
	for _, d := range []Delivery{
		unparsed("test", "item.updated", "u1", "data.id: must be a string"),
		unparsed("test", "item.created", "u2", "data: must be an object"),
		unparsed("test", "item.updated", "u3", "data.v: must be a number"),
		unparsed("aaa", "call.ended", "u4", "data.id: required"),
		item("parsed", "p", intp(1)),
	} {
		if _, err := s.Receive(ctx(), d); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := ParseFailures(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	want := []ParseFailure{{"aaa", "call.ended", 1}, {"test", "item.created", 1}, {"test", "item.updated", 2}}
	if len(fs) != len(want) {
		t.Fatalf("ParseFailures = %+v, want %+v", fs, want)
	}
	for i := range want {
		if fs[i] != want[i] {
			t.Fatalf("ParseFailures = %+v, want %+v", fs, want)
		}
	}
	var b strings.Builder
	if err := WriteParseFailures(&b, fs); err != nil {
		t.Fatal(err)
	}
	wantText := "# HELP concierge_webhook_parse_failures Authenticated deliveries of known events stored raw because their body did not decode, not yet replayed (concierge replay-events).\n" +
		"# TYPE concierge_webhook_parse_failures gauge\n" +
		"concierge_webhook_parse_failures{source=\"aaa\",event_type=\"call.ended\"} 1\n" +
		"concierge_webhook_parse_failures{source=\"test\",event_type=\"item.created\"} 1\n" +
		"concierge_webhook_parse_failures{source=\"test\",event_type=\"item.updated\"} 2\n"
	if b.String() != wantText {
		t.Errorf("metrics:\n%s\nwant:\n%s", b.String(), wantText)
	}

	// Pages of two, oldest first, of one source only.
	page1, err := ListUnparsed(context.Background(), pool, "test", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 2 || page1[0].EventType != "item.updated" || page1[1].EventType != "item.created" ||
		page1[0].ParseError != "data.id: must be a string" || string(page1[0].Payload) != `{"k": "u1"}` || page1[0].Source != "test" ||
		page1[0].ReceivedAt.IsZero() || page1[0].ID >= page1[1].ID {
		t.Fatalf("page 1 = %+v", page1)
	}
	page2, err := ListUnparsed(context.Background(), pool, "test", page1[1].ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page2) != 1 || page2[0].ParseError != "data.v: must be a number" {
		t.Fatalf("page 2 = %+v", page2)
	}

	// Resolving applies the writes and jobs once and takes the event off
	// the lists; a second resolve is a duplicate; a delivery that still
	// does not parse is refused.
	id := page1[0].ID
	if _, err := s.Resolve(ctx(), id, unparsed("test", "item.updated", "ignored", "still broken")); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("Resolve of a delivery that does not parse = %v, want Invalid", err)
	}
	before := rec.count()
	if out, err := s.Resolve(ctx(), id, item("unused", "r", intp(3))); err != nil || out != Stored {
		t.Fatalf("Resolve = %q, %v", out, err)
	}
	if out, err := s.Resolve(ctx(), id, item("unused", "r", intp(4))); err != nil || out != Duplicate {
		t.Fatalf("second Resolve = %q, %v", out, err)
	}
	if n := rec.count() - before; n != 1 {
		t.Errorf("resolving dispatched %d jobs, want 1", n)
	}
	var v int
	if err := pool.QueryRow(context.Background(), "SELECT v FROM items WHERE id = 'r'").Scan(&v); err != nil || v != 3 {
		t.Errorf("resolved item v = %d (%v), want 3", v, err)
	}
	var handled bool
	var reason string
	if err := pool.QueryRow(context.Background(), "SELECT handled, parse_error FROM webhook_events WHERE id = $1 AND parse_resolved_at IS NOT NULL", id).Scan(&handled, &reason); err != nil || !handled || reason != "data.id: must be a string" {
		t.Errorf("resolved event handled=%v parse_error=%q (%v): want handled, the error kept", handled, reason, err)
	}
	if fs, _ := ParseFailures(context.Background(), pool); len(fs) != 3 || fs[2].Count != 1 {
		t.Errorf("after resolving: %+v", fs)
	}

	// A database that is gone is an error, not an empty list.
	pool.Close()
	if fs, err := ParseFailures(context.Background(), pool); err == nil {
		t.Errorf("ParseFailures on a closed pool = %v, no error", fs)
	}
	if evs, err := ListUnparsed(context.Background(), pool, "test", 0, 10); err == nil {
		t.Errorf("ListUnparsed on a closed pool = %v, no error", evs)
	}
}

// A deadlock is retried, up to three attempts in all; another error is
// not retried.
// Kills: runAlone's `attempt == 3` (==/!=), retryable's code comparisons.
func TestRunAloneRetries(t *testing.T) {
	_, _, _, pool := setup(t)
	s := &Store{DB: pool}
	// Each attempt counts itself (a sequence is not rolled back), then
	// fails as a deadlock would, or with a unique violation.
	if _, err := pool.Exec(context.Background(), `CREATE SEQUENCE attempts;
		CREATE FUNCTION fail_with(code text) RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN PERFORM nextval('attempts'); RAISE EXCEPTION 'failing on purpose' USING ERRCODE = code; END $$`); err != nil {
		t.Fatal(err)
	}
	q := func(code string) string { return "SELECT fail_with('" + code + "'), '[]'::json" }
	for _, c := range []struct {
		code     string
		attempts int64
	}{{"40P01", 3}, {"40001", 3}, {"23505", 1}} {
		if _, err := pool.Exec(context.Background(), "ALTER SEQUENCE attempts RESTART"); err != nil {
			t.Fatal(err)
		}
		p := &pending{ctx: context.Background(), sql: q(c.code)}
		s.runAlone(p)
		if p.err == nil {
			t.Fatalf("%s: no error", c.code)
		}
		var n int64
		if err := pool.QueryRow(context.Background(), "SELECT last_value FROM attempts").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.attempts {
			t.Errorf("%s: %d attempts, want %d", c.code, n, c.attempts)
		}
	}
}
