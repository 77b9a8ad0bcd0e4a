package retention_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guestdata"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/retention"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	jordanID  = "66a1f0c2e4b0a1b2c3d4e5f6"
	samID     = "66a1f0c2e4b0a1b2c3d4e5a7"
	oldCall   = 1843377012 // Jordan's, 400 days ago: goes
	keptCall  = 1843391455 // 400 days ago, from Sam's phone, Sam's stay 100 days ago: stays
	day       = 24 * time.Hour
	samPhone  = "+15555550177"
	keyString = "erasure-log-key-for-tests-0123456789abcdef"
)

func defaults(t *testing.T) retention.Policy {
	t.Helper()
	cfg := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir()}))
	p := retention.PolicyFrom(cfg)
	if err := cfg.Err(); err != nil {
		t.Fatal(err)
	}
	return p
}

func exec(t *testing.T, db *pgxpool.Pool, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

// world is a database with data of every kind and age around now. Each
// row's name says whether retention must remove it: "go-…" or "keep-…".
func world(t *testing.T, now time.Time) (*dbtest.DB, retrieval.Index) {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	if err := seed.Load(ctx, d.Pool, &fntest.Recorder{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	x := &indexer.Indexer{DB: d.Pool, Index: pgindex.New(d.Pool), Docs: &documents.Builder{DB: d.Pool}, KnowledgeDir: t.TempDir()}
	rows, _ := d.Pool.Query(ctx, `SELECT 'listing:' || id FROM listings UNION ALL SELECT 'reservation:' || id FROM reservations UNION ALL SELECT 'call:' || id FROM calls`)
	subjects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		if _, err := x.Sync(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// Stays: Jordan's ended 400 days ago, Sam's 100 days ago.
	exec(t, d.Pool, `UPDATE reservations SET check_out = $2 WHERE guest_id = $1`, jordanID, ago(400*day))
	exec(t, d.Pool, `UPDATE reservations SET check_out = $2 WHERE guest_id = $1`, samID, ago(100*day))
	// Calls.
	exec(t, d.Pool, `UPDATE calls SET event_at = $2 WHERE id = $1`, oldCall, ago(400*day))
	exec(t, d.Pool, `UPDATE calls SET event_at = $2, phone_e164 = $3 WHERE id = $1`, keptCall, ago(400*day), samPhone)

	// Raw events: the seed's are recent (kept); add each age and state.
	for _, e := range []struct {
		key                string
		received, resolved time.Duration
		parseError         bool
	}{
		{"go-processed-40d", 40 * day, 0, false},
		{"keep-processed-10d", 10 * day, 0, false},
		{"keep-unparsed-100d", 100 * day, 0, true},
		{"go-resolved-40d", 100 * day, 40 * day, true},
		{"keep-resolved-5d", 100 * day, 5 * day, true},
	} {
		var resolved *time.Time
		var perr *string
		if e.parseError {
			s := "data.id: expected a number"
			perr = &s
		}
		if e.resolved > 0 {
			r := ago(e.resolved)
			resolved = &r
		}
		exec(t, d.Pool, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, received_at, parse_error, parse_resolved_at)
			VALUES ('aircall', 'call.ended', $1, '{}', true, $2, $3, $4)`, e.key, ago(e.received), perr, resolved)
	}
	// Jobs.
	for _, j := range []struct {
		subject, status string
		age             time.Duration
	}{
		{"go-done-40d", "done", 40 * day}, {"keep-done-5d", "done", 5 * day},
		{"go-failed-100d", "failed", 100 * day}, {"keep-failed-30d", "failed", 30 * day},
		{"keep-pending-400d", "pending", 400 * day},
	} {
		exec(t, d.Pool, `INSERT INTO jobs (kind, function, subject, status, created_at, updated_at, done_at)
			VALUES ('vectorize', 'vectorize', $1, $2, $3, $3, CASE WHEN $2 = 'done' THEN $3::timestamptz END)`, j.subject, j.status, ago(j.age))
	}
	exec(t, d.Pool, `INSERT INTO job_replays (job_id, outcome, attempts, redrives, failed_at)
		SELECT id, 'requeued', 3, 0, updated_at FROM jobs WHERE subject = 'go-failed-100d'`)

	// Conversations: A is Jordan's (stay 400 days ago), B Sam's (100 days
	// ago), C nobody's.
	for _, c := range []struct {
		id    int64
		guest *string
	}{{1001, strp(jordanID)}, {1002, strp(samID)}, {1003, nil}} {
		exec(t, d.Pool, `INSERT INTO conversations (account_id, id, guest_id, updated_at) VALUES (1, $1, $2, $3)`, c.id, c.guest, ago(400*day))
	}
	for _, m := range []struct {
		id, conv int64
		content  string
		age      time.Duration
	}{
		{1, 1001, "go-jordan-400d", 400 * day}, {2, 1001, "keep-jordan-10d", 10 * day},
		{3, 1002, "keep-sam-400d", 400 * day},
		{4, 1003, "go-stranger-366d", 366 * day}, {5, 1003, "go-stranger-400d", 400 * day},
	} {
		exec(t, d.Pool, `INSERT INTO messages (account_id, id, conversation_id, message_type, content, created_at)
			VALUES (1, $1, $2, 'incoming', $3, $4)`, m.id, m.conv, m.content, ago(m.age))
	}
	exec(t, d.Pool, `INSERT INTO identity_checks (account_id, message_id, conversation_id, ok, checked_at) VALUES
		(1, 4, 1003, false, $1), (1, 3, 1002, true, $1)`, ago(366*day))
	// Replies: two from one day 400 days ago (cited, spoken), one recent.
	for _, r := range []struct {
		inbound   int64
		age       time.Duration
		citations string
		audio     bool
	}{{1, 400 * day, `["c1"]`, true}, {5, 400 * day, `[]`, false}, {2, 10 * day, `[]`, false}} {
		conv := int64(1001)
		if r.inbound == 5 {
			conv = 1003
		}
		exec(t, d.Pool, `INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, language, citations, want_audio, status, created_at)
			VALUES (1, $1, $2, 'auto', 'reply text', 'en', $3, $4, 'posted', $5)`, conv, r.inbound, r.citations, r.audio, ago(r.age))
	}
	// Voice clips.
	for i, exp := range []time.Duration{-time.Hour, time.Hour} {
		exec(t, d.Pool, `INSERT INTO voice_clips (kind, account_id, conversation_id, message_id, content_type, bytes, size, expires_at)
			VALUES ('input', 1, 1001, $1, 'audio/ogg', 'abc', 3, $2)`, 900+i, now.Add(exp))
	}
	return d, x.Index
}

func strp(s string) *string { return &s }

func TestRetentionPass(t *testing.T) {
	now := time.Now()
	d, index := world(t, now)
	ctx := context.Background()
	p := &retention.Purger{DB: d.Pool, Index: index, Policy: defaults(t)}
	p.Policy.Batch = 2 // several batches per kind
	samChunks := dbtest.Count(t, d.Pool, "chunks", "document_id LIKE 'reservation:%' AND guest_id = $1", samID)
	keptCallDocs := dbtest.Count(t, d.Pool, "documents", "source = $1", "call:1843391455")
	if n := dbtest.Count(t, d.Pool, "documents", "source = $1", "call:1843377012"); n == 0 || keptCallDocs == 0 || samChunks == 0 {
		t.Fatal("the calls and Sam's stay are not indexed: the index part proves nothing")
	}

	res, err := p.Run(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Batches < 10 {
		t.Errorf("pass: complete %v, %d batches", res.Complete, res.Batches)
	}
	want := map[string]int64{
		retention.KindEvents: 2, retention.KindJobs: 1, retention.KindFailedJobs: 1, retention.KindMessages: 3,
		retention.KindIdentityChecks: 1, retention.KindConversations: 1, retention.KindReplies: 2, retention.KindCalls: 1,
		retention.KindVoiceClips: 1, retention.KindDocuments: 2,
	}
	for k, n := range want {
		if res.Removed[k] != n {
			t.Errorf("removed %s: %d, want %d (all: %v)", k, res.Removed[k], n, res.Removed)
		}
	}
	// What must go went; what must stay stayed.
	for _, c := range []struct {
		table, cond string
		want        int
	}{
		{"webhook_events", "dedupe_key LIKE 'go-%'", 0},
		{"webhook_events", "dedupe_key LIKE 'keep-%'", 3},
		{"webhook_events", "dedupe_key LIKE 'seed-%' OR source = 'aircall' AND dedupe_key NOT LIKE '%-%d'", -1},
		{"jobs", "subject LIKE 'go-%'", 0},
		{"jobs", "subject LIKE 'keep-%'", 3},
		{"job_replays", "true", 0},
		{"messages", "content LIKE 'go-%'", 0},
		{"messages", "content LIKE 'keep-%'", 2},
		{"identity_checks", "true", 1},
		{"conversations", "id IN (1001, 1002)", 2},
		{"conversations", "id = 1003", 0},
		{"replies", "true", 1},
		{"calls", "id = 1843377012", 0},
		{"calls", "id = 1843391455", 1},
		{"documents", "source = 'call:1843377012'", 0},
		{"chunks", "document_id LIKE 'call:1843377012%'", 0},
		{"documents", "source = 'call:1843391455'", keptCallDocs},
		{"chunks", "document_id LIKE 'reservation:%' AND guest_id = '" + samID + "'", samChunks},
		{"voice_clips", "true", 1},
		{"guests", "true", 2},
		{"reservations", "true", 2},
	} {
		if c.want < 0 {
			continue
		}
		if n := dbtest.Count(t, d.Pool, c.table, c.cond); n != c.want {
			t.Errorf("%s where %s: %d, want %d", c.table, c.cond, n, c.want)
		}
	}
	// The replies live on as counts.
	var replies, cited, spoken int
	if err := d.Pool.QueryRow(ctx, `SELECT sum(replies), sum(cited), sum(spoken) FROM reply_stats
		WHERE day = ($1::timestamptz AT TIME ZONE 'UTC')::date AND account_id = 1 AND mode = 'auto' AND status = 'posted' AND language = 'en'`,
		now.Add(-400*day)).Scan(&replies, &cited, &spoken); err != nil {
		t.Fatal(err)
	}
	if replies != 2 || cited != 1 || spoken != 1 {
		t.Errorf("reply_stats: %d replies, %d cited, %d spoken", replies, cited, spoken)
	}

	// Figures in the metrics.
	var b bytes.Buffer
	if err := retention.WritePrometheus(ctx, d.Pool, &b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`concierge_retention_removed_rows{kind="messages"} 3`, `concierge_retention_removed_rows{kind="calls"} 1`,
		"concierge_retention_last_pass_complete 1", "# TYPE concierge_retention_longest_batch_seconds gauge"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("metrics lack %q:\n%s", w, b.String())
		}
	}

	// A second pass finds nothing more.
	again, err := p.Run(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range again.Removed {
		if n != 0 {
			t.Errorf("second pass removed %d %s", n, k)
		}
	}
}

// A row a hook or a job holds is skipped, not waited for; the next pass
// takes it. A pass out of budget says so and leaves the rest.
func TestRetentionSkipsLockedRowsAndStopsAtBudget(t *testing.T) {
	now := time.Now()
	d, index := world(t, now)
	ctx := context.Background()

	p := &retention.Purger{DB: d.Pool, Index: index, Policy: defaults(t)}
	p.Policy.Budget = time.Nanosecond
	res, err := p.Run(ctx, now)
	if err != nil || res.Complete {
		t.Fatalf("out of budget: complete %v, %v", res.Complete, err)
	}
	if n := dbtest.Count(t, d.Pool, "webhook_events", "dedupe_key LIKE 'go-%'"); n != 2 {
		t.Errorf("a pass out of budget deleted events: %d left", n)
	}

	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM webhook_events WHERE dedupe_key = 'go-processed-40d' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	p.Policy = defaults(t)
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err = p.Run(runCtx, now)
	if err != nil {
		t.Fatalf("pass beside a held row: %v", err)
	}
	if res.Removed[retention.KindEvents] != 1 || dbtest.Count(t, d.Pool, "webhook_events", "dedupe_key LIKE 'go-%'") != 1 {
		t.Errorf("held row: removed %d events", res.Removed[retention.KindEvents])
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = p.Run(ctx, now)
	if err != nil || res.Removed[retention.KindEvents] != 1 {
		t.Errorf("next pass: %v %v", res.Removed, err)
	}
}

// Guests Guesty deleted are erased by the pass (with the log key), and
// wait without it. The deletion arrives as Guesty sends it, through the
// hook's intake (lib/seed): Jordan's guest.deleted fixture.
func TestRetentionErasesGuestsGuestyDeleted(t *testing.T) {
	now := time.Now()
	d, index := world(t, now)
	ctx := context.Background()
	if err := seed.Load(ctx, d.Pool, &fntest.Recorder{}, "local/guesty.guest.deleted.json"); err != nil {
		t.Fatal(err)
	}
	// Jordan's stay ended 400 days ago in world; bring it near so only
	// the erasure, not retention, can remove it.
	exec(t, d.Pool, `UPDATE reservations SET check_out = now() WHERE guest_id = $1`, jordanID)
	p := &retention.Purger{DB: d.Pool, Index: index, Policy: defaults(t)}
	res, err := p.Run(ctx, now)
	if err != nil || res.GuestsWaiting != 1 || res.Removed[retention.KindErasedGuests] != 0 {
		t.Fatalf("without a key: %+v %v", res, err)
	}
	p.Key = guestdata.NewKey(keyString)
	res, err = p.Run(ctx, now)
	if err != nil || res.Removed[retention.KindErasedGuests] != 1 {
		t.Fatalf("with a key: %+v %v", res.Removed, err)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", jordanID); n != 0 {
		t.Errorf("%d of Jordan's reservations left", n)
	}
	if n := dbtest.Count(t, d.Pool, "chunks", "guest_id = $1", jordanID); n != 0 {
		t.Errorf("%d of Jordan's chunks left", n)
	}
	if n := dbtest.Count(t, d.Pool, "guests", "id = $1 AND erased_at IS NOT NULL AND email IS NULL", jordanID); n != 1 {
		t.Errorf("Jordan is not a tombstone")
	}
	if n := dbtest.Count(t, d.Pool, "erasure_log", "source = 'guesty'"); n != 1 {
		t.Errorf("%d guesty erasures logged", n)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", samID); n != 1 {
		t.Errorf("Sam's reservation: %d", n)
	}
	if res, err := p.Run(ctx, now); err != nil || res.Removed[retention.KindErasedGuests] != 0 {
		t.Errorf("a second pass erased again: %v %v", res.Removed, err)
	}
	// A late redelivery of an older update finds the tombstone and
	// brings nothing back.
	if err := seed.Load(ctx, d.Pool, &fntest.Recorder{}, "local/guesty.guest.created.json"); err != nil {
		t.Fatal(err)
	}
	if n := dbtest.Count(t, d.Pool, "guests", "id = $1 AND email IS NULL AND full_name IS NULL", jordanID); n != 1 {
		t.Errorf("an older guest.created brought Jordan back")
	}
}

// Voice in Chatwoot: after VOICE_TTL the guest's voice note and the spoken
// reply are deleted through the API; a recent one stays; one already gone
// counts as done; a bot token is refused and nothing is marked.
func TestRetentionRemovesVoiceFromChatwoot(t *testing.T) {
	now := time.Now()
	ctx := context.Background()
	d := dbtest.New(t)
	cw := chatwoottest.New(t)
	cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 4, ContactID: 57})
	note := cw.AddMessage(chatwoottest.Message{AccountID: 1, ConversationID: 1287, SenderKind: "contact",
		Attachments: []chatwoottest.File{{Name: "voice.ogg", ContentType: "audio/ogg", Data: []byte("OggS")}}})
	fresh := cw.AddMessage(chatwoottest.Message{AccountID: 1, ConversationID: 1287, SenderKind: "contact",
		Attachments: []chatwoottest.File{{Name: "voice2.ogg", ContentType: "audio/ogg", Data: []byte("OggS")}}})
	spoken := cw.AddMessage(chatwoottest.Message{AccountID: 1, ConversationID: 1287, MessageType: "outgoing", SenderKind: chatwoottest.Bot,
		Content: "Check-in is at 4 pm.", Attachments: []chatwoottest.File{{Name: "reply.ogg", ContentType: "audio/ogg", Data: []byte("OggS")}}})
	exec(t, d.Pool, `INSERT INTO messages (account_id, id, conversation_id, message_type, transcript, created_at) VALUES
		(1, $1, 1287, 'incoming', 'when is check-in', $3), (1, $2, 1287, 'incoming', 'and the wifi', $4),
		(1, 99999, 1287, 'incoming', 'deleted by an agent', $3)`, note.ID, fresh.ID, now.Add(-80*time.Hour), now.Add(-time.Hour))
	exec(t, d.Pool, `INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, status, voice_status, chatwoot_message_id, posted_at)
		VALUES (1, 1287, $1, 'auto', 'Check-in is at 4 pm.', 'posted', 'ready', $2, $3)`, note.ID, spoken.ID, now.Add(-80*time.Hour))

	client := func(token string) retention.Chatwoot {
		c, err := chatwoot.New(chatwoot.Options{BaseURL: cw.URL, AccountID: 1, Token: token, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		return deleter{c}
	}
	p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: defaults(t), Chatwoot: client(cw.BotToken)}
	res, err := p.Run(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.ChatwootVoice.Refused != 1 || res.ChatwootVoice.Removed != 0 || !strings.Contains(res.ChatwootVoice.Reason, "bot tokens may not delete") {
		t.Errorf("bot token: %+v", res.ChatwootVoice)
	}
	if n := dbtest.Count(t, d.Pool, "messages", "voice_removed_at IS NOT NULL"); n != 0 {
		t.Errorf("a refused delete marked %d messages", n)
	}

	p.Chatwoot = client(cw.UserToken)
	res, err = p.Run(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.ChatwootVoice.Removed != 2 || res.ChatwootVoice.Gone != 1 || res.Removed[retention.KindChatwootVoice] != 3 {
		t.Errorf("user token: %+v", res.ChatwootVoice)
	}
	msgs := map[int64]chatwoottest.Message{}
	for _, m := range cw.Messages(1, 1287) {
		msgs[m.ID] = m
	}
	for _, id := range []int64{note.ID, spoken.ID} {
		if m := msgs[id]; len(m.Attachments) != 0 || m.Content != chatwoottest.DeletedContent || m.ContentAttributes["deleted"] != true {
			t.Errorf("message %d in Chatwoot after the delete: %+v", id, m)
		}
	}
	if m := msgs[fresh.ID]; len(m.Attachments) != 1 {
		t.Errorf("the voice note within VOICE_TTL was touched: %+v", m)
	}
	if n := dbtest.Count(t, d.Pool, "messages", "voice_removed_at IS NOT NULL"); n != 2 {
		t.Errorf("%d messages marked", n)
	}
	if n := dbtest.Count(t, d.Pool, "replies", "voice_removed_at IS NOT NULL"); n != 1 {
		t.Errorf("%d replies marked", n)
	}
	before := len(cw.Requests())
	if res, err := p.Run(ctx, now); err != nil || res.ChatwootVoice.Removed+res.ChatwootVoice.Gone != 0 || len(cw.Requests()) != before {
		t.Errorf("a second pass called Chatwoot again: %+v %v", res.ChatwootVoice, err)
	}
}

type deleter struct{ c *chatwoot.Client }

func (d deleter) DeleteMessage(ctx context.Context, account, conv, msg int64) error {
	return d.c.ForAccount(account).DeleteMessage(ctx, conv, msg)
}

func TestPolicyRejectsNonsense(t *testing.T) {
	cfg := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "RETENTION_MESSAGES": "-1h", "RETENTION_BATCH": "0"}))
	retention.PolicyFrom(cfg)
	err := cfg.Err()
	if err == nil || !strings.Contains(err.Error(), "RETENTION_MESSAGES") || !strings.Contains(err.Error(), "RETENTION_BATCH") {
		t.Errorf("%v", err)
	}
}
