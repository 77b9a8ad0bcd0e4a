package chatwoot_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/fault"
)

const (
	account = 1
	convID  = 1287
	inbox   = 4
)

// sleeps records the client's waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

func setup(t *testing.T, token func(*chatwoottest.Server) string) (*chatwoottest.Server, *chatwoot.Client, *sleeps) {
	t.Helper()
	fake := chatwoottest.New(t)
	fake.AddConversation(chatwoottest.Conversation{AccountID: account, ID: convID, InboxID: inbox, ContactID: 57, Status: "pending"})
	sl := &sleeps{}
	c, err := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: token(fake), Sleep: sl.sleep, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c, sl
}

func bot(s *chatwoottest.Server) string  { return s.BotToken }
func user(s *chatwoottest.Server) string { return s.UserToken }

func wantKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", k)
	}
	if got := fault.KindOf(err); got != k {
		t.Fatalf("error kind %s, want %s: %v", got, k, err)
	}
}

func TestPostMessage(t *testing.T) {
	for _, tt := range []struct {
		name    string
		token   func(*chatwoottest.Server) string
		private bool
		sender  chatwoottest.TokenKind
	}{
		{"bot reply", bot, false, chatwoottest.Bot},
		{"bot private note", bot, true, chatwoottest.Bot},
		{"agent token", user, false, chatwoottest.User},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := setup(t, tt.token)
			m, err := c.PostMessage(context.Background(), convID, chatwoot.NewMessage{Content: "Check-in is at 3 PM.", Private: tt.private})
			if err != nil {
				t.Fatal(err)
			}
			if m.ID == 0 || m.MessageType != chatwoot.Outgoing || m.Private != tt.private || m.Text() != "Check-in is at 3 PM." || m.CreatedAt.IsZero() {
				t.Errorf("returned message %+v", m)
			}
			posted := fake.Posted()
			if len(posted) != 1 {
				t.Fatalf("posted %d messages", len(posted))
			}
			p := posted[0]
			if p.ID != m.ID || p.ConversationID != convID || p.MessageType != "outgoing" || p.Private != tt.private || p.SenderKind != tt.sender {
				t.Errorf("fake stored %+v", p)
			}
			r := fake.Requests()[0]
			if r.Path != "/api/v1/accounts/1/conversations/1287/messages" || !strings.HasPrefix(r.ContentType, "application/json") {
				t.Errorf("request %s %s", r.Path, r.ContentType)
			}
		})
	}
}

func TestPostAttachment(t *testing.T) {
	fake, c, _ := setup(t, bot)
	clip := []byte("OggS fake audio")
	m, err := c.PostMessage(context.Background(), convID, chatwoot.NewMessage{
		Content: "Voice answer", Attachments: []chatwoot.File{{Name: "answer.ogg", ContentType: "audio/ogg", Data: clip}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].FileType != "audio" {
		t.Errorf("returned attachments %+v", m.Attachments)
	}
	p := fake.Posted()[0]
	if p.Content != "Voice answer" || p.Private || len(p.Attachments) != 1 {
		t.Fatalf("stored %+v", p)
	}
	if a := p.Attachments[0]; a.Name != "answer.ogg" || a.ContentType != "audio/ogg" || string(a.Data) != string(clip) {
		t.Errorf("attachment %+v", a)
	}
	if ct := fake.Requests()[0].ContentType; !strings.HasPrefix(ct, "multipart/form-data") {
		t.Errorf("content type %s", ct)
	}
}

func TestErrorsArePermanentWithChatwootsMessage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		token  func(*chatwoottest.Server) string
		call   func(*chatwoot.Client) error
		status int
		msg    string
	}{
		{"unknown conversation", bot, func(c *chatwoot.Client) error {
			_, err := c.PostMessage(ctx, 999, chatwoot.NewMessage{Content: "hi"})
			return err
		}, 404, chatwoottest.ErrNotFound},
		{"bot token on contacts", bot, func(c *chatwoot.Client) error {
			_, err := c.SearchContacts(ctx, "jordan")
			return err
		}, 401, chatwoottest.ErrBotNotAllowed},
		{"bot token on message list", bot, func(c *chatwoot.Client) error {
			_, err := c.ListMessages(ctx, convID, chatwoot.ListMessages{})
			return err
		}, 401, chatwoottest.ErrBotNotAllowed},
		{"bad token", func(*chatwoottest.Server) string { return "not-a-token" }, func(c *chatwoot.Client) error {
			_, err := c.ToggleStatus(ctx, convID, chatwoot.StatusOpen)
			return err
		}, 401, chatwoottest.ErrInvalidToken},
		{"unknown account", user, func(c *chatwoot.Client) error {
			_, err := c.ForAccount(9).Labels(ctx, convID)
			return err
		}, 401, chatwoottest.ErrAccountDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, sl := setup(t, tt.token)
			err := tt.call(c)
			wantKind(t, err, fault.Permanent)
			if chatwoot.StatusOf(err) != tt.status || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v (status %d), want %d %q", err, chatwoot.StatusOf(err), tt.status, tt.msg)
			}
			if strings.Contains(err.Error(), fake.UserToken) || strings.Contains(err.Error(), fake.BotToken) {
				t.Error("error holds the token")
			}
			if len(sl.all()) != 0 || len(fake.Requests()) != 1 {
				t.Errorf("a permanent error was retried: %d requests", len(fake.Requests()))
			}
		})
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		fail     chatwoottest.Failure
		call     func(*chatwoot.Client) error
		wantErr  bool
		requests int
		sleeps   []time.Duration // nil: any
	}{
		{"429 with Retry-After, then success",
			chatwoottest.Failure{Method: "POST", Path: "/messages", Status: 429, RetryAfter: "2"},
			func(c *chatwoot.Client) error {
				_, err := c.PostMessage(ctx, convID, chatwoot.NewMessage{Content: "hi"})
				return err
			}, false, 2, []time.Duration{2 * time.Second}},
		{"429 twice, then success",
			chatwoottest.Failure{Path: "/toggle_status", Status: 429, RetryAfter: "1", Times: 2},
			func(c *chatwoot.Client) error {
				_, err := c.ToggleStatus(ctx, convID, chatwoot.StatusOpen)
				return err
			}, false, 3, []time.Duration{time.Second, time.Second}},
		{"429 beyond the attempts",
			chatwoottest.Failure{Path: "/messages", Status: 429, RetryAfter: "0", Times: 5},
			func(c *chatwoot.Client) error {
				_, err := c.PostMessage(ctx, convID, chatwoot.NewMessage{Content: "hi"})
				return err
			}, true, 3, nil},
		{"429 asking for longer than the client waits",
			chatwoottest.Failure{Path: "/messages", Status: 429, RetryAfter: "120"},
			func(c *chatwoot.Client) error {
				_, err := c.PostMessage(ctx, convID, chatwoot.NewMessage{Content: "hi"})
				return err
			}, true, 1, []time.Duration{}},
		{"500 on a read is retried",
			chatwoottest.Failure{Method: "GET", Path: "/labels", Status: 500},
			func(c *chatwoot.Client) error {
				_, err := c.Labels(ctx, convID)
				return err
			}, false, 2, nil},
		{"503 on toggle_status is retried (repeating it is harmless)",
			chatwoottest.Failure{Path: "/toggle_status", Status: 503, RetryAfter: "1"},
			func(c *chatwoot.Client) error {
				_, err := c.ToggleStatus(ctx, convID, chatwoot.StatusOpen)
				return err
			}, false, 2, []time.Duration{time.Second}},
		{"500 on a post is not repeated: it may have been stored",
			chatwoottest.Failure{Method: "POST", Path: "/messages", Status: 500},
			func(c *chatwoot.Client) error {
				_, err := c.PostMessage(ctx, convID, chatwoot.NewMessage{Content: "hi"})
				return err
			}, true, 1, []time.Duration{}},
		{"typing is one attempt",
			chatwoottest.Failure{Path: "/toggle_typing_status", Status: 429, RetryAfter: "1"},
			func(c *chatwoot.Client) error {
				return c.ToggleTyping(ctx, convID, chatwoot.Typing{On: true})
			}, true, 1, []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, sl := setup(t, bot)
			fake.Fail(tt.fail)
			err := tt.call(c)
			if tt.wantErr {
				wantKind(t, err, fault.Unavailable)
				if !fault.Retryable(err) {
					t.Error("not retryable")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(fake.Requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.sleeps != nil && !slices.Equal(sl.all(), tt.sleeps) {
				t.Errorf("slept %v, want %v", sl.all(), tt.sleeps)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	fake, _, sl := setup(t, bot)
	now := time.Date(2025, 7, 18, 18, 2, 0, 0, time.UTC)
	c, err := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: fake.BotToken, Sleep: sl.sleep, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fake.Fail(chatwoottest.Failure{Status: 429, RetryAfter: now.Add(3 * time.Second).Format(http.TimeFormat)})
	if _, err := c.Labels(context.Background(), convID); err != nil {
		t.Fatal(err)
	}
	if got := sl.all(); len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("slept %v, want [3s]", got)
	}
}

func TestTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	c, err := chatwoot.New(chatwoot.Options{BaseURL: slow.URL, AccountID: 1, Token: "t", Timeout: 50 * time.Millisecond, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Labels(context.Background(), convID)
	wantKind(t, err, fault.Unavailable)
	if time.Since(start) > time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if strings.Contains(err.Error(), slow.URL) {
		t.Errorf("error names the URL: %v", err)
	}
}

func TestStatusLabelsTyping(t *testing.T) {
	fake, c, _ := setup(t, bot)
	ctx := context.Background()
	st, err := c.ToggleStatus(ctx, convID, chatwoot.StatusOpen)
	if err != nil || st != chatwoot.StatusOpen {
		t.Fatalf("toggle: %v %v", st, err)
	}
	if _, err := c.ToggleStatus(ctx, convID, "closed"); fault.KindOf(err) != fault.Invalid {
		t.Errorf("bad status: %v", err)
	}
	if got := fake.StatusChanges(); len(got) != 1 || got[0].From != "pending" || got[0].To != "open" || !got[0].ByBot {
		t.Errorf("status changes %+v", got)
	}

	// AddLabels keeps what is there, and writes nothing when nothing is new.
	if _, err := c.SetLabels(ctx, convID, []string{"early-check-in"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.AddLabels(ctx, convID, "ai-handoff")
	if err != nil || !slices.Equal(got, []string{"early-check-in", "ai-handoff"}) {
		t.Fatalf("add: %v %v", got, err)
	}
	if _, err := c.AddLabels(ctx, convID, "ai-handoff"); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.LabelSets()); n != 2 {
		t.Errorf("%d label writes, want 2 (the repeated add writes nothing)", n)
	}
	if conv, _ := fake.Conversation(account, convID); !slices.Equal(conv.Labels, []string{"early-check-in", "ai-handoff"}) {
		t.Errorf("labels %v", conv.Labels)
	}

	if err := c.ToggleTyping(ctx, convID, chatwoot.Typing{On: true, Private: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.ToggleTyping(ctx, convID, chatwoot.Typing{}); err != nil {
		t.Fatal(err)
	}
	want := []chatwoottest.Typing{{AccountID: 1, ConversationID: convID, Status: "on", Private: true}, {AccountID: 1, ConversationID: convID, Status: "off"}}
	if got := fake.TypingEvents(); !slices.Equal(got, want) {
		t.Errorf("typing %+v", got)
	}
}

func TestListMessages(t *testing.T) {
	fake, c, _ := setup(t, user)
	in := fake.AddMessage(chatwoottest.Message{AccountID: 1, ConversationID: convID, Content: "When is check-in?", SenderKind: "contact"})
	if _, err := c.PostMessage(context.Background(), convID, chatwoot.NewMessage{Content: "3 PM", Private: true}); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.ListMessages(context.Background(), convID, chatwoot.ListMessages{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ID != in.ID || msgs[0].MessageType != chatwoot.Incoming || msgs[0].SenderKind() != chatwoot.SenderContact ||
		msgs[1].MessageType != chatwoot.Outgoing || !msgs[1].Private || msgs[1].SenderKind() != chatwoot.SenderUser || msgs[1].CreatedAt.IsZero() {
		t.Errorf("messages %+v", msgs)
	}
	after, err := c.ListMessages(context.Background(), convID, chatwoot.ListMessages{After: in.ID})
	if err != nil || len(after) != 1 || after[0].Text() != "3 PM" {
		t.Errorf("after: %+v %v", after, err)
	}
}

func TestContacts(t *testing.T) {
	fake, c, _ := setup(t, user)
	ctx := context.Background()
	created, err := c.CreateContact(ctx, chatwoot.ContactInput{
		InboxID: inbox, Name: "Jordan Avery", Email: "Jordan.Avery@example.com", PhoneNumber: "+15555550142",
		Identifier: "66a1f0c2e4b0a1b2c3d4e5f6", CustomAttributes: map[string]any{"confirmation_code": "HMK7M2Q9XA", "listing": "Harbor View Loft"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Email != "jordan.avery@example.com" || created.Identifier != "66a1f0c2e4b0a1b2c3d4e5f6" {
		t.Errorf("created %+v", created)
	}

	// The + of an E.164 number survives the query string.
	found, err := c.SearchContacts(ctx, "+15555550142")
	if err != nil || len(found) != 1 || found[0].ID != created.ID {
		t.Fatalf("search by phone: %+v %v", found, err)
	}
	if q := fake.Requests()[1].Query.Get("q"); q != "+15555550142" {
		t.Errorf("server read q=%q", q)
	}

	// Update merges custom attributes.
	upd, err := c.UpdateContact(ctx, created.ID, chatwoot.ContactInput{CustomAttributes: map[string]any{"check_in": "2025-07-18"}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.CustomAttributes["confirmation_code"] != "HMK7M2Q9XA" || upd.CustomAttributes["check_in"] != "2025-07-18" || upd.PhoneNumber != "+15555550142" {
		t.Errorf("updated %+v", upd)
	}
	got, err := c.GetContact(ctx, created.ID)
	if err != nil || got.Name != "Jordan Avery" {
		t.Errorf("get: %+v %v", got, err)
	}

	// 422 with Chatwoot's {message, attributes}.
	_, err = c.CreateContact(ctx, chatwoot.ContactInput{Name: "Jordan again", Email: "jordan.avery@example.com", Identifier: "other"})
	wantKind(t, err, fault.Permanent)
	if chatwoot.StatusOf(err) != 422 || !slices.Equal(chatwoot.AttributesOf(err), []string{"email"}) || !strings.Contains(err.Error(), "Email has already been taken") {
		t.Errorf("duplicate email: %v attrs %v", err, chatwoot.AttributesOf(err))
	}
	// A phone Chatwoot would refuse never leaves the client.
	_, err = c.CreateContact(ctx, chatwoot.ContactInput{Name: "x", PhoneNumber: "555-555-0142"})
	wantKind(t, err, fault.Invalid)
	// Chatwoot's own check, for a client that sent one anyway.
	raw, _ := http.NewRequest("POST", fake.URL+"/api/v1/accounts/1/contacts", strings.NewReader(`{"name":"x","phone_number":"5555550142"}`))
	raw.Header.Set("api_access_token", fake.UserToken)
	raw.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(raw)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 422 {
		t.Errorf("fake accepted a non-E.164 phone: %d", res.StatusCode)
	}
	// Unknown contact and unknown inbox are 404.
	if _, err := c.UpdateContact(ctx, 424242, chatwoot.ContactInput{Name: "x"}); chatwoot.StatusOf(err) != 404 {
		t.Errorf("unknown contact: %v", err)
	}
	if _, err := c.CreateContact(ctx, chatwoot.ContactInput{InboxID: 99, Name: "y"}); chatwoot.StatusOf(err) != 404 {
		t.Errorf("unknown inbox: %v", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	for _, o := range []chatwoot.Options{{BaseURL: "chatwoot", Token: "t"}, {BaseURL: "http://x"}} {
		if _, err := chatwoot.New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// A wait past the caller's deadline is not started: the job's back-off
// takes over.
func TestRetryWithinTheCallersBudget(t *testing.T) {
	fake, c, sl := setup(t, bot)
	fake.Fail(chatwoottest.Failure{Path: "/labels", Status: 429, RetryAfter: "5"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.Labels(ctx, convID)
	wantKind(t, err, fault.Unavailable)
	if len(sl.all()) != 0 || len(fake.Requests()) != 1 {
		t.Errorf("slept %v over %d requests", sl.all(), len(fake.Requests()))
	}
}
