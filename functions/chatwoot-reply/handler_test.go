package function

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

const (
	acct    = 1
	conv    = 1287
	inbox   = 4
	inbound = 40211 // the guest's question in the fixtures
	jordan  = "66a1f0c2e4b0a1b2c3d4e5f6"
)

// asked is when the guest's question arrived (message_created.incoming).
var asked = time.Date(2025, 7, 18, 18, 2, 11, 347e6, time.UTC)

type stack struct {
	*faastest.Harness
	fake *chatwoottest.Server
}

// start runs chatwoot-reply against a fake Chatwoot with conversation 1287
// (pending, labelled early-check-in). vars add or override settings; a
// value "-" removes one.
func start(t *testing.T, vars map[string]string) *stack {
	t.Helper()
	fake := chatwoottest.New(t)
	fake.AddConversation(chatwoottest.Conversation{AccountID: acct, ID: conv, InboxID: inbox, ContactID: 57, Status: "pending", Labels: []string{"early-check-in"}})
	env := map[string]string{
		"CHATWOOT_URL": fake.URL, "CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken,
		"CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4",
	}
	for k, v := range vars {
		if v == "-" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	h := faastest.Start(t, Name, New, env)
	h.Clock.Set(time.Date(2025, 7, 10, 12, 0, 0, 0, time.UTC))
	s := &stack{Harness: h, fake: fake}
	// What llm-query stored when the question arrived.
	s.message(t, inbound, "incoming", "contact", false, "What time can we check in?", asked)
	return s
}

// message stores a message event as llm-query does.
func (s *stack) message(t *testing.T, id int64, typ, sender string, private bool, content string, at time.Time) {
	t.Helper()
	if _, err := s.DB.Pool.Exec(context.Background(), `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, private, content, created_at)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8)`, acct, id, conv, typ, sender, private, content, at); err != nil {
		t.Fatal(err)
	}
}

// reply writes a reply and its job as llm-query does.
func (s *stack) reply(t *testing.T, r replies.Reply) jobs.Job {
	t.Helper()
	if r.AccountID == 0 {
		r.AccountID = acct
	}
	if r.ConversationID == 0 {
		r.ConversationID = conv
	}
	if r.InboundMessageID == 0 {
		r.InboundMessageID = inbound
	}
	var job jobs.Job
	err := pgx.BeginFunc(context.Background(), s.DB.Pool, func(tx pgx.Tx) error {
		var err error
		job, err = replies.Insert(context.Background(), tx, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func (s *stack) run(t *testing.T, j jobs.Job) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(jobs.Message{JobID: j.ID, Kind: j.Kind, Subject: j.Subject})
	code, body := s.PostJob(t, b, nil)
	var out map[string]any
	_ = json.Unmarshal([]byte(body), &out)
	return code, out
}

func (s *stack) row(t *testing.T, j jobs.Job) replies.Reply {
	t.Helper()
	id, err := jobs.ParseReplySubject(j.Subject)
	if err != nil {
		t.Fatal(err)
	}
	r, err := replies.Get(context.Background(), s.DB.Pool, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *stack) jobStatus(t *testing.T, j jobs.Job) (status, lastError string) {
	t.Helper()
	if err := s.DB.Pool.QueryRow(context.Background(), "SELECT status, COALESCE(last_error, '') FROM jobs WHERE id = $1", j.ID).Scan(&status, &lastError); err != nil {
		t.Fatal(err)
	}
	return status, lastError
}

func (s *stack) handedOff(t *testing.T) bool {
	t.Helper()
	var at *time.Time
	err := s.DB.Pool.QueryRow(context.Background(), "SELECT handed_off_at FROM conversations WHERE account_id = $1 AND id = $2", acct, conv).Scan(&at)
	if err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	return at != nil
}

func TestModes(t *testing.T) {
	tests := []struct {
		mode        replies.Mode
		reason      string
		private     bool
		content     []string
		status      string // conversation status after
		labels      []string
		handedOff   bool
		typingWatch bool // the guest may see the typing indicator
	}{
		{replies.Auto, "", false, []string{"Check-in starts at 3:00 PM."}, "pending", []string{"early-check-in"}, false, true},
		{replies.Draft, "", true, []string{"Check-in starts at 3:00 PM."}, "pending", []string{"early-check-in"}, false, false},
		{replies.Handoff, "guest asks for an early check-in", true,
			[]string{"Handed off to a person. Reason: guest asks for an early check-in", "Check-in starts at 3:00 PM."},
			"open", []string{"early-check-in", "ai-handoff"}, true, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s := start(t, nil)
			j := s.reply(t, replies.Reply{Mode: tt.mode, Content: "Check-in starts at 3:00 PM.", HandoffReason: tt.reason, Language: "en"})
			code, out := s.run(t, j)
			if code != http.StatusOK || out["status"] != "done" {
				t.Fatalf("run: %d %v", code, out)
			}
			posted := s.fake.Posted()
			if len(posted) != 1 {
				t.Fatalf("posted %d messages", len(posted))
			}
			p := posted[0]
			if p.Private != tt.private || p.MessageType != "outgoing" || p.SenderKind != chatwoottest.Bot || p.ConversationID != conv {
				t.Errorf("posted %+v", p)
			}
			for _, c := range tt.content {
				if !strings.Contains(p.Content, c) {
					t.Errorf("content %q lacks %q", p.Content, c)
				}
			}
			r := s.row(t, j)
			if r.Status != replies.StatusPosted || r.ChatwootMessageID != p.ID || r.PostedAt == nil {
				t.Errorf("reply row %+v", r)
			}
			c, _ := s.fake.Conversation(acct, conv)
			if c.Status != tt.status || !slices.Equal(c.Labels, tt.labels) {
				t.Errorf("conversation %s %v, want %s %v", c.Status, c.Labels, tt.status, tt.labels)
			}
			if tt.mode == replies.Handoff {
				if ch := s.fake.StatusChanges(); len(ch) != 1 || ch[0].From != "pending" || ch[0].To != "open" || !ch[0].ByBot {
					t.Errorf("status changes %+v", ch)
				}
			} else if len(s.fake.StatusChanges()) != 0 || len(s.fake.LabelSets()) != 0 {
				t.Error("a non-hand-off changed status or labels")
			}
			if s.handedOff(t) != tt.handedOff {
				t.Errorf("handed_off_at set = %v", !tt.handedOff)
			}
			typing := s.fake.TypingEvents()
			if len(typing) != 2 || typing[0].Status != "on" || typing[1].Status != "off" || typing[0].Private == tt.typingWatch {
				t.Errorf("typing %+v", typing)
			}
			// Typing went on before the post and off after it.
			var order []string
			for _, rq := range s.fake.Requests() {
				order = append(order, rq.Path[strings.LastIndex(rq.Path, "/")+1:])
			}
			if order[0] != "toggle_typing_status" || order[1] != "messages" || order[len(order)-1] != "toggle_typing_status" {
				t.Errorf("request order %v", order)
			}
		})
	}
}

func TestStaleAnswersAreDropped(t *testing.T) {
	later := asked.Add(20 * time.Second)
	tests := []struct {
		name   string
		mode   replies.Mode
		setup  func(t *testing.T, s *stack)
		reason string // "" = posted
	}{
		{"a person answered", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "user", false, "Hi Jordan, 3 PM!", later)
		}, replies.ReasonPerson},
		{"a person wrote a private note", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "user", true, "I'll take this one", later)
		}, replies.ReasonPerson},
		{"a person took over a draft too", replies.Draft, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "user", false, "Hi!", later)
		}, replies.ReasonPerson},
		{"the guest wrote again", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40213, "incoming", "contact", false, "Also, is there parking?", later)
		}, replies.ReasonNewerGuest},
		{"handed off before", replies.Auto, func(t *testing.T, s *stack) {
			if _, err := s.DB.Pool.Exec(context.Background(), "INSERT INTO conversations (account_id, id, handed_off_at) VALUES (1, 1287, now())"); err != nil {
				t.Fatal(err)
			}
		}, replies.ReasonHandedOff},
		{"a hand-off still goes out after a hand-off", replies.Handoff, func(t *testing.T, s *stack) {
			if _, err := s.DB.Pool.Exec(context.Background(), "INSERT INTO conversations (account_id, id, handed_off_at) VALUES (1, 1287, now())"); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"a person wrote before the question", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40100, "outgoing", "user", false, "Welcome!", asked.Add(-time.Hour))
		}, ""},
		{"the bot's own earlier message is not a person", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "agent_bot", false, "One moment…", later)
		}, ""},
		{"our reply posted with an agent token is not a person", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40210, "incoming", "contact", false, "Hello?", asked.Add(-time.Minute))
			s.message(t, 40212, "outgoing", "user", false, "Hello Jordan!", later)
			if _, err := s.DB.Pool.Exec(context.Background(), `INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, status, chatwoot_message_id)
				VALUES (1, 1287, 40210, 'auto', 'Hello Jordan!', 'posted', 40212)`); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"an activity message is nobody", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "activity", "", false, "Conversation was marked pending", later)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, nil)
			j := s.reply(t, replies.Reply{Mode: tt.mode, Content: "Check-in starts at 3:00 PM.", HandoffReason: "early check-in"})
			tt.setup(t, s)
			code, out := s.run(t, j)
			if code != http.StatusOK {
				t.Fatalf("run: %d %v", code, out)
			}
			r := s.row(t, j)
			if tt.reason == "" {
				if r.Status != replies.StatusPosted || len(s.fake.Posted()) != 1 {
					t.Fatalf("not posted: %+v", r)
				}
				return
			}
			if r.Status != replies.StatusDropped || r.DropReason != tt.reason {
				t.Errorf("reply %s (%s), want dropped (%s)", r.Status, r.DropReason, tt.reason)
			}
			if n := len(s.fake.Requests()); n != 0 {
				t.Errorf("%d Chatwoot requests for a dropped reply (typing included)", n)
			}
			if st, _ := s.jobStatus(t, j); st != jobs.StatusDone {
				t.Errorf("job %s", st)
			}
		})
	}
}

func TestRepeatedInvocationPostsOnce(t *testing.T) {
	s := start(t, nil)
	j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
	for i := 0; i < 3; i++ {
		if code, out := s.run(t, j); code != http.StatusOK {
			t.Fatalf("run %d: %d %v", i, code, out)
		}
	}
	// Even a job put back to pending (replay) finds the reply posted.
	if _, err := s.DB.Pool.Exec(context.Background(), "UPDATE jobs SET status = 'pending' WHERE id = $1", j.ID); err != nil {
		t.Fatal(err)
	}
	code, out := s.run(t, j)
	if res, _ := out["result"].(map[string]any); code != http.StatusOK || res["already"] != true {
		t.Errorf("replayed: %d %v", code, out)
	}
	if n := len(s.fake.Posted()); n != 1 {
		t.Errorf("posted %d times", n)
	}
	// A second reply for the same guest message is refused at insert.
	err := pgx.BeginFunc(context.Background(), s.DB.Pool, func(tx pgx.Tx) error {
		_, err := replies.Insert(context.Background(), tx, replies.Reply{AccountID: acct, ConversationID: conv, InboundMessageID: inbound, Mode: replies.Auto, Content: "again"})
		return err
	})
	if err != replies.ErrDuplicate {
		t.Errorf("duplicate insert: %v", err)
	}
}

func TestRateLimited(t *testing.T) {
	t.Run("429 then success within the call", func(t *testing.T) {
		s := start(t, nil)
		s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/messages", Status: 429, RetryAfter: "0"})
		j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
		if code, out := s.run(t, j); code != http.StatusOK {
			t.Fatalf("run: %d %v", code, out)
		}
		if s.fake.RequestCount("POST", "/messages") != 2 || len(s.fake.Posted()) != 1 || s.row(t, j).Status != replies.StatusPosted {
			t.Errorf("posts %d, posted %d", s.fake.RequestCount("POST", "/messages"), len(s.fake.Posted()))
		}
	})
	t.Run("429 past the client's attempts: the job retries", func(t *testing.T) {
		s := start(t, nil)
		s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/messages", Status: 429, RetryAfter: "0", Times: 3})
		j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
		if code, out := s.run(t, j); code != http.StatusServiceUnavailable {
			t.Fatalf("first run: %d %v", code, out)
		}
		if st, lastErr := s.jobStatus(t, j); st != jobs.StatusRetrying || !strings.Contains(lastErr, "429") {
			t.Errorf("job %s %q", st, lastErr)
		}
		if r := s.row(t, j); r.Status != replies.StatusPending || len(s.fake.Posted()) != 0 {
			t.Fatalf("after 429s: %+v", r)
		}
		if code, out := s.run(t, j); code != http.StatusOK {
			t.Fatalf("retry: %d %v", code, out)
		}
		if r := s.row(t, j); r.Status != replies.StatusPosted || len(s.fake.Posted()) != 1 {
			t.Errorf("after retry: %+v", r)
		}
	})
}

func TestUnknownOutcomeIsReconciled(t *testing.T) {
	s := start(t, nil)
	s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/messages", Status: 502})
	j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
	if code, _ := s.run(t, j); code != http.StatusServiceUnavailable {
		t.Fatalf("first run: %d", code)
	}
	if n := s.fake.RequestCount("POST", "/messages"); n != 1 {
		t.Fatalf("a post with an unknown outcome was repeated: %d", n)
	}
	// Chatwoot did store it: its message_created webhook reached llm-query.
	s.message(t, 40300, "outgoing", "agent_bot", false, "Check-in starts at 3:00 PM.", asked.Add(5*time.Second))
	if code, out := s.run(t, j); code != http.StatusOK {
		t.Fatalf("retry: %d %v", code, out)
	}
	if r := s.row(t, j); r.Status != replies.StatusPosted || r.ChatwootMessageID != 40300 {
		t.Errorf("reply %+v", r)
	}
	if n := s.fake.RequestCount("POST", "/messages"); n != 1 {
		t.Errorf("posted again: %d posts", n)
	}
}

func TestHandoffFinishesWithoutPostingTwice(t *testing.T) {
	s := start(t, nil)
	s.fake.Fail(chatwoottest.Failure{Method: "GET", Path: "/labels", Status: 500, RetryAfter: "0", Times: 3})
	j := s.reply(t, replies.Reply{Mode: replies.Handoff, Content: "Wants a refund.", HandoffReason: "refund request"})
	if code, _ := s.run(t, j); code != http.StatusServiceUnavailable {
		t.Fatalf("first run: %d", code)
	}
	r := s.row(t, j)
	if r.Status != replies.StatusPending || r.ChatwootMessageID == 0 || s.handedOff(t) {
		t.Fatalf("after the label failure: %+v", r)
	}
	if code, out := s.run(t, j); code != http.StatusOK {
		t.Fatalf("retry: %d %v", code, out)
	}
	if n := len(s.fake.Posted()); n != 1 {
		t.Errorf("note posted %d times", n)
	}
	c, _ := s.fake.Conversation(acct, conv)
	if c.Status != "open" || !slices.Contains(c.Labels, "ai-handoff") || !s.handedOff(t) || s.row(t, j).Status != replies.StatusPosted {
		t.Errorf("conversation %+v", c)
	}
}

func TestPermanentErrorsFailTheReply(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		r    replies.Reply
		want string
	}{
		{"unknown conversation", nil, replies.Reply{ConversationID: 999, Mode: replies.Auto, Content: "hi"}, "Resource could not be found"},
		{"revoked token", map[string]string{"CHATWOOT_API_TOKEN": "revoked"}, replies.Reply{Mode: replies.Auto, Content: "hi"}, "Invalid Access Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.vars)
			j := s.reply(t, tt.r)
			code, _ := s.run(t, j)
			if code < 400 || code >= 500 {
				t.Errorf("status %d, want 4xx", code)
			}
			st, lastErr := s.jobStatus(t, j)
			r := s.row(t, j)
			if st != jobs.StatusFailed || r.Status != replies.StatusFailed || !strings.Contains(r.DropReason, tt.want) || !strings.Contains(lastErr, tt.want) {
				t.Errorf("job %s (%s), reply %s (%s)", st, lastErr, r.Status, r.DropReason)
			}
		})
	}
}

func TestTypingFailuresNeverFailTheJob(t *testing.T) {
	s := start(t, nil)
	s.fake.Fail(chatwoottest.Failure{Path: "/toggle_typing_status", Status: 500, Times: 2})
	j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
	if code, out := s.run(t, j); code != http.StatusOK {
		t.Fatalf("run: %d %v", code, out)
	}
	if len(s.fake.Posted()) != 1 {
		t.Error("not posted")
	}
}

func TestLocalOutbox(t *testing.T) {
	s := start(t, map[string]string{"CHATWOOT_URL": "-", "CHATWOOT_API_TOKEN": "-", "CHATWOOT_CONTACTS_TOKEN": "-", "CHATWOOT_CONTACT_INBOX_ID": "-"})
	auto := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM.", Citations: json.RawMessage(`[{"source":"listing:access"}]`)})
	if code, out := s.run(t, auto); code != http.StatusOK {
		t.Fatalf("run: %d %v", code, out)
	}
	s.message(t, 40213, "incoming", "contact", false, "Can I get a refund?", asked.Add(time.Minute))
	hand := s.reply(t, replies.Reply{InboundMessageID: 40213, Mode: replies.Handoff, Content: "Asks for a refund.", HandoffReason: "refund"})
	if code, out := s.run(t, hand); code != http.StatusOK {
		t.Fatalf("run: %d %v", code, out)
	}
	if r := s.row(t, auto); r.Status != replies.StatusPosted || r.ChatwootMessageID != 0 {
		t.Errorf("auto reply %+v", r)
	}
	if !s.handedOff(t) {
		t.Error("local hand-off did not mark the conversation")
	}
	srv := httptest.NewServer(replies.OutboxHandler(s.DB.Pool))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/outbox?conversation_id=1287")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Replies []replies.OutboxEntry `json:"replies"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Replies) != 2 || got.Replies[0].Mode != replies.Handoff || !got.Replies[0].Private ||
		!strings.Contains(got.Replies[0].Content, "Reason: refund") || got.Replies[1].Content != "Check-in starts at 3:00 PM." ||
		!strings.Contains(string(got.Replies[1].Citations), "listing:access") {
		t.Errorf("outbox %+v", got.Replies)
	}
	if res, _ := http.Post(srv.URL+"/outbox", "text/plain", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /outbox: %d", res.StatusCode)
	}

	// Contact sync has nothing to talk to.
	seedJordan(t, s)
	if res := s.syncJordan(t); res["outcome"] != string(contactsync.Skipped) {
		t.Errorf("contact sync without Chatwoot: %v", res)
	}
}

func seedJordan(t *testing.T, s *stack) {
	t.Helper()
	if err := seed.Load(context.Background(), s.DB.Pool, &fntest.Recorder{}, "guesty/listing.updated.json", "guesty/reservation.new.json"); err != nil {
		t.Fatal(err)
	}
}

// syncJordan queues and runs a contact-sync job for Jordan, as guesty-hook
// does, and returns the job's result.
func (s *stack) syncJordan(t *testing.T) map[string]any {
	t.Helper()
	var j jobs.Job
	err := pgx.BeginFunc(context.Background(), s.DB.Pool, func(tx pgx.Tx) error {
		var err error
		j, err = jobs.Enqueue(context.Background(), tx, jobs.ContactSync, "guest:"+jordan, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out := s.run(t, j)
	if code != http.StatusOK {
		t.Fatalf("contact sync: %d %v", code, out)
	}
	res, _ := out["result"].(map[string]any)
	return res
}

func TestContactSync(t *testing.T) {
	s := start(t, nil)
	seedJordan(t, s)
	// guesty-hook queued the job; run it as the async invocation would.
	var j jobs.Job
	if err := s.DB.Pool.QueryRow(context.Background(), "SELECT id::text, kind, function, subject FROM jobs WHERE kind = 'contact-sync' AND status = 'pending'").
		Scan(&j.ID, &j.Kind, &j.Function, &j.Subject); err != nil {
		t.Fatal(err)
	}
	if j.Function != Name || j.Subject != "guest:"+jordan {
		t.Fatalf("queued job %+v", j)
	}
	if code, out := s.run(t, j); code != http.StatusOK || out["result"].(map[string]any)["outcome"] != "created" {
		t.Fatalf("first sync: %d %v", code, out)
	}
	contacts := s.fake.Contacts(acct)
	if len(contacts) != 1 {
		t.Fatalf("%d contacts", len(contacts))
	}
	c := contacts[0]
	wantAttrs := map[string]any{
		"guesty_guest_id": jordan, "guesty_reservation_id": "6701a2b3c4d5e6f708192a3b", "confirmation_code": "HMK7M2Q9XA",
		"check_in": "2025-07-18", "check_out": "2025-07-21", "listing": "Harbor View Loft - 2BR steps from the pier", "reservation_status": "confirmed",
	}
	if c.Identifier != jordan || c.PhoneNumber != "+15555550142" || c.Email != "jordan.avery@example.com" || c.Name != "Jordan Avery" || !slices.Equal(c.InboxIDs, []int64{inbox}) {
		t.Errorf("contact %+v", c)
	}
	for k, v := range wantAttrs {
		if c.CustomAttributes[k] != v {
			t.Errorf("custom attribute %s = %v, want %v", k, c.CustomAttributes[k], v)
		}
	}
	if n := dbtest.Count(t, s.DB.Pool, "contact_links", "guest_id = $1 AND contact_id = $2 AND account_id = 1", jordan, c.ID); n != 1 {
		t.Error("link not stored")
	}

	// Unchanged guest: no API call at all.
	s.fake.Reset()
	if res := s.syncJordan(t); res["outcome"] != "unchanged" {
		t.Errorf("second sync: %v", res)
	}
	if n := len(s.fake.Requests()); n != 0 {
		t.Errorf("unchanged guest made %d Chatwoot requests", n)
	}

	// A change in Guesty updates the same contact.
	if _, err := s.DB.Pool.Exec(context.Background(), "UPDATE reservations SET status = 'checked_in' WHERE id = '6701a2b3c4d5e6f708192a3b'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(context.Background(), "UPDATE guests SET full_name = 'Jordan A. Avery' WHERE id = $1", jordan); err != nil {
		t.Fatal(err)
	}
	if res := s.syncJordan(t); res["outcome"] != "updated" || res["contact_id"] != float64(c.ID) {
		t.Errorf("third sync: %v", res)
	}
	after := s.fake.Contacts(acct)
	if len(after) != 1 || after[0].Name != "Jordan A. Avery" || after[0].CustomAttributes["reservation_status"] != "checked_in" ||
		after[0].CustomAttributes["confirmation_code"] != "HMK7M2Q9XA" {
		t.Errorf("after update %+v", after)
	}
	if n := s.fake.RequestCount("PUT", "/contacts/"); n != 1 || s.fake.RequestCount("", "/contacts/search") != 0 {
		t.Errorf("update went %d PUTs and %d searches; the link should be used", n, s.fake.RequestCount("", "/contacts/search"))
	}
	for _, rq := range s.fake.Requests() {
		if rq.Token != chatwoottest.User {
			t.Errorf("%s %s with a %s token", rq.Method, rq.Path, rq.Token)
		}
	}
}

func TestContactSyncFindsExistingContacts(t *testing.T) {
	tests := []struct {
		name     string
		existing chatwoottest.Contact
		outcome  string
		contacts int
		dropped  []any
	}{
		{"the WhatsApp contact, by phone", chatwoottest.Contact{Name: "+1 555-555-0142", PhoneNumber: "+15555550142"}, "updated", 1, nil},
		{"a contact by email", chatwoottest.Contact{Name: "jordan", Email: "Jordan.Avery@example.com"}, "updated", 1, nil},
		{"by identifier", chatwoottest.Contact{Name: "J", Identifier: jordan}, "updated", 1, nil},
		{"another guest's contact is not taken over", chatwoottest.Contact{Name: "Riley", Email: "jordan.avery@example.com", Identifier: "66a1f0c2e4b0a1b2c3d4e5a9"},
			"created", 2, []any{"email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, nil)
			seedJordan(t, s)
			existing := s.fake.AddContact(tt.existing)
			res := s.syncJordan(t)
			if res["outcome"] != tt.outcome || !slices.Equal(toSlice(res["dropped"]), tt.dropped) {
				t.Errorf("result %v", res)
			}
			contacts := s.fake.Contacts(acct)
			if len(contacts) != tt.contacts {
				t.Fatalf("%d contacts: %+v", len(contacts), contacts)
			}
			var mine chatwoottest.Contact
			for _, c := range contacts {
				if c.Identifier == jordan {
					mine = c
				}
			}
			if tt.outcome == "updated" && mine.ID != existing.ID {
				t.Errorf("synced into %d, want the existing %d", mine.ID, existing.ID)
			}
			if mine.CustomAttributes["confirmation_code"] != "HMK7M2Q9XA" {
				t.Errorf("contact %+v", mine)
			}
		})
	}
}

func toSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func TestContactSyncRecreatesADeletedContact(t *testing.T) {
	s := start(t, nil)
	seedJordan(t, s)
	if _, err := s.DB.Pool.Exec(context.Background(), "INSERT INTO contact_links (guest_id, account_id, contact_id, synced_hash) VALUES ($1, 1, 999999, 'old')", jordan); err != nil {
		t.Fatal(err)
	}
	res := s.syncJordan(t)
	contacts := s.fake.Contacts(acct)
	if res["outcome"] != "created" || len(contacts) != 1 || res["contact_id"] != float64(contacts[0].ID) {
		t.Errorf("result %v, contacts %+v", res, contacts)
	}
}

func TestContactSyncWithABotToken(t *testing.T) {
	s := start(t, map[string]string{"CHATWOOT_CONTACTS_TOKEN": "-"}) // falls back to the bot's token
	seedJordan(t, s)
	var j jobs.Job
	err := pgx.BeginFunc(context.Background(), s.DB.Pool, func(tx pgx.Tx) error {
		var err error
		j, err = jobs.Enqueue(context.Background(), tx, jobs.ContactSync, "guest:"+jordan, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := s.run(t, j)
	st, lastErr := s.jobStatus(t, j)
	if code != http.StatusUnprocessableEntity || st != jobs.StatusFailed || !strings.Contains(lastErr, chatwoottest.ErrBotNotAllowed) {
		t.Errorf("status %d, job %s %q", code, st, lastErr)
	}
	if len(s.fake.Contacts(acct)) != 0 || dbtest.Count(t, s.DB.Pool, "contact_links", "") != 0 {
		t.Error("something was synced")
	}
}

func TestConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"token missing", map[string]string{"CHATWOOT_API_TOKEN": "-", "CHATWOOT_CONTACTS_TOKEN": "-"}, "chatwoot-api-token"},
		{"inbox missing", map[string]string{"CHATWOOT_CONTACT_INBOX_ID": "-"}, "CHATWOOT_CONTACT_INBOX_ID"},
		{"bad URL", map[string]string{"CHATWOOT_URL": "chatwoot:3000"}, "CHATWOOT_URL"},
		{"bad account", map[string]string{"CHATWOOT_ACCOUNT_ID": "0"}, "CHATWOOT_ACCOUNT_ID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := chatwoottest.New(t)
			env := map[string]string{
				"CHATWOOT_URL": fake.URL, "CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken,
				"CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4", "SECRETS_DIR": t.TempDir(),
			}
			for k, v := range tt.vars {
				if v == "-" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			d := dbtest.New(t)
			_, _, err := fnenvBuild(d, env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func fnenvBuild(d *dbtest.DB, env map[string]string) (faas.HandleFunc, *faas.Env, error) {
	return faas.Build(context.Background(), faas.Options{Name: Name, Lookup: config.FromMap(env), LogOutput: io.Discard, DB: d.Pool}, New)
}

// A hand-off that asks for it tells the guest, publicly and once, that a
// person will reply: after the note and the status change, never twice
// across retries, and not at all when HANDOFF_MESSAGE is off.
func TestHandoffAcknowledgesTheGuest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		vars    map[string]string
		lang    string // the guest's language, as the answer recorded it
		ack     bool
		failLbl bool // the label call fails once: the job is retried
		want    string
	}{
		{"acknowledged", nil, "en", true, false, "a person will reply here shortly"},
		{"acknowledged once across a retry", nil, "", true, true, "a person will reply here shortly"},
		{"in the guest's language", nil, "es", true, false, "una persona le responderá aquí en breve"},
		{"in the guest's language across a retry", nil, "de", true, true, "eine Person antwortet Ihnen hier in Kürze"},
		{"custom message as written", map[string]string{"HANDOFF_MESSAGE": "Un instant, l'équipe arrive."}, "es", true, false, "l'équipe arrive"},
		{"switched off", map[string]string{"HANDOFF_MESSAGE": "off"}, "es", true, false, ""},
		{"not asked for (draft inbox)", nil, "en", false, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.vars)
			if tt.failLbl {
				s.fake.Fail(chatwoottest.Failure{Method: "GET", Path: "/labels", Status: 500, RetryAfter: "0", Times: 3})
			}
			j := s.reply(t, replies.Reply{Mode: replies.Handoff, Content: "Wants a refund.", HandoffReason: "refund request", Acknowledge: tt.ack, Language: tt.lang})
			code, _ := s.run(t, j)
			if tt.failLbl {
				if code != http.StatusServiceUnavailable {
					t.Fatalf("first run: %d", code)
				}
				code, _ = s.run(t, j)
			}
			if code != http.StatusOK {
				t.Fatalf("run: %d", code)
			}
			var notes, public []chatwoottest.Message
			for _, m := range s.fake.Posted() {
				if m.Private {
					notes = append(notes, m)
				} else {
					public = append(public, m)
				}
			}
			if len(notes) != 1 || !strings.Contains(notes[0].Content, "refund request") {
				t.Fatalf("notes %+v", notes)
			}
			if tt.want == "" {
				if len(public) != 0 {
					t.Fatalf("guest was told %+v", public)
				}
				return
			}
			if len(public) != 1 || !strings.Contains(public[0].Content, tt.want) || public[0].SenderKind != chatwoottest.Bot {
				t.Fatalf("guest messages %+v, want one holding %q", public, tt.want)
			}
			if public[0].ID < notes[0].ID {
				t.Errorf("the guest was told before the team's note")
			}
			if r := s.row(t, j); r.AckMessageID != public[0].ID || r.Status != replies.StatusPosted {
				t.Errorf("reply row %+v", r)
			}
		})
	}
}

// A reply is checked again just before it goes out: an answer to a
// conversation a person took over meanwhile is dropped, while our own
// transcript note (posted with an agent's token, so "by a user") is not
// taken for a person.
func TestOvertakenBeforePosting(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mode   replies.Mode
		setup  func(t *testing.T, s *stack)
		status string
		reason string
	}{
		{"a person opened the conversation", replies.Auto, func(t *testing.T, s *stack) {
			exec(t, s, "INSERT INTO conversations (account_id, id, status) VALUES (1, 1287, 'open')")
		}, replies.StatusDropped, replies.ReasonTaken},
		{"a draft still helps the person who opened it", replies.Draft, func(t *testing.T, s *stack) {
			exec(t, s, "INSERT INTO conversations (account_id, id, status) VALUES (1, 1287, 'open')")
		}, replies.StatusPosted, ""},
		{"our transcript note, posted as a user", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "user", true, "Voice message transcript: what time can we check in", asked.Add(3*time.Second))
			exec(t, s, "UPDATE messages SET transcript_note_id = 40212 WHERE id = 40211")
		}, replies.StatusPosted, ""},
		{"an agent's own private note", replies.Auto, func(t *testing.T, s *stack) {
			s.message(t, 40212, "outgoing", "user", true, "I'll take this one", asked.Add(3*time.Second))
		}, replies.StatusDropped, replies.ReasonPerson},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, nil)
			tt.setup(t, s)
			j := s.reply(t, replies.Reply{Mode: tt.mode, Content: "Check-in starts at 3:00 PM."})
			if code, out := s.run(t, j); code != http.StatusOK {
				t.Fatalf("run: %d %v", code, out)
			}
			if r := s.row(t, j); r.Status != tt.status || r.DropReason != tt.reason {
				t.Errorf("reply %s (%q), want %s (%q)", r.Status, r.DropReason, tt.status, tt.reason)
			}
		})
	}
}

// Posting is not idempotent at Chatwoot: a reply is claimed by one job, an
// attempt after an unknown outcome (or a replay, whose attempts restart)
// finds what was posted instead of posting again, and a second job of the
// same reply waits while the first one's claim is fresh.
func TestPostedOnceAcrossReplaysAndRivals(t *testing.T) {
	t.Run("replayed after an unknown outcome", func(t *testing.T) {
		s := start(t, nil)
		s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/messages", Status: http.StatusBadGateway})
		j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
		if code, _ := s.run(t, j); code != http.StatusServiceUnavailable {
			t.Fatalf("first run: %d", code)
		}
		// Chatwoot stored it after all: its webhook reached llm-query.
		s.message(t, 40300, "outgoing", "agent_bot", false, "Check-in starts at 3:00 PM.", asked.Add(5*time.Second))
		exec(t, s, "UPDATE jobs SET status = 'failed' WHERE id = '"+j.ID+"'")
		if _, err := jobs.Replay(context.Background(), s.DB.Pool, jobs.ReplayFilter{Kind: "reply"}, false); err != nil {
			t.Fatal(err)
		}
		if code, out := s.run(t, j); code != http.StatusOK {
			t.Fatalf("replayed run: %d %v", code, out)
		}
		if n := s.fake.RequestCount("POST", "/messages"); n != 1 {
			t.Errorf("%d POSTs of one reply", n)
		}
		if r := s.row(t, j); r.Status != replies.StatusPosted || r.ChatwootMessageID != 40300 {
			t.Errorf("reply %+v, want posted as 40300", r)
		}
	})
	t.Run("a rival job waits for a fresh claim", func(t *testing.T) {
		s := start(t, nil)
		j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
		exec(t, s, "UPDATE replies SET post_claim = 'another-job', post_started_at = now()")
		if code, _ := s.run(t, j); code != http.StatusServiceUnavailable || s.fake.RequestCount("POST", "/messages") != 0 {
			t.Fatalf("rival: %d with %d POSTs, want 503 and none", code, s.fake.RequestCount("POST", "/messages"))
		}
		// The other job died: once its claim is stale this one posts.
		exec(t, s, "UPDATE replies SET post_started_at = now() - interval '10 minutes'")
		exec(t, s, "UPDATE jobs SET status = 'pending' WHERE id = '"+j.ID+"'")
		if code, _ := s.run(t, j); code != http.StatusOK || s.fake.RequestCount("POST", "/messages") != 1 {
			t.Fatalf("after a stale claim: %d with %d POSTs", code, s.fake.RequestCount("POST", "/messages"))
		}
	})
	t.Run("acknowledgement after an unknown outcome", func(t *testing.T) {
		s := start(t, nil)
		j := s.reply(t, replies.Reply{Mode: replies.Handoff, Content: "Wants a refund.", HandoffReason: "refund request", Acknowledge: true})
		// The note and the status go through; the acknowledgement's answer is lost.
		s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/messages", Status: http.StatusBadGateway, Times: 1})
		exec(t, s, "UPDATE replies SET chatwoot_message_id = 99")
		if code, _ := s.run(t, j); code != http.StatusServiceUnavailable {
			t.Fatalf("first run: %d", code)
		}
		s.message(t, 40301, "outgoing", "agent_bot", false, "Thanks for your message. I have passed it to our team, and a person will reply here shortly.", asked.Add(5*time.Second))
		if code, out := s.run(t, j); code != http.StatusOK {
			t.Fatalf("retry: %d %v", code, out)
		}
		if n := s.fake.RequestCount("POST", "/messages"); n != 1 {
			t.Errorf("%d acknowledgement POSTs, want the one whose answer was lost", n)
		}
		if r := s.row(t, j); r.AckMessageID != 40301 || r.Status != replies.StatusPosted {
			t.Errorf("reply %+v, want the acknowledgement found as 40301", r)
		}
	})
}

// A reply to a voice message waits for its clip without ending its job,
// and goes as text alone when the clip is late or tts gave up silently.
func TestReplyWaitsForItsClipWithinBounds(t *testing.T) {
	for _, tt := range []struct {
		name   string
		setup  string // SQL run after the first (waiting) run
		status string // reply status after the second run
	}{
		{"still being synthesised", "", replies.StatusAwaitingAudio},
		{"clip late", "UPDATE replies SET voice_requested_at = now() - interval '10 minutes'", replies.StatusPosted},
		{"synthesis parked without an outcome", "UPDATE jobs SET status = 'failed' WHERE kind = 'synthesize'", replies.StatusPosted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, nil)
			j := s.reply(t, replies.Reply{Mode: replies.Auto, Content: "Check-in starts at 3:00 PM.", WantAudio: true})
			code, out := s.run(t, j)
			if code != http.StatusOK || out["status"] != "waiting" {
				t.Fatalf("first run: %d %v, want waiting", code, out)
			}
			if st, _ := s.jobStatus(t, j); st != jobs.StatusRetrying {
				t.Fatalf("reply job %s while waiting, want retrying (alive)", st)
			}
			if tt.setup != "" {
				exec(t, s, tt.setup)
			}
			code, out = s.run(t, j)
			r := s.row(t, j)
			got := r.Status
			if out["status"] == "waiting" {
				got = replies.StatusAwaitingAudio
			}
			if code != http.StatusOK || got != tt.status {
				t.Fatalf("second run: %d %v, reply %s; want %s", code, out, r.Status, tt.status)
			}
			if tt.status == replies.StatusPosted {
				p := s.fake.Posted()
				if len(p) != 1 || len(p[0].Attachments) != 0 || r.VoiceStatus != "failed" {
					t.Errorf("posted %+v, voice %s; want the text alone", p, r.VoiceStatus)
				}
			}
		})
	}
}

func exec(t *testing.T, s *stack, sql string) {
	t.Helper()
	if _, err := s.DB.Pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}
