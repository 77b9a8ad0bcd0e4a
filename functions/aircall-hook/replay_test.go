package function

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/webhook"
)

// Bodies the first decoder refused ("data.content: is required": it read
// only a string, or utterances, or a string under content/text/summary)
// and the current one reads: AI Assist text wrapped one level deeper.
func wrappedInsights(t *testing.T) (summary, transcript string) {
	t.Helper()
	s := string(fixtures.Read("local/aircall.summary.created.json"))
	i := strings.Index(s, `"content": "`)
	j := strings.Index(s[i:], "\"\n")
	if i < 0 || j < 0 {
		t.Fatal("summary fixture changed")
	}
	text := s[i+len(`"content": `) : i+j+1]
	summary = s[:i] + `"content": {"summary": {"text": ` + text + `}}` + s[i+j+1:]

	tr := string(fixtures.Read("local/aircall.transcription.created.json"))
	k := strings.Index(tr, `"content": {`)
	if k < 0 {
		t.Fatal("transcription fixture changed")
	}
	// {"content": {"transcription": {...}}}: close one more brace at the end
	// of data.
	end := strings.LastIndex(tr, "}\n  }\n}")
	transcript = tr[:k] + `"content": {"transcription": ` + tr[k+len(`"content": `):end] + "}}\n  }\n}\n"
	return summary, transcript
}

type callRow struct {
	Summary, Transcript, Source, Lang, LastEvent, EventAt string
	SummaryAt, TranscriptAt                               time.Time
	StatusRank                                            int
}

func readCall(t *testing.T, h *faastest.Harness, id int64) callRow {
	t.Helper()
	var c callRow
	err := h.DB.Pool.QueryRow(context.Background(), `SELECT summary, transcript, transcript_source, transcript_language,
			last_event, summary_at, transcript_at, event_at::text, status_rank FROM calls WHERE id = $1`, id).
		Scan(&c.Summary, &c.Transcript, &c.Source, &c.Lang, &c.LastEvent, &c.SummaryAt, &c.TranscriptAt, &c.EventAt, &c.StatusRank)
	if err != nil {
		t.Fatalf("call %d: %v", id, err)
	}
	return c
}

func failuresOf(t *testing.T, h *faastest.Harness) []webhook.ParseFailure {
	t.Helper()
	f, err := webhook.ParseFailures(context.Background(), h.DB.Pool)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Events stored unparsed are applied once the decoder reads them: the rows
// and jobs a fresh delivery would have written appear, once; replaying
// again changes nothing; events still unparseable stay as they were.
func TestReplayUnparsedEvents(t *testing.T) {
	summary, transcript := wrappedInsights(t)
	ctx := context.Background()

	// What a fresh delivery of the same bodies writes today.
	fresh := start(t)
	for _, b := range []string{summary, transcript} {
		if code, out := fresh.Post(t, []byte(b), nil); code != http.StatusOK || !strings.Contains(out, "stored") {
			t.Fatalf("fresh delivery: %d %s", code, out)
		}
	}
	want := readCall(t, fresh, 1843377012)
	if !strings.HasPrefix(want.Summary, "The guest lands around noon") || !strings.HasPrefix(want.Transcript, "Agent: Harbor Stays") || want.Lang != "en-US" {
		t.Fatalf("fresh delivery wrote %+v", want)
	}

	h := start(t)
	// Stored by the first build, which refused these shapes.
	for i, b := range []string{summary, transcript} {
		event := map[int]string{0: aircall.EventSummary, 1: aircall.EventTranscription}[i]
		if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, parse_error)
			VALUES ('aircall', $1, $2, $3, false, 'data.content: is required')`, event, "legacy-"+event, b); err != nil {
			t.Fatal(err)
		}
	}
	// Still unreadable: no content at all. A retry of it is a duplicate.
	broken := strings.Replace(string(fixtures.Read("local/aircall.summary.created.json")), `"content": "The guest`, `"contents": "The guest`, 1)
	broken = strings.Replace(broken, `"timestamp": 1752869015`, `"timestamp": 1752869099`, 1)
	for _, want := range []string{"unparsed", "duplicate"} {
		if code, out := h.Post(t, []byte(broken), nil); code != http.StatusOK || !strings.Contains(out, want) {
			t.Fatalf("broken summary: %d %s, want %s", code, out, want)
		}
	}
	before := []webhook.ParseFailure{{Source: "aircall", EventType: "summary.created", Count: 2}, {Source: "aircall", EventType: "transcription.created", Count: 1}}
	if got := failuresOf(t, h); !reflect.DeepEqual(got, before) {
		t.Fatalf("parse failures %+v, want %+v", got, before)
	}

	hook := &aircall.Hook{Store: &webhook.Store{DB: h.DB.Pool, Invoker: h.Invoked}, Region: "US", TranscribeAfter: 10 * time.Minute}

	// A dry run decodes and changes nothing.
	res, err := hook.ReplayUnparsed(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 2 || len(res.Unparsed) != 1 || res.Applied[0].Outcome != "" {
		t.Fatalf("dry run: %+v", res)
	}
	if n := dbtest.Count(t, h.DB.Pool, "calls", ""); n != 0 || len(h.Invoked.Calls()) != 0 {
		t.Fatalf("dry run wrote %d calls, invoked %d", n, len(h.Invoked.Calls()))
	}
	if got := failuresOf(t, h); !reflect.DeepEqual(got, before) {
		t.Fatalf("parse failures after a dry run %+v", got)
	}

	res, err = hook.ReplayUnparsed(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 2 || res.Applied[0].Outcome != webhook.Stored || res.Applied[1].Outcome != webhook.Stored {
		t.Fatalf("applied %+v", res.Applied)
	}
	if len(res.Unparsed) != 1 || res.Unparsed[0].EventType != aircall.EventSummary || !strings.Contains(res.Unparsed[0].ParseError, "data.content: is required") {
		t.Fatalf("still unparsed %+v", res.Unparsed)
	}
	if got := readCall(t, h, 1843377012); got != want {
		t.Errorf("replay wrote %+v, a fresh delivery %+v", got, want)
	}
	after := []webhook.ParseFailure{{Source: "aircall", EventType: "summary.created", Count: 1}}
	if got := failuresOf(t, h); !reflect.DeepEqual(got, after) {
		t.Errorf("parse failures after replay %+v, want %+v", got, after)
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", "dedupe_key LIKE 'legacy-%' AND handled AND parse_resolved_at IS NOT NULL AND parse_error IS NOT NULL"); n != 2 {
		t.Errorf("%d replayed events marked resolved (error kept), want 2", n)
	}
	jobsOf := func(h *faastest.Harness) (int, int) {
		return dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize' AND subject = 'call:1843377012'"), len(h.Invoked.Calls())
	}
	gotJobs, gotInvoked := jobsOf(h)
	wantJobs, wantInvoked := jobsOf(fresh)
	if gotJobs != wantJobs || gotInvoked != wantInvoked || gotJobs != 1 {
		t.Errorf("replay queued %d jobs and invoked %d times; a fresh delivery %d and %d", gotJobs, gotInvoked, wantJobs, wantInvoked)
	}

	// Replaying again (or an event resolved meanwhile) changes nothing.
	var updated time.Time
	_ = h.DB.Pool.QueryRow(ctx, "SELECT updated_at FROM calls WHERE id = 1843377012").Scan(&updated)
	res, err = hook.ReplayUnparsed(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 0 || len(res.Unparsed) != 1 {
		t.Errorf("second replay: %+v", res)
	}
	var id int64
	if err := h.DB.Pool.QueryRow(ctx, "SELECT id FROM webhook_events WHERE dedupe_key = 'legacy-summary.created'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	p, _ := wrappedInsights(t)
	d := webhook.Delivery{Source: "aircall", EventType: aircall.EventSummary, Payload: []byte(p), Writes: []webhook.Write{{
		Name: "summary", SQL: "UPDATE calls SET summary = 'overwritten' WHERE EXISTS (SELECT 1 FROM ev) RETURNING 'call:' || id AS subject",
	}}}
	if out, err := hook.Store.Resolve(ctx, id, d); err != nil || out != webhook.Duplicate {
		t.Errorf("resolving a resolved event: %s %v, want duplicate", out, err)
	}
	var updatedAfter time.Time
	_ = h.DB.Pool.QueryRow(ctx, "SELECT updated_at FROM calls WHERE id = 1843377012").Scan(&updatedAfter)
	if got := readCall(t, h, 1843377012); got != want || !updatedAfter.Equal(updated) {
		t.Errorf("a second replay changed the call: %+v", got)
	}
	if j, inv := jobsOf(h); j != gotJobs || inv != gotInvoked {
		t.Errorf("a second replay queued %d jobs, invoked %d times (was %d, %d)", j, inv, gotJobs, gotInvoked)
	}
	if got := failuresOf(t, h); !reflect.DeepEqual(got, after) {
		t.Errorf("parse failures after a second replay %+v", got)
	}
}

// A call event stored unparsed (a field of an unexpected type) is applied
// with the hook's configuration: the call row and its jobs, the delayed
// transcription included, as a fresh call.ended would.
func TestReplayAppliesCallEventsWithTheirJobs(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	body := fixtures.Read("aircall/call.ended.json")
	if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, parse_error)
		VALUES ('aircall', 'call.ended', 'legacy-call', $1, false, 'data.duration: must be int, got string')`, body); err != nil {
		t.Fatal(err)
	}
	hook := &aircall.Hook{Store: &webhook.Store{DB: h.DB.Pool, Invoker: h.Invoked}, Region: "US", TranscribeAfter: 10 * time.Minute}
	for round := range 2 {
		res, err := hook.ReplayUnparsed(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if wantApplied := 1 - round; len(res.Applied) != wantApplied || len(res.Unparsed) != 0 {
			t.Fatalf("round %d: %+v", round, res)
		}
		if n := dbtest.Count(t, h.DB.Pool, "calls", "id = 1843377012 AND status = 'done' AND phone_e164 = '+15555550142'"); n != 1 {
			t.Errorf("round %d: call rows %d", round, n)
		}
		if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize'"); n != 1 {
			t.Errorf("round %d: vectorize jobs %d", round, n)
		}
		if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'transcribe-call' AND not_before > now() + interval '9 minutes'"); n != 1 {
			t.Errorf("round %d: delayed transcribe-call jobs %d", round, n)
		}
		if n := len(h.Invoked.Calls()); n != 1 {
			t.Errorf("round %d: invocations %d, want 1 (vectorize; transcribe-call waits)", round, n)
		}
	}
}
