package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/llm"
	"github.com/harborstays/concierge/lib/llm/llmtest"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

var baseEnv = map[string]string{"CHATWOOT_SIGNATURE": "off", "BOT_BURST_WINDOW": "0s"}

func start(t *testing.T, env map[string]string) *faastest.Harness {
	t.Helper()
	vars := map[string]string{"KNOWLEDGE_DIR": fntest.Knowledge(t)}
	for k, v := range baseEnv {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	h := faastest.Start(t, Name, New, vars)
	if err := seed.Load(context.Background(), h.DB.Pool, &fntest.Recorder{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	// Index what the seed stored, as vectorize would.
	ix, err := indexer.FromConfig(context.Background(), h.Env.Config, h.Env.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Reindex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// message builds a message_created event from the incoming fixture.
func message(t *testing.T, mutate func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read("chatwoot/message_created.incoming.json"), &m); err != nil {
		t.Fatal(err)
	}
	mutate(m)
	b, _ := json.Marshal(m)
	return b
}

func text(id int, content string) func(map[string]any) {
	return func(m map[string]any) {
		m["id"] = id
		m["content"] = content
	}
}

// answerJobs runs every pending answer job through the function, as the
// async invocation would, and returns the bodies.
func answerJobs(t *testing.T, h *faastest.Harness) []string {
	t.Helper()
	rows, err := h.DB.Pool.Query(context.Background(), "SELECT id::text, subject FROM jobs WHERE kind = 'answer' AND status IN ('pending', 'retrying') ORDER BY created_at")
	if err != nil {
		t.Fatal(err)
	}
	type j struct{ id, subject string }
	var js []j
	for rows.Next() {
		var x j
		_ = rows.Scan(&x.id, &x.subject)
		js = append(js, x)
	}
	rows.Close()
	var out []string
	for _, x := range js {
		code, body := h.PostJob(t, []byte(fmt.Sprintf(`{"job_id":%q,"kind":"answer","subject":%q}`, x.id, x.subject)), http.Header{"X-Job-Id": {x.id}})
		if code != 200 && code != 503 {
			t.Fatalf("answer job: %d %s", code, body)
		}
		out = append(out, body)
	}
	return out
}

type reply struct {
	mode, content, reason string
	inbound               int64
	citations, prov       string
}

func replies(t *testing.T, h *faastest.Harness) []reply {
	t.Helper()
	rows, err := h.DB.Pool.Query(context.Background(), `SELECT mode, content, COALESCE(handoff_reason, ''), inbound_message_id, citations::text, provenance::text
		FROM replies ORDER BY created_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []reply
	for rows.Next() {
		var r reply
		if err := rows.Scan(&r.mode, &r.content, &r.reason, &r.inbound, &r.citations, &r.prov); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestSignature(t *testing.T) {
	h := faastest.Start(t, Name, New, map[string]string{"CHATWOOT_WEBHOOK_SECRET": fixtures.ChatwootSecret})
	body := fixtures.Read("chatwoot/message_created.incoming.json")
	hdr := http.Header{"X-Chatwoot-Timestamp": {fixtures.ChatwootTimestamp}, "X-Chatwoot-Signature": {fixtures.ChatwootSignature}}
	if code, _ := h.Post(t, body, hdr); code != http.StatusUnauthorized {
		t.Fatalf("stale signature accepted: %d", code)
	}
	h.Clock.Set(time.Unix(1752861732, 0).Add(time.Minute))
	if code, out := h.Post(t, body, hdr); code != http.StatusOK || !strings.Contains(out, "stored") {
		t.Fatalf("known-answer signature: %d %s", code, out)
	}
	bad := http.Header{"X-Chatwoot-Timestamp": {fixtures.ChatwootTimestamp}, "X-Chatwoot-Signature": {"sha256=00"}}
	if code, _ := h.Post(t, body, bad); code != http.StatusUnauthorized {
		t.Fatalf("wrong signature: %d", code)
	}
	if code, _ := h.Post(t, body, nil); code != http.StatusUnauthorized {
		t.Fatalf("no signature: %d", code)
	}
}

func TestIntakeDecidesWhatToAnswer(t *testing.T) {
	h := start(t, nil)
	steps := []struct {
		name string
		body []byte
		jobs int
	}{
		{"guest message", fixtures.Read("chatwoot/message_created.incoming.json"), 1},
		{"same delivery again", fixtures.Read("chatwoot/message_created.incoming.json"), 1},
		{"our own outgoing reply", fixtures.Read("chatwoot/message_created.outgoing.json"), 1},
		{"private note", message(t, func(m map[string]any) { m["id"] = 50001; m["private"] = true }), 1},
		{"agent's message", message(t, func(m map[string]any) {
			m["id"] = 50002
			m["message_type"] = "outgoing"
			m["sender"] = map[string]any{"id": 9, "name": "Riley", "type": "user"}
		}), 1},
		{"status changed to open", fixtures.Read("chatwoot/conversation_status_changed.json"), 1},
		{"guest message in an open conversation", message(t, func(m map[string]any) {
			m["id"] = 50003
			m["conversation"].(map[string]any)["status"] = "open"
		}), 1},
	}
	for _, s := range steps {
		if code, body := h.Post(t, s.body, nil); code != 200 {
			t.Fatalf("%s: %d %s", s.name, code, body)
		}
		if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer'"); n != s.jobs {
			t.Fatalf("after %s: %d answer jobs, want %d", s.name, n, s.jobs)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "account_id = 1 AND id = 1287 AND guest_id = '66a1f0c2e4b0a1b2c3d4e5f6' AND status = 'open'"); n != 1 {
		t.Error("conversation not linked to Jordan or status not updated")
	}
	if n := dbtest.Count(t, h.DB.Pool, "messages", ""); n != 5 {
		t.Errorf("messages stored = %d, want 5", n)
	}
	// The conversation is open now (a person owns it): the queued job stays silent.
	for _, body := range answerJobs(t, h) {
		if !strings.Contains(body, "silent") {
			t.Errorf("answer in an open conversation: %s", body)
		}
	}
	if n := len(replies(t, h)); n != 0 {
		t.Errorf("%d replies in a conversation a person owns", n)
	}
}

func TestBadInput(t *testing.T) {
	h := faastest.Start(t, Name, New, baseEnv)
	for _, c := range []struct {
		method, body string
		want         int
	}{
		{"GET", "", 405},
		{"POST", "{", 400},
		{"POST", `{"content":"hi"}`, 400},
		{"POST", `{"event":"message_created","id":1,"message_type":"incoming"}`, 400},
		{"POST", `{"event":"webwidget_triggered"}`, 200},
	} {
		if code, body := h.Do(t, c.method, []byte(c.body), nil); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.body, code, body, c.want)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "messages", ""); n != 0 {
		t.Errorf("bad input stored %d messages", n)
	}
}

func TestAnswersFromJordansData(t *testing.T) {
	h := start(t, nil)
	h.Post(t, message(t, text(60001, "What time can we check in?")), nil)
	answerJobs(t, h)
	rs := replies(t, h)
	if len(rs) != 1 || rs[0].mode != "auto" || !strings.Contains(rs[0].content, "3:00 PM") || !strings.Contains(rs[0].citations, "listing:64f2b7c9d1e8a3f4b5c6d7e8:access") {
		t.Fatalf("replies = %+v", rs)
	}
	prov := strings.ReplaceAll(rs[0].prov, " ", "")
	if !strings.Contains(prov, `"prompt_version":"concierge-answer/2"`) || !strings.Contains(prov, `"model":"offline"`) || !strings.Contains(prov, "HMK7M2Q9XA") || !strings.Contains(prov, `"chunk_ids":["listing:`) {
		t.Errorf("provenance = %s", rs[0].prov)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'reply' AND subject LIKE 'reply:%'"); n != 1 {
		t.Errorf("reply jobs = %d, want 1", n)
	}
	// The answer job ran; running it again answers nothing twice. The job
	// must really run again (the UPDATE put exactly it back) and succeed:
	// a 503 would leave it to a retry that might answer twice.
	tag, err := h.DB.Pool.Exec(context.Background(), "UPDATE jobs SET status = 'pending' WHERE kind = 'answer' AND status = 'done'")
	if err != nil {
		t.Fatalf("put the answer job back: %v", err)
	}
	if n := tag.RowsAffected(); n != 1 {
		t.Fatalf("put %d done answer jobs back, want 1", n)
	}
	if codes := rerunAnswerJobs(t, h); len(codes) != 1 || codes[0] != http.StatusOK {
		t.Fatalf("repeated answer job answered %v, want [200]", codes)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'done'"); n != 1 {
		t.Errorf("done answer jobs after the repeat = %d, want 1", n)
	}
	if n := len(replies(t, h)); n != 1 {
		t.Errorf("replies after a repeated job = %d", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'reply'"); n != 1 {
		t.Errorf("reply jobs after a repeated job = %d, want 1", n)
	}
}

// rerunAnswerJobs runs every pending answer job as the queue-worker
// would and returns the statuses, for the caller to judge (answerJobs
// lets a retryable 503 pass).
func rerunAnswerJobs(t *testing.T, h *faastest.Harness) []int {
	t.Helper()
	rows, err := h.DB.Pool.Query(context.Background(), "SELECT id::text, subject FROM jobs WHERE kind = 'answer' AND status = 'pending' ORDER BY created_at")
	if err != nil {
		t.Fatal(err)
	}
	type job struct{ id, subject string }
	js, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
		var j job
		return j, r.Scan(&j.id, &j.subject)
	})
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for _, j := range js {
		code, _ := h.PostJob(t, []byte(fmt.Sprintf(`{"job_id":%q,"kind":"answer","subject":%q}`, j.id, j.subject)), http.Header{"X-Job-Id": {j.id}})
		codes = append(codes, code)
	}
	return codes
}

func TestEarlyCheckInIsHandedOff(t *testing.T) {
	h := start(t, nil)
	h.Post(t, fixtures.Read("chatwoot/message_created.incoming.json"), nil)
	answerJobs(t, h)
	rs := replies(t, h)
	if len(rs) != 1 || rs[0].mode != "handoff" || !strings.Contains(rs[0].reason, "early check-in") || !strings.Contains(rs[0].content, "HMK7M2Q9XA") {
		t.Fatalf("replies = %+v", rs)
	}
}

func TestBurstGetsOneAnswer(t *testing.T) {
	h := start(t, nil)
	for i, q := range []string{"Hi!", "Quick question", "where do we park the car?"} {
		h.Post(t, message(t, text(70001+i, q)), nil)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'pending'"); n != 1 {
		t.Fatalf("pending answer jobs = %d, want 1 (coalesced)", n)
	}
	answerJobs(t, h)
	rs := replies(t, h)
	if len(rs) != 1 || rs[0].inbound != 70003 || !strings.Contains(rs[0].content, "space 12") {
		t.Fatalf("replies = %+v", rs)
	}
}

func TestWindowedSecretsAndIsolation(t *testing.T) {
	h := start(t, nil)
	// Sam's conversation: another contact, another conversation.
	sam := func(id int, content string) []byte {
		return message(t, func(m map[string]any) {
			text(id, content)(m)
			c := m["conversation"].(map[string]any)
			c["id"] = 2001
			c["contact_inbox"].(map[string]any)["contact_id"] = 58
			// Sam writes from Sam's own WhatsApp number.
			c["contact_inbox"].(map[string]any)["source_id"] = "15555550177"
			s := map[string]any{"id": 58, "name": "Sam Rivera", "email": "sam.rivera@example.com", "phone_number": "+15555550177", "identifier": "", "custom_attributes": map[string]any{}, "type": "contact"}
			c["meta"].(map[string]any)["sender"] = s
			m["sender"] = s
		})
	}
	// Two days before Sam's check-in: not yet.
	h.Clock.Set(time.Date(2025, 7, 17, 22, 0, 0, 0, time.UTC))
	h.Post(t, sam(80001, "What is the wifi password?"), nil)
	answerJobs(t, h)
	rs := replies(t, h)
	if len(rs) != 1 || strings.Contains(rs[0].content, "pine-needle") || !strings.Contains(rs[0].content, "shared from") {
		t.Fatalf("before the window: %+v", rs)
	}
	// Six hours before check-in: Sam gets Sam's password, never Jordan's.
	h.Clock.Set(time.Date(2025, 7, 19, 16, 0, 0, 0, time.UTC))
	h.Post(t, sam(80002, "wifi password please"), nil)
	answerJobs(t, h)
	rs = replies(t, h)
	if len(rs) != 2 || !strings.Contains(rs[1].content, "pine-needle-77") || strings.Contains(rs[1].content, "sea-breeze") {
		t.Fatalf("inside the window: %+v", rs[len(rs)-1])
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 2001 AND guest_id = '66a1f0c2e4b0a1b2c3d4e5a7'"); n != 1 {
		t.Error("Sam's contact not linked by phone")
	}
}

// groq is the fake model endpoint (llmtest plays Groq) with the default
// model listed and the former default retired.
func groq(t *testing.T) *llmtest.Server {
	t.Helper()
	srv := llmtest.New(t, "test-key")
	srv.AddModel(llm.DefaultModel)
	srv.Decommission(formerDefault)
	return srv
}

// formerDefault was LLM_MODEL's default until Groq retired it (2026-08-16).
const formerDefault = "llama-3.3-70b-versatile"

// checkChats fails the test unless every chat request was authenticated
// and asked for JSON mode.
func checkChats(t *testing.T, srv *llmtest.Server) {
	t.Helper()
	for _, c := range srv.Chats() {
		if c.Auth != llmtest.AuthOK || c.ResponseFormat != "json_object" || len(c.Messages) < 2 {
			t.Errorf("chat request auth %s, response_format %q, %d messages", c.Auth, c.ResponseFormat, len(c.Messages))
		}
	}
}

func TestWithModel(t *testing.T) {
	t.Run("answers in the guest's language", func(t *testing.T) {
		srv := groq(t)
		srv.AddModel("test-model", llmtest.RateLimited("0"),
			llmtest.Completion(`{"answer":"Puede hacer el check-in desde las 15:00.","language":"es","citations":["listing:64f2b7c9d1e8a3f4b5c6d7e8:access#0"],"needs_handoff":false,"reason":""}`))
		h := start(t, map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL(), "LLM_MODEL": "test-model"})
		h.Post(t, message(t, text(90001, "¿A qué hora podemos hacer el check-in?")), nil)
		answerJobs(t, h)
		rs := replies(t, h)
		if len(rs) != 1 || rs[0].mode != "auto" || !strings.Contains(rs[0].content, "15:00") || !strings.Contains(strings.ReplaceAll(rs[0].prov, " ", ""), `"model":"test-model"`) {
			t.Fatalf("replies = %+v", rs)
		}
		if n := len(srv.Chats()); n != 2 {
			t.Errorf("chat requests = %d, want 2 (429, then the answer)", n)
		}
		checkChats(t, srv)
	})
	t.Run("model down: retried, then handed off on the last attempt", func(t *testing.T) {
		srv := groq(t)
		srv.Handle(llm.DefaultModel, func(llmtest.Request) llmtest.Reply { return llmtest.ServerError(500) })
		h := start(t, map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL(), "LLM_RETRIES": "1", "LLM_TIMEOUT": "3s"})
		h.Post(t, message(t, text(90002, "What time can we check in?")), nil)
		for attempt := 1; attempt < jobs.Answer.Policy.MaxAttempts; attempt++ {
			answerJobs(t, h)
			if rs := replies(t, h); len(rs) != 0 {
				t.Fatalf("attempt %d of %d: a passing outage was answered: %+v", attempt, jobs.Answer.Policy.MaxAttempts, rs)
			}
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'retrying'"); n != 1 {
				t.Fatalf("attempt %d: %d retrying answer jobs", attempt, n)
			}
		}
		answerJobs(t, h)
		rs := replies(t, h)
		if len(rs) != 1 || rs[0].mode != "handoff" || rs[0].reason == "" {
			t.Fatalf("replies = %+v", rs)
		}
		if n := dbtest.Count(t, h.DB.Pool, "provider_incidents", ""); n != 0 {
			t.Errorf("an outage recorded %d configuration incidents", n)
		}
		checkChats(t, srv)
	})
	t.Run("model back before the last attempt answers", func(t *testing.T) {
		srv := groq(t)
		// The first attempt's request and its client retry fail.
		srv.AddModel(llm.DefaultModel, llmtest.ServerError(503), llmtest.ServerError(503),
			llmtest.Completion(`{"answer":"Check-in is from 3:00 PM.","language":"en","citations":["listing:64f2b7c9d1e8a3f4b5c6d7e8:access#0"],"needs_handoff":false,"reason":""}`))
		h := start(t, map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL(), "LLM_RETRIES": "1", "LLM_TIMEOUT": "3s"})
		h.Post(t, message(t, text(90003, "What time can we check in?")), nil)
		answerJobs(t, h)
		answerJobs(t, h)
		rs := replies(t, h)
		if len(rs) != 1 || rs[0].mode != "auto" || !strings.Contains(rs[0].content, "3:00 PM") {
			t.Fatalf("replies = %+v", rs)
		}
		checkChats(t, srv)
	})
	t.Run("JSON mode rejects the output once: repaired", func(t *testing.T) {
		srv := groq(t)
		srv.AddModel(llm.DefaultModel, llmtest.JSONValidateFailed("Check-in is from 3:00 PM."),
			llmtest.Completion(`{"answer":"Check-in is from 3:00 PM.","language":"en","citations":["listing:64f2b7c9d1e8a3f4b5c6d7e8:access#0"],"needs_handoff":false,"reason":""}`))
		h := start(t, map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL()})
		h.Post(t, message(t, text(90004, "What time can we check in?")), nil)
		answerJobs(t, h)
		rs := replies(t, h)
		if len(rs) != 1 || rs[0].mode != "auto" || !strings.Contains(rs[0].content, "3:00 PM") {
			t.Fatalf("replies = %+v", rs)
		}
		chats := srv.Chats()
		if len(chats) != 2 || chats[1].Messages[len(chats[1].Messages)-2].Content != "Check-in is from 3:00 PM." {
			t.Errorf("the repair did not show the model its rejected text: %+v", chats)
		}
		checkChats(t, srv)
	})
}

// Groq retired the model LLM_MODEL names: a configuration error, not a
// guest's. Each attempt logs it at error level naming LLM_MODEL and counts
// it in provider_incidents; the job is retried as in an outage, so fixing
// the setting in time answers the guest; only the last attempt hands off.
func TestDecommissionedModel(t *testing.T) {
	env := func(srv *llmtest.Server, model string) map[string]string {
		return map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL(), "LLM_MODEL": model, "LLM_RETRIES": "1"}
	}
	errorLines := func() int {
		n := 0
		for _, line := range strings.Split(fntest.Logs(), "\n") {
			if strings.Contains(line, `"level":"error"`) && strings.Contains(line, `"setting":"LLM_MODEL"`) &&
				strings.Contains(line, `"model":"`+formerDefault+`"`) && strings.Contains(line, `"provider_code":"model_decommissioned"`) {
				n++
			}
		}
		return n
	}
	incidentCount := func(t *testing.T, h *faastest.Harness) int {
		t.Helper()
		var n int
		err := h.DB.Pool.QueryRow(context.Background(), `SELECT COALESCE(sum(count), 0) FROM provider_incidents
			WHERE provider = 'llm' AND setting = 'LLM_MODEL' AND code = 'model_decommissioned'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("retried and recorded, handed off on the last attempt", func(t *testing.T) {
		srv := groq(t)
		h := start(t, env(srv, formerDefault))
		h.Post(t, message(t, text(91001, "What time can we check in?")), nil)
		for attempt := 1; attempt < jobs.Answer.Policy.MaxAttempts; attempt++ {
			before := errorLines()
			out := answerJobs(t, h)
			if rs := replies(t, h); len(rs) != 0 {
				t.Fatalf("attempt %d of %d: handed off or answered: %+v", attempt, jobs.Answer.Policy.MaxAttempts, rs)
			}
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'retrying' AND last_error LIKE '%LLM_MODEL%'"); n != 1 {
				t.Fatalf("attempt %d: %d retrying answer jobs whose error names LLM_MODEL (%v)", attempt, n, out)
			}
			if n := incidentCount(t, h); n != attempt {
				t.Errorf("attempt %d: incidents counted %d", attempt, n)
			}
			if n := errorLines() - before; n != 1 {
				t.Errorf("attempt %d: %d error log lines naming LLM_MODEL, want 1", attempt, n)
			}
		}
		answerJobs(t, h)
		rs := replies(t, h)
		if len(rs) != 1 || rs[0].mode != "handoff" || rs[0].reason != "the assistant is misconfigured: check LLM_MODEL" {
			t.Fatalf("last attempt: replies = %+v", rs)
		}
		if n := incidentCount(t, h); n != jobs.Answer.Policy.MaxAttempts {
			t.Errorf("incidents counted %d, want %d", n, jobs.Answer.Policy.MaxAttempts)
		}
		// A decommissioned model is not retried by the client: one request per attempt.
		if n := len(srv.Chats()); n != jobs.Answer.Policy.MaxAttempts {
			t.Errorf("chat requests = %d, want %d", n, jobs.Answer.Policy.MaxAttempts)
		}
		checkChats(t, srv)
	})

	t.Run("fixed before the last attempt: answered", func(t *testing.T) {
		srv := groq(t)
		h := start(t, env(srv, formerDefault))
		h.Post(t, message(t, text(91002, "What time can we check in?")), nil)
		answerJobs(t, h)
		if rs := replies(t, h); len(rs) != 0 {
			t.Fatalf("handed off on the first attempt: %+v", rs)
		}
		// The operator sets LLM_MODEL; the function restarts with it.
		srv.AddModel(llm.DefaultModel, llmtest.Completion(`{"answer":"Check-in is from 3:00 PM.","language":"en","citations":["listing:64f2b7c9d1e8a3f4b5c6d7e8:access#0"],"needs_handoff":false,"reason":""}`))
		vars := env(srv, llm.DefaultModel)
		vars["KNOWLEDGE_DIR"] = fntest.Knowledge(t)
		for k, v := range baseEnv {
			vars[k] = v
		}
		fixed := faastest.StartWith(t, h.DB, Name, New, vars)
		answerJobs(t, fixed)
		rs := replies(t, fixed)
		if len(rs) != 1 || rs[0].mode != "auto" || !strings.Contains(rs[0].content, "3:00 PM") {
			t.Fatalf("after the fix: replies = %+v", rs)
		}
	})
}

// A typed question and a voice message sent together: the answer waits for
// the transcript instead of answering past the voice message, and a voice
// message whose transcription never ended is handed to a person.
func TestVoiceBesideTextWaitsForTranscript(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stt: what happens to the transcription before the answer runs again.
		stt      func(t *testing.T, h *faastest.Harness)
		wantMode string
		want     string // in the reply's content or hand-off reason
	}{
		{"transcribed", func(t *testing.T, h *faastest.Harness) {
			exec(t, h, "UPDATE messages SET transcript = 'Is there a washing machine in the apartment' WHERE id = 40215")
			exec(t, h, "UPDATE jobs SET status = 'done' WHERE kind = 'transcribe'")
			// stt queues the answer when it is done.
			exec(t, h, "INSERT INTO jobs (kind, function, subject) VALUES ('answer', 'llm-query', 'conversation:1:1287')")
		}, "auto", "Washer"},
		{"transcription parked without an outcome", func(t *testing.T, h *faastest.Harness) {
			exec(t, h, "UPDATE jobs SET status = 'failed' WHERE kind = 'transcribe'")
			exec(t, h, "UPDATE jobs SET next_attempt_at = now() WHERE kind = 'answer'")
		}, "handoff", "not transcribed in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, nil)
			h.Post(t, message(t, text(40212, "where do we park the car?")), nil)
			h.Post(t, fixtures.Read("chatwoot/message_created.audio.json"), nil)
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'transcribe' AND subject = 'message:1:40215'"); n != 1 {
				t.Fatalf("transcribe jobs = %d", n)
			}
			out := answerJobs(t, h)
			if len(out) != 1 || !strings.Contains(out[0], `"waiting"`) {
				t.Fatalf("first answer run = %v, want waiting", out)
			}
			if rs := replies(t, h); len(rs) != 0 {
				t.Fatalf("answered before the voice message was heard: %+v", rs)
			}
			// Waiting is not a failed attempt.
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'retrying' AND attempts = 0 AND last_error LIKE 'waiting:%'"); n != 1 {
				t.Fatalf("snoozed answer jobs = %d", n)
			}
			tc.stt(t, h)
			answerJobs(t, h)
			rs := replies(t, h)
			if len(rs) != 1 || rs[0].inbound != 40215 || rs[0].mode != tc.wantMode || !strings.Contains(rs[0].content+rs[0].reason, tc.want) {
				t.Fatalf("replies = %+v, want one %s reply to 40215 holding %q", rs, tc.wantMode, tc.want)
			}
		})
	}
}

func exec(t *testing.T, h *faastest.Harness, sql string) {
	t.Helper()
	if _, err := h.DB.Pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// A hand-off asks chatwoot-reply to tell the guest only in inboxes where
// the bot speaks to guests.
func TestHandoffAcknowledgedOnlyWhereTheBotSpeaks(t *testing.T) {
	for mode, want := range map[string]bool{"auto": true, "draft": false} {
		t.Run(mode, func(t *testing.T) {
			h := start(t, map[string]string{"BOT_DEFAULT_MODE": mode})
			h.Post(t, fixtures.Read("chatwoot/message_created.incoming.json"), nil)
			answerJobs(t, h)
			if n := dbtest.Count(t, h.DB.Pool, "replies", "mode = 'handoff' AND acknowledge = $1", want); n != 1 {
				t.Fatalf("hand-off replies with acknowledge = %v: %d", want, n)
			}
		})
	}
}
