package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/seed"

	"github.com/harborstays/concierge/lib/testenv"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func startSystem(t *testing.T, vars map[string]string) *system {
	t.Helper()
	env := map[string]string{"PORT": "0", "STACK_FILE": "../../stack.yml", "DATA_DIR": t.TempDir(), "LOG_LEVEL": "warn", "SEED_FIXTURES": "false"}
	for k, v := range vars {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sys, err := start(ctx, config.FromMap(env), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return sys
}

func call(t *testing.T, method, url string, body []byte, h http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(string(body)))
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestGatewayRoutes(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL})

	if res, body := call(t, "GET", sys.URL+"/healthz", nil, nil); res.StatusCode != 200 || !strings.Contains(body, "aircall-hook") {
		t.Fatalf("healthz: %d %s", res.StatusCode, body)
	}
	if res, body := call(t, "POST", sys.URL+"/function/aircall-hook", fixtures.Read("aircall/call.ended.json"), nil); res.StatusCode != 200 {
		t.Fatalf("sync call: %d %s", res.StatusCode, body)
	}
	if n := dbtest.Count(t, d.Pool, "calls", "status = 'done'"); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}

	// Async with a callback, as the queue-worker does it.
	type cb struct {
		status, callID string
	}
	got := make(chan cb, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- cb{r.Header.Get("X-Function-Status"), r.Header.Get("X-Call-Id")}
	}))
	defer hook.Close()
	res, _ := call(t, "POST", sys.URL+"/async-function/aircall-hook", fixtures.Read("aircall/call.voicemail_left.json"), http.Header{"X-Callback-Url": {hook.URL}})
	if res.StatusCode != http.StatusAccepted || res.Header.Get("X-Call-Id") == "" {
		t.Fatalf("async call: %d, X-Call-Id %q", res.StatusCode, res.Header.Get("X-Call-Id"))
	}
	select {
	case c := <-got:
		if c.status != "200" || c.callID != res.Header.Get("X-Call-Id") {
			t.Errorf("callback %+v, want status 200 and call id %s", c, res.Header.Get("X-Call-Id"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	if n := dbtest.Count(t, d.Pool, "calls", ""); n != 2 {
		t.Errorf("calls after async = %d, want 2", n)
	}

	// Every function of stack.yml is built now: stt refuses an unsigned job
	// message itself (a function not built would answer 501).
	if res, body := call(t, "POST", sys.URL+"/function/stt", []byte(`{}`), nil); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "job invocation refused") {
		t.Errorf("stt: %d %s", res.StatusCode, body)
	}
	if res, _ := call(t, "POST", sys.URL+"/function/no-such-function", nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown function: %d", res.StatusCode)
	}
}

// With no DATABASE_URL the runner starts its own cluster under DATA_DIR,
// and a second start reuses it with the data kept.
func TestRunnerStartsItsOwnPostgres(t *testing.T) {
	if dbtest.Cluster() == nil {
		testenv.Skip(t, "no local PostgreSQL binaries in use")
	}
	dataDir, err := os.MkdirTemp("", "concierge-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	_ = os.Chmod(dataDir, 0o755)
	vars := map[string]string{"DATA_DIR": dataDir}
	sys := startSystem(t, vars)
	if res, body := call(t, "POST", sys.URL+"/function/aircall-hook", fixtures.Read("aircall/call.ended.json"), nil); res.StatusCode != 200 {
		t.Fatalf("sync call: %d %s", res.StatusCode, body)
	}
	sys.Close()

	sys = startSystem(t, vars)
	var n int
	if err := sys.Pool.QueryRow(context.Background(), "SELECT count(*) FROM calls").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: %d calls (%v), want the 1 stored before", n, err)
	}
	if _, err := os.Stat(dataDir + "/secrets/aircall-webhook-token"); err != nil {
		t.Errorf("secrets folder not seeded: %v", err)
	}
}

func TestReindexRebuildsFromPostgres(t *testing.T) {
	d := dbtest.New(t)
	if err := seed.Load(context.Background(), d.Pool, &fntest.Recorder{}, seed.Jordan...); err != nil {
		t.Fatal(err)
	}
	env := config.FromMap(map[string]string{"DATABASE_URL": d.URL, "LOG_LEVEL": "warn", "KNOWLEDGE_DIR": "../../knowledge"})
	if err := reindex(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if n := dbtest.Count(t, d.Pool, "chunks", "listing_id IS NOT NULL AND guest_id IS NULL"); n < 5 {
		t.Errorf("listing chunks after reindex = %d", n)
	}
	if n := dbtest.Count(t, d.Pool, "chunks", "global"); n == 0 {
		t.Error("no knowledge chunks after reindex")
	}
	before := dbtest.Count(t, d.Pool, "chunks", "")
	if _, err := d.Pool.Exec(context.Background(), "DELETE FROM chunks"); err != nil {
		t.Fatal(err)
	}
	// The index lost everything (a new Qdrant, say): reindex restores it.
	if err := reindex(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if after := dbtest.Count(t, d.Pool, "chunks", ""); after != before {
		t.Errorf("chunks after rebuild = %d, want %d", after, before)
	}
}

// make run on embedded defaults: the fixtures load on first start and a
// question asked as Jordan comes back answered from Jordan's listing, via
// the signed webhook, the answer job and chatwoot-reply's local outbox.
func TestAskAsJordanOnEmbeddedDefaults(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "SEED_CONVERSATIONS": "false", "BOT_BURST_WINDOW": "0s"})
	// Let the vectorize jobs of the seed finish.
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	res, body := call(t, "POST", sys.URL+"/dev/ask", []byte("What time can we check in?"), nil)
	if res.StatusCode != 200 || !strings.Contains(body, "3:00 PM") || !strings.Contains(body, `"status": "posted"`) || !strings.Contains(body, "access") {
		t.Fatalf("ask as Jordan: %d %s", res.StatusCode, body)
	}
	res, body = call(t, "POST", sys.URL+"/dev/ask?as=sam", []byte("Can I get a refund?"), nil)
	if res.StatusCode != 200 || !strings.Contains(body, `"mode": "handoff"`) {
		t.Fatalf("refund as Sam: %d %s", res.StatusCode, body)
	}
	if res, body := call(t, "GET", sys.URL+"/outbox", nil, nil); res.StatusCode != 200 || !strings.Contains(body, "3:00 PM") {
		t.Fatalf("outbox: %d %s", res.StatusCode, body)
	}
}

// The whole answering path against a protocol-faithful Chatwoot: the
// agent-bot webhook in, the answer posted as the bot's outgoing message;
// a refund question handed off (note, status open, label ai-handoff).
func TestAnswerReachesChatwoot(t *testing.T) {
	cw := chatwoottest.New(t)
	cw.AddInbox(1, 4)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "SEED_CONVERSATIONS": "false", "BOT_BURST_WINDOW": "0s",
		"CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_CONTACTS_TOKEN": cw.UserToken,
		"CHATWOOT_CONTACT_INBOX_ID": "4", "CHATWOOT_SIGNATURE": "off"})
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for i, q := range []string{"What time can we check in?", "I want a refund for last night"} {
		id := int64(700000 + i)
		cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: id, InboxID: 4, ContactID: 57, Status: "pending"})
		body, err := askEvent("jordan", id, q)
		if err != nil {
			t.Fatal(err)
		}
		if res, out := call(t, "POST", sys.URL+"/function/llm-query", body, nil); res.StatusCode != 200 {
			t.Fatalf("webhook: %d %s", res.StatusCode, out)
		}
	}
	var answer, note *chatwoottest.Message
	for time.Now().Before(deadline) && (answer == nil || note == nil) {
		for _, m := range cw.Posted() {
			m := m
			switch {
			case m.ConversationID == 700000 && !m.Private:
				answer = &m
			case m.ConversationID == 700001 && m.Private:
				note = &m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if answer == nil || !strings.Contains(answer.Content, "3:00 PM") || answer.SenderKind != chatwoottest.Bot {
		t.Fatalf("answer posted: %+v", answer)
	}
	if note == nil || !strings.Contains(note.Content, "refund") {
		t.Fatalf("hand-off note: %+v", note)
	}
	for time.Now().Before(deadline) {
		if c, _ := cw.Conversation(1, 700001); c.Status == "open" && slices.Contains(c.Labels, "ai-handoff") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c, _ := cw.Conversation(1, 700001); c.Status != "open" || !slices.Contains(c.Labels, "ai-handoff") {
		t.Fatalf("hand-off conversation: %+v", c)
	}
	if c, _ := cw.Conversation(1, 700000); c.Status != "pending" {
		t.Errorf("answered conversation changed status: %+v", c)
	}
	// The contact sync of the seed created Jordan's contact with the user token.
	found := false
	for !found && time.Now().Before(deadline) {
		for _, c := range cw.Contacts(1) {
			if c.Identifier == "66a1f0c2e4b0a1b2c3d4e5f6" && c.PhoneNumber == "+15555550142" {
				found = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !found {
		t.Errorf("contact sync did not create Jordan's contact: %+v", cw.Contacts(1))
	}
}
