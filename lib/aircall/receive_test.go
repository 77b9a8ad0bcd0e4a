package aircall

// Tests of the hook's guard (token, then shape) and of the dedupe key,
// written for `make mutate`: each names the gremlins mutants it kills.
// They store into a real database, as functions/aircall-hook does.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/webhook"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// dropInvoker drops the jobs a stored call queues.
type dropInvoker struct{}

func (dropInvoker) Async(context.Context, string, []byte, http.Header) error { return nil }

// logBuffer collects log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestHook(t *testing.T, tokens ...string) (*Hook, *dbtest.DB) {
	t.Helper()
	d := dbtest.New(t)
	h, err := NewHook(&webhook.Store{DB: d.Pool, Invoker: dropInvoker{}, MaxBatch: 1}, tokens, "US")
	if err != nil {
		t.Fatal(err)
	}
	return h, d
}

// withToken returns body with its token replaced.
func withToken(t *testing.T, body []byte, token string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["token"] = token
	out, _ := json.Marshal(m)
	return out
}

// The token is all that authenticates a delivery: any of the configured
// tokens passes, nothing else does, and an empty token never does (even
// if an empty one was configured by mistake).
// Kills: authorized's `token != ""` negated, its && made ||, `ok == 1`
// negated; NewHook's `len(tokens) == 0` negated.
func TestAuthorized(t *testing.T) {
	if _, err := NewHook(nil, nil, "US"); err == nil {
		t.Error("NewHook without tokens succeeded")
	}
	h, err := NewHook(nil, []string{"", "first-token", "second-token"}, "US")
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]bool{
		"first-token": true, "second-token": true,
		"": false, "first-token ": false, "First-token": false, "third-token": false,
	} {
		if got := h.authorized(token); got != want {
			t.Errorf("authorized(%q) = %v, want %v", token, got, want)
		}
	}
}

// Receive checks the token before anything else, refuses what is not an
// event, keeps an authenticated known event that does not decode (so
// Aircall does not disable the webhook), and stores each delivery once.
// Kills: Receive's `err != nil` after the envelope (a well-formed body
// stored as unparsed, or a malformed one decoded), the
// `json.Unmarshal(body, &t) == nil && !h.authorized(t.Token)` guard
// negated or made ||, the `if err != nil` of check negated, the two
// `if err == nil` log lines negated; storeUnparsed's log line.
func TestReceive(t *testing.T) {
	h, d := newTestHook(t, fixtures.AircallToken)
	var logs logBuffer
	ctx := logging.WithLogger(context.Background(), logging.New("aircall-hook", &logs, "info"))
	call := fixtures.Read("aircall/call.ended.json")
	user := fixtures.Read("local/aircall.user.created.json")
	badCall := bytes.Replace(call, []byte(`"id": 1843377012`), []byte(`"id": "not a number"`), 1)
	badUser := []byte(`{"resource":"user","event":"user.created","timestamp":1752868600,"token":"` + fixtures.AircallToken + `"}`)
	for _, c := range []struct {
		name    string
		body    []byte
		want    webhook.Outcome
		refused bool
		kind    fault.Kind
		log     string
		rows    int // webhook_events after it
		calls   int
	}{
		// Refused before the body is looked at.
		{name: "wrong token", body: withToken(t, call, "guess"), refused: true, kind: fault.Unauthorized, rows: 0},
		{name: "no token", body: withToken(t, call, ""), refused: true, kind: fault.Unauthorized, rows: 0},
		{name: "null", body: []byte(`null`), refused: true, kind: fault.Unauthorized, rows: 0},
		{name: "malformed with a wrong token", body: withToken(t, badCall, "guess"), refused: true, kind: fault.Unauthorized, rows: 0},
		{name: "an object of the wrong shape, wrong token", body: []byte(`{"token":"guess","timestamp":"soon","data":[]}`), refused: true, kind: fault.Unauthorized, rows: 0},
		// Not an event at all: refused for its shape.
		{name: "an array", body: []byte(`[{"token":"` + fixtures.AircallToken + `"}]`), refused: true, kind: fault.Invalid, rows: 0},
		{name: "not JSON", body: []byte(`{"token":`), refused: true, kind: fault.Invalid, rows: 0},
		// An unknown event without its data is refused; one with it is
		// kept and ignored.
		{name: "unknown event without data", body: badUser, refused: true, kind: fault.Invalid, rows: 0},
		{name: "unknown event", body: user, want: webhook.Ignored, log: `"outcome":"ignored"`, rows: 1},
		// A known event: stored once, a retry is a duplicate.
		{name: "call", body: call, want: webhook.Stored, log: `"outcome":"stored"`, rows: 2, calls: 1},
		{name: "call again", body: call, want: webhook.Duplicate, log: `"outcome":"duplicate"`, rows: 2, calls: 1},
		{name: "call re-serialised", body: compacted(t, call), want: webhook.Duplicate, log: `"outcome":"duplicate"`, rows: 2, calls: 1},
		// A known event that does not decode: kept with its error.
		{name: "malformed call", body: badCall, want: webhook.Unparsed, log: "stored for concierge replay-events", rows: 3, calls: 1},
		{name: "malformed call again", body: badCall, want: webhook.Duplicate, log: `"outcome":"duplicate"`, rows: 3, calls: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(logs.String())
			out, err := h.Receive(ctx, c.body)
			if c.refused {
				if fault.KindOf(err) != c.kind {
					t.Fatalf("Receive = %q, %v; want a %s error", out, err, c.kind)
				}
			} else if err != nil || out != c.want {
				t.Fatalf("Receive = %q, %v; want %q", out, err, c.want)
			}
			if n := dbtest.Count(t, d.Pool, "webhook_events", ""); n != c.rows {
				t.Errorf("webhook_events = %d, want %d", n, c.rows)
			}
			if n := dbtest.Count(t, d.Pool, "calls", ""); n != c.calls {
				t.Errorf("calls = %d, want %d", n, c.calls)
			}
			if got := logs.String()[before:]; c.log != "" && !strings.Contains(got, c.log) || c.log == "" && got != "" {
				t.Errorf("logged %q, want a line with %q", got, c.log)
			}
		})
	}
	var parseError string
	if err := d.Pool.QueryRow(context.Background(), "SELECT parse_error FROM webhook_events WHERE parse_error IS NOT NULL").Scan(&parseError); err != nil || !strings.Contains(parseError, "data.id") {
		t.Errorf("stored parse error %q (%v), want one naming data.id", parseError, err)
	}
}

func compacted(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The id in a dedupe key is read the same way whatever its JSON form:
// numbers canonical, strings as their content, anything else compacted,
// so a re-serialised retry keeps its key.
// Kills: dataID's `err == nil` negated (a string id read as 0, a number
// not made canonical), compactToken's `json.Compact(...) != nil` negated
// (an object id kept with its whitespace).
func TestDataID(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{`{"id": 1843377012}`, "1843377012"},
		{`{"id": "1843377012"}`, "1843377012"},
		{`{"id": "abc"}`, "abc"},
		{`{"id": "007"}`, "7"},
		{`{"id": 1e3}`, "1e3"},
		{`{"id": {"a": 1, "b": [1, 2]}}`, `{"a":1,"b":[1,2]}`},
		{`{"id": null}`, ""},
		{`{"other": 1}`, ""},
		{`[1]`, ""},
		{`{"ID": 5}`, "5"}, // encoding/json matches names case-insensitively
	} {
		if got := dataID(json.RawMessage(c.data), "id"); got != c.want {
			t.Errorf("dataID(%s) = %q, want %q", c.data, got, c.want)
		}
	}
}

// A delivery that did not decode keeps one key however it is spaced: the
// retry of an unparsed event is a duplicate even re-serialised.
// Kills: compactToken's `!= nil` negated through the timestamp.
func TestLooseKeyIgnoresSpacing(t *testing.T) {
	a := []byte(`{"event":"call.ended","timestamp":[1752868932, 1],"token":"x","data":{"id": 7, "status": "done"}}`)
	b := []byte(`{"event": "call.ended", "timestamp": [1752868932,1], "token": "x", "data": {"id":7,"status":"done"}}`)
	ea, okA := looseEnvelope(a)
	eb, okB := looseEnvelope(b)
	if !okA || !okB {
		t.Fatal("not read loosely")
	}
	if ka, kb := looseKey(ea), looseKey(eb); ka != kb || !strings.HasPrefix(ka, "call.ended:7:[1752868932,1]:") {
		t.Errorf("keys %q and %q, want one key for both", ka, kb)
	}
}
