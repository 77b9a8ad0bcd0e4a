package function

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/bot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

// The sample guests of the contract fixtures.
const (
	jordan    = "66a1f0c2e4b0a1b2c3d4e5f6"
	jordanRes = "6701a2b3c4d5e6f708192a3b"
	samRes    = "6701a2b3c4d5e6f708192b7c"
)

// world is a database with what the console shows, made the way
// production makes it: the contract fixtures stored through the hooks'
// intake (stays dated from today, as make run does), the index built,
// and guests' questions taken in and answered by llm-query's bot (lib/bot:
// its intake, then its answer job claimed, run and finished as the
// function's step runner does). The function itself is not imported: a
// function's tests build from its folder and lib/ alone (the template).
type world struct {
	DB        *dbtest.DB
	Knowledge string
	Bot       *bot.Bot
	// Failed is a failed job's id, for the replay button.
	Failed string
}

// question is one guest message: its text, and how long ago it was sent.
type question struct {
	text string
	ago  time.Duration
}

// questions the fixtures' guest Jordan asks, over the last days: answered
// ones, restricted topics, and some nothing answers (the knowledge gaps).
var questions = []question{
	{"What time can we check in?", 2 * time.Hour},
	{"What is the wifi password?", 3 * time.Hour},
	{"Where do I park?", 26 * time.Hour},
	{"Can we check in early at 11?", 27 * time.Hour},
	{"Is there a hair dryer in the apartment?", 50 * time.Hour},
	{"Do you have a hairdryer?", 51 * time.Hour},
	{"Is there a hair-dryer we could borrow?", 75 * time.Hour},
	{"Can I rent a kayak nearby?", 76 * time.Hour},
	{"I want to speak to a person please", 100 * time.Hour},
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{DB: dbtest.New(t), Knowledge: fntest.Knowledge(t)}
	now := time.Now()
	if err := seed.LoadLive(ctx, w.DB.Pool, &fntest.Recorder{}, now, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	x, err := indexer.FromConfig(ctx, config.New(config.FromMap(map[string]string{"KNOWLEDGE_DIR": w.Knowledge})), w.DB.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config.New(config.FromMap(map[string]string{"CHATWOOT_SIGNATURE": "off", "BOT_BURST_WINDOW": "0s",
		"KNOWLEDGE_DIR": w.Knowledge, "SECRETS_DIR": t.TempDir()}))
	if w.Bot, err = bot.FromConfig(ctx, cfg, w.DB.Pool, &fntest.Recorder{}, time.Now); err != nil {
		t.Fatal(err)
	}
	w.Bot.Answerer.Attempts = jobs.Answer.Policy.MaxAttempts
	for i, q := range questions {
		w.ask(t, int64(90001+i), int64(7001+i), q.text, now.Add(-q.ago))
	}
	w.answerAll(t)
	// The answer job ran now; in production it runs seconds after the
	// message, so the replies are dated so.
	w.exec(t, `UPDATE replies r SET created_at = m.created_at + interval '3 seconds'
		FROM messages m WHERE m.account_id = r.account_id AND m.id = r.inbound_message_id`)
	// chatwoot-reply's part, which needs a Chatwoot: the answers were
	// posted some seconds after the guest wrote.
	w.exec(t, `UPDATE replies r SET status = 'posted', posted_at = m.created_at + (5 + r.inbound_message_id % 40) * interval '1 second'
		FROM messages m WHERE m.account_id = r.account_id AND m.id = r.inbound_message_id AND r.mode = 'auto'`)
	// A job that failed for good, as redrive parks one.
	if err := w.DB.Pool.QueryRow(ctx, `INSERT INTO jobs (kind, function, subject, status, attempts, last_error, updated_at)
		VALUES ('guesty-fetch', 'guesty-fetch', 'reservation:6701a2b3c4d5e6f708192a3b', 'failed', 12, 'guesty: 503 Service Unavailable', now() - interval '1 hour')
		RETURNING id::text`).Scan(&w.Failed); err != nil {
		t.Fatal(err)
	}
	// Backups as lib/backup records them: a verified one with the row
	// counts its verification compared, and a failed run after it.
	w.exec(t, `INSERT INTO backups (database_name, store, object_key, status, started_at, uploaded_at, verified_at, finished_at, bytes, dump_bytes, sha256, row_counts)
		VALUES ('concierge', 'file:///backups', 'concierge/2026/concierge-verified.dump.zst', 'verified', now() - interval '5 hours', now() - interval '5 hours',
			now() - interval '4 hours 50 minutes', now() - interval '4 hours 50 minutes', 1234567, 9876543, 'ab12', '{"public.messages": 9, "public.replies": 9, "public.guests": 2}')`)
	w.exec(t, `INSERT INTO backups (database_name, store, object_key, status, started_at, finished_at, error)
		VALUES ('concierge', 'file:///backups', 'concierge/2026/concierge-failed.dump.zst', 'failed', now() - interval '1 hour', now() - interval '50 minutes', 'upload: connection reset by peer')`)
	return w
}

func (w *world) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := w.DB.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// ask delivers a guest message to the bot's intake as Chatwoot's agent
// bot does: the contract's incoming-message event, in a conversation of
// its own.
func (w *world) ask(t *testing.T, message, conversation int64, text string, at time.Time) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read("chatwoot/message_created.incoming.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["content"], m["created_at"] = message, text, at.UTC().Format(time.RFC3339Nano)
	conv := m["conversation"].(map[string]any)
	conv["id"], conv["messages"] = conversation, []any{}
	b, _ := json.Marshal(m)
	if _, err := w.Bot.Intake.Receive(context.Background(), http.Header{"Content-Type": {"application/json"}}, b); err != nil {
		t.Fatalf("intake: %v", err)
	}
}

// answerAll runs every pending answer job as llm-query's step runner does:
// claim, run, finish.
func (w *world) answerAll(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	rows, err := w.DB.Pool.Query(ctx, "SELECT id::text FROM jobs WHERE kind = 'answer' AND status = 'pending' ORDER BY created_at")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		c, err := jobs.StartKind(ctx, w.DB.Pool, id, jobs.Answer.Name, jobs.Answer.Policy)
		if err != nil {
			t.Fatalf("claim answer job: %v", err)
		}
		if _, err := w.Bot.Answerer.Run(ctx, c); err != nil {
			t.Fatalf("answer job %s: %v", c.Subject, err)
		}
		if err := jobs.Done(ctx, w.DB.Pool, c); err != nil {
			t.Fatal(err)
		}
	}
}

// console starts the console on the world's database: the local runner's
// (open, as make run serves it) unless env sets CONSOLE_AUTH.
func (w *world) console(t *testing.T, ctor faas.Constructor, env map[string]string) *faastest.Harness {
	t.Helper()
	vars := map[string]string{"KNOWLEDGE_DIR": w.Knowledge}
	for k, v := range env {
		vars[k] = v
	}
	return faastest.StartWith(t, w.DB, Name, ctor, vars)
}
