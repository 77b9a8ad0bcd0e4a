package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/console"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/seed"
	"github.com/harborstays/concierge/lib/testenv"
)

// startSeeded starts the runner on an empty database and seeds it as
// make run's first start does (seedSample), with env for the functions.
// It returns the system and how long the seeding took.
func startSeeded(t *testing.T, env map[string]string) (*system, time.Duration) {
	t.Helper()
	d := dbtest.New(t)
	vars := map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "false"}
	for k, v := range env {
		vars[k] = v
	}
	sys := startSystem(t, vars)
	ask := &devAsk{gw: sys.Gateway.Handler(), db: sys.Pool, base: sys.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := seedSample(ctx, ask, sys.Gateway, config.FromMap(vars), zerolog.New(os.Stderr).Level(zerolog.WarnLevel), time.Now()); err != nil {
		t.Fatal(err)
	}
	return sys, time.Since(start)
}

// seeded are the query arguments of the seeded conversations' id range:
// conversation_id >= $1 AND conversation_id < $2.
var seeded = []any{int64(seed.ConversationBase), int64(seed.ConversationBase + len(seed.Days))}

// count runs a SELECT count(*).
func count(t *testing.T, sys *system, q string, args ...any) int {
	t.Helper()
	var n int
	if err := sys.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// make run's first start fills the console: a week of the sample guests'
// conversations, played through llm-query, stt, tts and chatwoot-reply with
// make run's own settings (BOT_BURST_WINDOW 4 s), then dated back. The
// console's own queries find guest messages on most days of the week,
// answers with their time to reply, hand-offs with their reasons, the
// knowledge gaps grouped, two languages, both listings and both inboxes,
// and the voice message; every row keeps the order and the delays the run
// measured.
func TestSeededDaysFillTheConsole(t *testing.T) {
	sys, took := startSeeded(t, nil)
	t.Logf("seeding the stays, the knowledge and %d conversations took %s", len(seed.Days), took)
	ctx := context.Background()
	now := time.Now()

	o, err := console.ReadOverview(ctx, sys.Pool, now, 30, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	f := o.Total
	t.Logf("30 days: %+v", f)
	typed := 0
	for _, ex := range seed.Days {
		typed += len(ex.Texts)
	}
	if f.GuestMessages < int64(typed) || f.GuestMessages > int64(typed)+1 {
		t.Errorf("guest messages %d, want the %d typed ones (and the voice message)", f.GuestMessages, typed)
	}
	replies := count(t, sys, `SELECT count(*) FROM replies WHERE conversation_id >= $1 AND conversation_id < $2 AND status = 'posted'`, seeded...)
	if replies < len(seed.Days)-1 || f.Answered == 0 || f.Handoffs == 0 || f.Answered+f.Handoffs+f.Drafts != int64(replies) {
		t.Errorf("answered %d, hand-offs %d, drafts %d: want every one of the %d replies posted, answers and hand-offs both",
			f.Answered, f.Handoffs, f.Drafts, replies)
	}
	if f.Timed == 0 || f.Median <= 0 || f.P90 > time.Minute {
		t.Errorf("time to reply: %d timed, median %s, p90 %s; want the run's own seconds", f.Timed, f.Median, f.P90)
	}
	reasons := map[string]int64{}
	for _, r := range o.Reasons {
		reasons[r.Label] = r.N
	}
	if reasons[answer.ReasonNothing] < 2 || reasons[answer.ReasonPerson] == 0 || len(reasons) < 3 {
		t.Errorf("hand-off reasons %v: want the knowledge gaps, the request for a person and a restricted topic", o.Reasons)
	}
	if len(o.Language) < 2 {
		t.Errorf("languages %v, want two", o.Language)
	}
	var listings, inboxes []string
	for _, b := range o.Listings {
		if b.Key != "" && b.GuestMessages > 0 {
			listings = append(listings, b.Label)
		}
	}
	for _, b := range o.Inboxes {
		if b.GuestMessages > 0 {
			inboxes = append(inboxes, b.Key)
		}
	}
	if len(listings) != 2 || len(inboxes) != 2 {
		t.Errorf("listings %v, inboxes %v: want both of each", listings, inboxes)
	}

	week, err := console.ReadOverview(ctx, sys.Pool, now, 7, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	days := 0
	for _, d := range week.Daily {
		if d.GuestMessages > 0 {
			days++
		}
	}
	if days < 5 {
		t.Errorf("guest messages on %d days of the last 7, want most of them: %+v", days, week.Daily)
	}

	g, err := console.ReadGaps(ctx, sys.Pool, now, 30)
	if err != nil {
		t.Fatal(err)
	}
	alike := 0
	for _, x := range g.Groups {
		if x.Count >= 2 {
			alike++
		}
	}
	if g.Questions < 4 || alike < 2 {
		t.Errorf("knowledge gaps: %d questions, %d groups of alike ones; want the hair dryer and kayak pairs: %+v", g.Questions, alike, g.Groups)
	}

	t.Run("voice message", func(t *testing.T) {
		testenv.NeedTools(t, ".ci/deps --run installs them", "flite", "ffmpeg", "pocketsphinx_continuous")
		if f.VoiceMessages != 1 {
			t.Errorf("voice messages %d, want the sample's one", f.VoiceMessages)
		}
		if n := count(t, sys, `SELECT count(*) FROM messages WHERE conversation_id >= $1 AND conversation_id < $2 AND transcript <> ''`, seeded...); n != 1 {
			t.Errorf("%d voice messages transcribed, want 1", n)
		}
		if n := count(t, sys, `SELECT count(*) FROM replies WHERE conversation_id >= $1 AND conversation_id < $2 AND voice_clip_id IS NOT NULL`, seeded...); n != 1 {
			t.Errorf("%d spoken replies, want 1", n)
		}
	})

	// Dated back as a whole: each reply after its question by the seconds
	// the run took; every row of a conversation moved alike; nothing left
	// in the future or at the seeding's own time.
	for _, c := range []struct{ what, q string }{
		{"a reply before its question, or a minute after it", `SELECT count(*) FROM replies r JOIN messages m ON m.account_id = r.account_id AND m.id = r.inbound_message_id
			WHERE r.conversation_id >= $1 AND r.conversation_id < $2 AND (r.created_at < m.created_at OR r.posted_at > m.created_at + interval '1 minute')`},
		{"a message received a minute away from when it was written", `SELECT count(*) FROM messages WHERE conversation_id >= $1 AND conversation_id < $2
			AND abs(EXTRACT(EPOCH FROM received_at - created_at)) > 60`},
		{"a Chatwoot event not moved with its message", `SELECT count(*) FROM webhook_events e JOIN messages m ON m.id = (e.payload->>'id')::bigint
			WHERE e.source = 'chatwoot' AND m.conversation_id >= $1 AND m.conversation_id < $2 AND abs(EXTRACT(EPOCH FROM e.received_at - m.received_at)) > 1`},
		{"an answer job a minute away from its question", `SELECT count(*) FROM jobs j
			JOIN (SELECT conversation_id, max(created_at) AS at FROM messages WHERE conversation_id >= $1 AND conversation_id < $2 GROUP BY 1) m
				ON j.subject = 'conversation:1:' || m.conversation_id
			WHERE j.kind = 'answer' AND abs(EXTRACT(EPOCH FROM j.created_at - m.at)) > 60`},
		{"a row in the future", `SELECT count(*) FROM replies WHERE conversation_id >= $1 AND conversation_id < $2 AND (created_at > now() OR posted_at > now())`},
	} {
		if n := count(t, sys, c.q, seeded...); n != 0 {
			t.Errorf("%d times %s", n, c.what)
		}
	}

	if n := count(t, sys, `SELECT count(*) FROM jobs WHERE kind = 'answer' AND status = 'done'
		AND subject IN (SELECT 'conversation:1:' || c FROM generate_series($1::bigint, $2::bigint - 1) c)`, seeded...); n < len(seed.Days)-1 {
		t.Errorf("%d answer jobs done for the seeded conversations, want one each", n)
	}

	// Seeded once: a second start on the same database adds nothing.
	before := count(t, sys, `SELECT count(*) FROM messages`)
	ask := &devAsk{gw: sys.Gateway.Handler(), db: sys.Pool, base: sys.URL}
	if err := seedSample(ctx, ask, sys.Gateway, config.FromMap(map[string]string{}), zerolog.Nop(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if after := count(t, sys, `SELECT count(*) FROM messages`); after != before {
		t.Errorf("a second start seeded again: %d messages, then %d", before, after)
	}
}

// With a Chatwoot configured, replies would reach it (a real account's
// conversations of the same ids): the stays are seeded, the conversations
// are not, and nothing is posted.
func TestSeededDaysStayOffAConfiguredChatwoot(t *testing.T) {
	cw := chatwoottest.New(t)
	cw.AddInbox(1, 4)
	sys, _ := startSeeded(t, map[string]string{"CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken,
		"CHATWOOT_CONTACTS_TOKEN": cw.UserToken, "CHATWOOT_CONTACT_INBOX_ID": "4", "CHATWOOT_SIGNATURE": "off"})
	if n := count(t, sys, `SELECT count(*) FROM reservations`); n != len(seed.LiveCheckIn) {
		t.Errorf("%d stays seeded, want %d", n, len(seed.LiveCheckIn))
	}
	if n := count(t, sys, `SELECT count(*) FROM messages`); n != 0 {
		t.Errorf("%d messages seeded with a Chatwoot configured", n)
	}
	for _, m := range cw.Posted() {
		if m.ConversationID >= seed.ConversationBase && m.ConversationID < seed.ConversationBase+int64(len(seed.Days)) {
			t.Errorf("posted to Chatwoot: %+v", m)
		}
	}
}
