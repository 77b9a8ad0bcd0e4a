package function

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"

	"github.com/harborstays/concierge/lib/testenv"
)

// chatwootFor is a fake Chatwoot whose agent bot posts to h, with
// conversation 1287 pending as in the fixture.
func chatwootFor(t *testing.T) *chatwoottest.Server {
	t.Helper()
	cw := chatwoottest.New(t)
	cw.BotRetryWait = 50 * time.Millisecond
	// The function listens on loopback: SafeFetch (4.14) refuses that
	// unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK is set (see TestSafeFetch...).
	cw.AllowPrivateNetwork = true
	cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 3, Status: "pending"})
	return cw
}

func deliver(t *testing.T, cw *chatwoottest.Server, url string) chatwoottest.BotOutcome {
	t.Helper()
	return cw.DeliverToBot(context.Background(), chatwoottest.BotDelivery{URL: url, Secret: fixtures.ChatwootSecret,
		Payload: fixtures.Read("chatwoot/message_created.incoming.json"), AccountID: 1, ConversationID: 1287})
}

// Chatwoot retries an agent-bot event only after 429 or 500; any other
// failure moves the pending conversation to open, where the bot never
// answers again. A database outage must therefore answer 500, and the
// retry that finds the database back stores the event.
func TestDatabaseOutageKeepsTheConversationPending(t *testing.T) {
	cluster := dbtest.Cluster()
	if cluster == nil {
		testenv.Skip(t, "tests run against CONCIERGE_TEST_DATABASE_URL; cannot stop that server")
	}
	h := faastest.Start(t, Name, New, map[string]string{"CHATWOOT_WEBHOOK_SECRET": fixtures.ChatwootSecret, "BOT_BURST_WINDOW": "0s"})
	cw := chatwootFor(t)
	ctx := context.Background()
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	running := false
	t.Cleanup(func() {
		if !running {
			_ = cluster.Start(ctx)
		}
	})
	cw.BeforeBotRetry = func(attempt int) {
		if attempt == 2 {
			if err := cluster.Start(ctx); err != nil {
				t.Error(err)
			}
			running = true
		}
	}
	out := deliver(t, cw, h.URL)
	if !slices.Equal(out.Statuses, []int{http.StatusInternalServerError, http.StatusOK}) || out.MovedToOpen {
		t.Fatalf("attempts %v, moved to open %v; want [500 200] and the conversation kept pending", out.Statuses, out.MovedToOpen)
	}
	if c, _ := cw.Conversation(1, 1287); c.Status != "pending" {
		t.Errorf("conversation %s, want pending", c.Status)
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", "source = 'chatwoot'"); n != 1 {
		t.Errorf("events stored = %d, want 1", n)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer'"); n != 1 {
		t.Errorf("answer jobs = %d, want 1", n)
	}
}

// A dependency that hangs (here a lock on webhook_events, as a long
// migration or a stuck vacuum would hold) must not run into Chatwoot's
// webhook timeout (5 s), which Chatwoot does not retry: the intake gives up
// inside its budget with a 500, which Chatwoot retries, and the retry that
// finds the table free stores the event.
func TestHungDatabaseAnswers500InsideChatwootsTimeout(t *testing.T) {
	h := faastest.Start(t, Name, New, map[string]string{"CHATWOOT_WEBHOOK_SECRET": fixtures.ChatwootSecret, "BOT_BURST_WINDOW": "0s"})
	cw := chatwootFor(t)
	cw.WebhookTimeout = 5 * time.Second
	ctx := context.Background()
	tx, err := h.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cw.BeforeBotRetry = func(attempt int) {
		if attempt == 2 {
			if err := tx.Rollback(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	out := deliver(t, cw, h.URL)
	if !slices.Equal(out.Statuses, []int{http.StatusInternalServerError, http.StatusOK}) || out.MovedToOpen {
		t.Fatalf("attempts %v, moved to open %v; want [500 200] and the conversation kept pending", out.Statuses, out.MovedToOpen)
	}
	if n := dbtest.Count(t, h.DB.Pool, "webhook_events", "source = 'chatwoot'"); n != 1 {
		t.Errorf("events stored = %d, want 1", n)
	}
}

// The same rules seen from Chatwoot's side, so the test above cannot pass
// against a fake that retries everything: 503 is not retried, a bot slower
// than WEBHOOK_TIMEOUT is not retried, and keep_pending_on_bot_failure
// keeps the conversation for the bot.
func TestChatwootBotDeliveryRules(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int
		slow        bool
		keepPending bool
		attempts    int
		moved       bool
	}{
		{"500 is retried twice", http.StatusInternalServerError, false, false, 3, true},
		{"429 is retried twice", http.StatusTooManyRequests, false, false, 3, true},
		{"503 is not retried", http.StatusServiceUnavailable, false, false, 1, true},
		{"401 is not retried", http.StatusUnauthorized, false, false, 1, true},
		{"a timeout is not retried", http.StatusOK, true, false, 1, true},
		{"keep_pending_on_bot_failure", http.StatusServiceUnavailable, false, true, 1, false},
		{"200 delivers", http.StatusOK, false, false, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cw := chatwootFor(t)
			cw.KeepPendingOnBotFailure = c.keepPending
			cw.WebhookTimeout = 200 * time.Millisecond
			bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.slow {
					time.Sleep(400 * time.Millisecond)
				}
				w.WriteHeader(c.status)
			}))
			defer bot.Close()
			out := deliver(t, cw, bot.URL)
			if len(out.Statuses) != c.attempts || out.MovedToOpen != c.moved {
				t.Fatalf("attempts %v moved %v; want %d attempts, moved %v", out.Statuses, out.MovedToOpen, c.attempts, c.moved)
			}
			want := "pending"
			if c.moved {
				want = "open"
			}
			if conv, _ := cw.Conversation(1, 1287); conv.Status != want {
				t.Errorf("status %s, want %s", conv.Status, want)
			}
		})
	}
}

// From 4.14.0 Chatwoot refuses to deliver to a private address
// (SafeFetch): an agent bot pointed at http://gateway:8080/... or any
// internal URL never reaches llm-query, and the conversation is opened for
// good. 4.13 delivered. docs/deploy.md points the bot at the public URL.
func TestSafeFetchRefusesPrivateBotURLs(t *testing.T) {
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer bot.Close()
	for _, c := range []struct {
		version   string
		allow     bool
		delivered bool
	}{
		{"4.13.0", false, true},
		{"4.14.2", false, false},
		{"4.14.2", true, true},
	} {
		cw := chatwootFor(t)
		cw.SetVersion(c.version)
		cw.AllowPrivateNetwork = c.allow
		out := deliver(t, cw, bot.URL)
		if out.Delivered != c.delivered || out.MovedToOpen == c.delivered {
			t.Errorf("%s, private network allowed %v: delivered %v, moved to open %v; want delivered %v",
				c.version, c.allow, out.Delivered, out.MovedToOpen, c.delivered)
		}
	}
}
