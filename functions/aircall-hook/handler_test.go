package function

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/webhook"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func start(t *testing.T) *faastest.Harness {
	t.Helper()
	return faastest.Start(t, Name, New, map[string]string{"AIRCALL_WEBHOOK_TOKEN": "rotated-old-token," + fixtures.AircallToken})
}

func TestContractFixturesLandRows(t *testing.T) {
	h := start(t)
	for _, name := range fixtures.List("aircall") {
		code, body := h.Post(t, fixtures.Read(name), nil)
		if code != http.StatusOK || !strings.Contains(body, `"stored"`) {
			t.Fatalf("%s: got %d %s", name, code, body)
		}
	}
	ctx := context.Background()
	type call struct {
		status, phone, event string
		missed, agent        *string
		recording, vm        bool
		comments             int
	}
	read := func(id int64) call {
		var c call
		err := h.DB.Pool.QueryRow(ctx, `SELECT status, phone_e164, last_event, missed_call_reason, agent_name,
			has_recording, has_voicemail, jsonb_array_length(comments) FROM calls WHERE id = $1`, id).
			Scan(&c.status, &c.phone, &c.event, &c.missed, &c.agent, &c.recording, &c.vm, &c.comments)
		if err != nil {
			t.Fatalf("call %d: %v", id, err)
		}
		return c
	}
	answered := read(1843377012)
	if answered.status != "done" || answered.event != "call.ended" || answered.phone != "+15555550142" ||
		answered.agent == nil || *answered.agent != "Riley Chen" || !answered.recording || answered.comments != 1 {
		t.Errorf("answered call = %+v", answered)
	}
	vm := read(1843391455)
	if vm.status != "done" || vm.missed == nil || *vm.missed != "out_of_opening_hours" || !vm.vm || vm.agent != nil {
		t.Errorf("voicemail call = %+v", vm)
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", "source = 'aircall'"); n != 3 {
		t.Errorf("webhook_events = %d, want 3", n)
	}
	// call.created and call.ended for the same call coalesce into one pending job.
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize' AND status = 'pending'"); n != 2 {
		t.Errorf("pending vectorize jobs = %d, want 2 (one per call)", n)
	}
	calls := h.Invoked.Calls()
	if len(calls) != 3 {
		t.Fatalf("async invocations = %d, want 3", len(calls))
	}
	for _, c := range calls {
		if c.Function != "vectorize" || c.Header.Get("X-Job-Id") == "" || c.Header.Get("X-Trace-Id") == "" {
			t.Errorf("invocation %s %v", c.Function, c.Header)
		}
		if !bytes.Contains(c.Body, []byte(`"subject":"call:18433`)) {
			t.Errorf("invocation body %s", c.Body)
		}
	}
}

func TestContactEvent(t *testing.T) {
	h := start(t)
	if code, body := h.Post(t, fixtures.Read("local/aircall.contact.created.json"), nil); code != http.StatusOK {
		t.Fatalf("got %d %s", code, body)
	}
	if n := dbtest.Count(t, h.DB.Pool, "aircall_contacts", "id = 44551122 AND phones = '{+15555550142}' AND emails = '{jordan.avery@example.com}'"); n != 1 {
		t.Errorf("contact rows = %d, want 1 with normalised phone and email", n)
	}
}

func TestRetriedDeliveryStoredOnce(t *testing.T) {
	h := start(t)
	body := fixtures.Read("aircall/call.ended.json")
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = h.Post(t, body, nil)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	// Re-serialised with other whitespace, as a retry from another encoder.
	var compact bytes.Buffer
	compact.Write(bytes.Join(bytes.Fields(body), []byte(" ")))
	if code, out := h.Post(t, compact.Bytes(), nil); code != http.StatusOK || !strings.Contains(out, "duplicate") {
		t.Errorf("re-serialised retry: %d %s", code, out)
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 1 {
		t.Errorf("webhook_events = %d, want 1", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize'"); n != 1 {
		t.Errorf("vectorize jobs = %d, want 1", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'transcribe-call'"); n != 1 {
		t.Errorf("transcribe-call jobs = %d, want 1", n)
	}
	if n := len(h.Invoked.Calls()); n != 1 {
		t.Errorf("invocations = %d, want 1", n)
	}
}

func TestOlderEventNeverRegresses(t *testing.T) {
	h := start(t)
	for _, name := range []string{"aircall/call.ended.json", "aircall/call.created.json"} {
		if code, body := h.Post(t, fixtures.Read(name), nil); code != http.StatusOK {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	var status, event string
	var duration int
	if err := h.DB.Pool.QueryRow(context.Background(), "SELECT status, last_event, duration FROM calls WHERE id = 1843377012").Scan(&status, &event, &duration); err != nil {
		t.Fatal(err)
	}
	if status != "done" || event != "call.ended" || duration != 201 {
		t.Errorf("after an older event: status %s, event %s, duration %d; want done, call.ended, 201", status, event, duration)
	}
	// The stale event is kept raw but queues no work.
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != 2 {
		t.Errorf("webhook_events = %d, want 2", n)
	}
	if n := len(h.Invoked.Calls()); n != 1 {
		t.Errorf("invocations = %d, want 1", n)
	}
}

// Bodies that are not a JSON object, a wrong token, an oversized body and
// an unknown event keep their answers. An authenticated delivery of a known
// event whose body has an unexpected shape is never refused (Aircall would
// retry it and then disable the webhook, call events included): it is kept
// raw with its parse error, answered "unparsed", and nothing else is
// written.
func TestBadInput(t *testing.T) {
	ended := string(fixtures.Read("aircall/call.ended.json"))
	transcript := string(fixtures.Read("local/aircall.transcription.created.json"))
	summary := string(fixtures.Read("local/aircall.summary.created.json"))
	user := string(fixtures.Read("local/aircall.user.created.json"))
	big := `{"resource":"call","event":"call.ended","timestamp":1,"token":"` + fixtures.AircallToken + `","data":{"id":1,"pad":"` + strings.Repeat("x", 70000) + `"}}`
	summaryContent := `"content": "The guest lands around noon and asked for an early check-in. The agent offered 1 PM if cleaning finishes in time and resent the door code by WhatsApp."`
	if !strings.Contains(summary, summaryContent) {
		t.Fatal("summary fixture changed")
	}
	tests := []struct {
		name     string
		method   string
		body     string
		want     int
		contains string
		events   int
		parseErr string // webhook_events.parse_error of the stored event
	}{
		{"wrong token", "POST", strings.Replace(ended, fixtures.AircallToken, "0000000000000000000000000000beef", 1), 401, "token", 0, ""},
		{"missing token", "POST", strings.Replace(ended, `"token": "`+fixtures.AircallToken+`",`, "", 1), 401, "token", 0, ""},
		{"wrong token, unexpected shape", "POST", strings.Replace(strings.Replace(transcript, `"call_id": "1843377012",`, "", 1),
			fixtures.AircallToken, "0000000000000000000000000000beef", 1), 401, "token", 0, ""},
		{"wrong token, envelope of the wrong type", "POST", strings.Replace(strings.Replace(ended, `"timestamp": 1752868932`, `"timestamp": "soon"`, 1),
			fixtures.AircallToken, "0000000000000000000000000000beef", 1), 401, "token", 0, ""},
		{"malformed JSON", "POST", ended[:len(ended)/2], 400, "malformed JSON", 0, ""},
		{"not an object", "POST", `[1,2,3]`, 400, "", 0, ""},
		{"empty body", "POST", ``, 400, "empty body", 0, ""},
		{"missing event", "POST", strings.Replace(ended, `"event": "call.ended",`, "", 1), 400, "event", 0, ""},
		{"unknown event of an unexpected shape", "POST", strings.Replace(user, `"timestamp": `, `"timestamp": "x", "was": `, 1), 400, "timestamp", 0, ""},
		{"too large", "POST", big, 413, "too large", 0, ""},
		{"GET", "GET", ``, 405, "POST", 0, ""},
		{"unknown event", "POST", user, 200, "ignored", 1, ""},
		{"unused AI Assist event", "POST", string(fixtures.Read("local/aircall.sentiment.created.json")), 200, "ignored", 1, ""},
		{"call without id", "POST", strings.Replace(ended, `"id": 1843377012,`, "", 1), 200, "unparsed", 1, "data.id: is required"},
		{"call field of the wrong type", "POST", strings.Replace(ended, `"duration": 201`, `"duration": "long"`, 1), 200, "unparsed", 1, "duration: must be int"},
		{"call direction unknown to us", "POST", strings.Replace(ended, `"direction": "inbound"`, `"direction": "sideways"`, 1), 200, "unparsed", 1, "data.direction: must be one of"},
		{"known event, timestamp of the wrong type", "POST", strings.Replace(ended, `"timestamp": 1752868932`, `"timestamp": "soon"`, 1), 200, "unparsed", 1, "timestamp: must be int64"},
		{"transcript without call id", "POST", strings.Replace(transcript, `"call_id": "1843377012",`, "", 1), 200, "unparsed", 1, "data.call_id: must be a call id"},
		{"transcript for a call id that is no number", "POST", strings.Replace(transcript, `"call_id": "1843377012"`, `"call_id": "abc"`, 1), 200, "unparsed", 1, "data.call_id: must be a call id"},
		{"summary without content", "POST", strings.Replace(summary, `"content": "The guest`, `"contents": "The guest`, 1), 200, "unparsed", 1, "data.content: is required"},
		{"summary content of an unexpected type", "POST", strings.Replace(summary, summaryContent, `"content": 42`, 1), 200, "unparsed", 1, "data.content: holds no text"},
		{"summary content an object without text", "POST", strings.Replace(summary, summaryContent, `"content": {"score": 0.8}`, 1), 200, "unparsed", 1, "data.content: holds no text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			code, body := h.Do(t, tt.method, []byte(tt.body), nil)
			if code != tt.want || !strings.Contains(body, tt.contains) {
				t.Errorf("got %d %s, want %d containing %q", code, body, tt.want, tt.contains)
			}
			if n := dbtest.Count(t, h.DB.Pool, "webhook_events", ""); n != tt.events {
				t.Errorf("webhook_events = %d, want %d", n, tt.events)
			}
			for _, table := range []string{"calls", "aircall_contacts", "jobs"} {
				if n := dbtest.Count(t, h.DB.Pool, table, ""); n != 0 {
					t.Errorf("%s = %d rows, want none", table, n)
				}
			}
			if n := len(h.Invoked.Calls()); n != 0 {
				t.Errorf("invocations = %d, want 0", n)
			}
			failures, err := webhook.ParseFailures(context.Background(), h.DB.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if tt.parseErr == "" {
				if len(failures) != 0 {
					t.Errorf("parse failures %+v, want none", failures)
				}
				return
			}
			var stored string
			var handled bool
			var payload []byte
			if err := h.DB.Pool.QueryRow(context.Background(), `SELECT parse_error, handled, payload::text FROM webhook_events
				WHERE source = 'aircall' AND parse_resolved_at IS NULL`).Scan(&stored, &handled, &payload); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stored, tt.parseErr) || handled {
				t.Errorf("stored parse_error %q (handled %v), want it to hold %q", stored, handled, tt.parseErr)
			}
			if !bytes.Contains(payload, []byte(`"token"`)) {
				t.Errorf("raw payload not kept: %s", payload)
			}
			var event string
			_ = json.Unmarshal([]byte(tt.body), &struct {
				Event *string `json:"event"`
			}{&event})
			if len(failures) != 1 || failures[0] != (webhook.ParseFailure{Source: "aircall", EventType: event, Count: 1}) {
				t.Errorf("parse failures %+v, want one %s", failures, event)
			}
		})
	}
}

// Logs carry the function name and trace id of each delivery and none of
// the personal values the payloads hold (TestMain checks the whole run).
func TestLogsCarryTraceButNoPII(t *testing.T) {
	h := start(t)
	hdr := http.Header{"X-Trace-Id": {"trace-from-aircall-test"}}
	if code, _ := h.Post(t, fixtures.Read("aircall/call.ended.json"), hdr); code != http.StatusOK {
		t.Fatal(code)
	}
	// A rejected token must not be echoed either.
	h.Post(t, []byte(strings.Replace(string(fixtures.Read("aircall/call.ended.json")), fixtures.AircallToken, "0000000000000000000000000000beef", 1)), nil)
	logs := fntest.Logs()
	if !strings.Contains(logs, `"fn":"aircall-hook"`) || !strings.Contains(logs, `"trace_id":"trace-from-aircall-test"`) {
		t.Fatalf("function logs not captured with fn and trace_id:\n%s", logs)
	}
	if leaks := fntest.Leaks(logs); len(leaks) > 0 {
		t.Fatalf("logs hold %v", leaks)
	}
	// The trace id travels on to the async hop.
	calls := h.Invoked.Calls()
	if len(calls) != 1 || calls[0].Header.Get("X-Trace-Id") != "trace-from-aircall-test" {
		t.Fatalf("async hop did not carry the trace id: %+v", calls)
	}
}

// AI Assist events arrive in any order with the call's own events: the
// transcript and summary end up on the call either way, the call's fields
// are not disturbed, and the call is re-indexed.
func TestAIAssistInsightsAttachToCall(t *testing.T) {
	insights := []string{"local/aircall.transcription.created.json", "local/aircall.summary.created.json"}
	calls := []string{"aircall/call.created.json", "aircall/call.ended.json"}
	for _, tc := range []struct {
		name  string
		order []string
	}{
		{"call first", append(append([]string{}, calls...), insights...)},
		{"insights first", append(append([]string{}, insights...), calls...)},
		{"interleaved", []string{insights[1], calls[0], insights[0], calls[1]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			for _, name := range tc.order {
				if code, body := h.Post(t, fixtures.Read(name), nil); code != http.StatusOK || !strings.Contains(body, "stored") {
					t.Fatalf("%s: %d %s", name, code, body)
				}
			}
			var transcript, source, summary, status, phone, event string
			var lang *string
			err := h.DB.Pool.QueryRow(context.Background(), `SELECT transcript, transcript_source, transcript_language, summary,
				status, phone_e164, last_event FROM calls WHERE id = 1843377012`).
				Scan(&transcript, &source, &lang, &summary, &status, &phone, &event)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(transcript, "Agent: Harbor Stays guest line") || !strings.Contains(transcript, "\nGuest: Hi, it's Jordan Avery.") ||
				source != "aircall" || lang == nil || *lang != "en-US" {
				t.Errorf("transcript %q from %s in %v", transcript, source, lang)
			}
			if !strings.HasPrefix(summary, "The guest lands around noon") {
				t.Errorf("summary %q", summary)
			}
			if status != "done" || phone != "+15555550142" || event != "call.ended" {
				t.Errorf("call fields after insights: %s %s %s", status, phone, event)
			}
			// The transcript arrived before our own transcription was due:
			// none is queued, or the one queued finds it and does nothing.
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize' AND subject = 'call:1843377012'"); n < 1 {
				t.Errorf("no vectorize job for the call")
			}
			if tc.name == "insights first" {
				if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'transcribe-call'"); n != 0 {
					t.Errorf("transcribe-call jobs = %d for a call with Aircall's transcript", n)
				}
			}
			// A retried insight changes nothing.
			code, body := h.Post(t, fixtures.Read(insights[0]), nil)
			if code != http.StatusOK || !strings.Contains(body, "duplicate") {
				t.Errorf("retried transcript: %d %s", code, body)
			}
		})
	}
}

func TestRecordedCallQueuesDelayedTranscription(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		posts  []string
		jobs   int
		waitLo time.Duration
	}{
		{"recorded call without transcript", nil, []string{"aircall/call.ended.json"}, 1, 9 * time.Minute},
		{"configured wait", map[string]string{"CALL_TRANSCRIPT_WAIT": "30m"}, []string{"aircall/call.ended.json"}, 1, 29 * time.Minute},
		{"switched off", map[string]string{"CALL_TRANSCRIBE": "false"}, []string{"aircall/call.ended.json"}, 0, 0},
		{"not ended yet", nil, []string{"aircall/call.created.json"}, 0, 0},
		{"voicemail", nil, []string{"aircall/call.voicemail_left.json"}, 1, 9 * time.Minute},
		{"Aircall's transcript came first", nil, []string{"local/aircall.transcription.created.json", "aircall/call.ended.json"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"AIRCALL_WEBHOOK_TOKEN": fixtures.AircallToken}
			for k, v := range tc.env {
				env[k] = v
			}
			h := faastest.Start(t, Name, New, env)
			for _, name := range tc.posts {
				if code, body := h.Post(t, fixtures.Read(name), nil); code != http.StatusOK {
					t.Fatalf("%s: %d %s", name, code, body)
				}
			}
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'transcribe-call' AND function = 'stt' AND status = 'pending'"); n != tc.jobs {
				t.Fatalf("transcribe-call jobs = %d, want %d", n, tc.jobs)
			}
			for _, c := range h.Invoked.Calls() {
				if c.Function == "stt" {
					t.Errorf("the delayed job was invoked at once")
				}
			}
			if tc.jobs == 0 {
				return
			}
			var wait time.Duration
			if err := h.DB.Pool.QueryRow(context.Background(),
				"SELECT not_before - now() FROM jobs WHERE kind = 'transcribe-call'").Scan(&wait); err != nil {
				t.Fatal(err)
			}
			if wait < tc.waitLo || wait > tc.waitLo+2*time.Minute {
				t.Errorf("job due in %s, want about %s", wait, tc.waitLo+time.Minute)
			}
		})
	}
}
