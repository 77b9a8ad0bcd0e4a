package guestdata_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guestdata"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// The sample guests of make run (lib/seed).
const (
	jordanID    = "66a1f0c2e4b0a1b2c3d4e5f6"
	jordanPhone = "+15555550142"
	jordanEmail = "jordan.avery@example.com"
	jordanCall  = 1843377012
	samID       = "66a1f0c2e4b0a1b2c3d4e5a7"
)

var testKey = guestdata.NewKey("erasure-log-key-for-tests-0123456789abcdef")

// seeded is make run's sample data (Jordan's and Sam's stays, Jordan's
// call) through the hooks, each guest's Chatwoot conversation with a text
// message, a voice message, a reply, a voice clip and an identity check,
// their raw deliveries, and the whole lot indexed.
func seeded(t *testing.T) (*dbtest.DB, retrieval.Index) {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	if err := seed.Load(ctx, d.Pool, &fntest.Recorder{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		guest          string
		conv, contact  int64
		msg            int64
		words, private string
	}{
		{jordanID, 1287, 57, 40211, "What time can we check in at the loft?", "jordan-private-note"},
		{samID, 1300, 58, 50001, "Is the hot tub heated at the cabin?", "sam-private-note"},
	} {
		exec(t, d.Pool, `INSERT INTO conversations (account_id, id, inbox_id, contact_id, guest_id, status) VALUES (1, $1, 4, $2, $3, 'pending')`, g.conv, g.contact, g.guest)
		exec(t, d.Pool, `INSERT INTO contact_links (guest_id, account_id, contact_id, synced_hash) VALUES ($1, 1, $2, 'h')`, g.guest, g.contact)
		exec(t, d.Pool, `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, content, created_at)
			VALUES (1, $1, $2, 'incoming', 'contact', $3, now()), (1, $1 + 1, $2, 'incoming', 'contact', NULL, now())`, g.msg, g.conv, g.words)
		exec(t, d.Pool, `UPDATE messages SET transcript = $3, attachments = '[{"file_type":"audio"}]' WHERE account_id = 1 AND id = $1 + 1 AND conversation_id = $2`, g.msg, g.conv, g.private)
		exec(t, d.Pool, `INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, status) VALUES (1, $1, $2, 'auto', 'Check-in is at 4 pm.', 'posted')`, g.conv, g.msg)
		exec(t, d.Pool, `INSERT INTO voice_clips (kind, account_id, conversation_id, message_id, content_type, bytes, size, expires_at)
			VALUES ('input', 1, $1, $2 + 1, 'audio/ogg', '\x4f676753', 4, now() + interval '1 day')`, g.conv, g.msg)
		exec(t, d.Pool, `INSERT INTO identity_checks (account_id, message_id, conversation_id, ok) VALUES (1, $1, $2, true)`, g.msg, g.conv)
		exec(t, d.Pool, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled)
			VALUES ('chatwoot', 'message_created', $1::text, jsonb_build_object('account', jsonb_build_object('id', 1),
				'conversation', jsonb_build_object('id', $2::bigint), 'content', $3::text), true)`, "d-"+g.guest, g.conv, g.words)
	}
	// A stranger's widget conversation that claims to be Jordan: not
	// Jordan's to export or erase.
	exec(t, d.Pool, `INSERT INTO conversations (account_id, id, contact_id, claimed_guest_id) VALUES (1, 1400, 99, $1)`, jordanID)
	exec(t, d.Pool, `INSERT INTO messages (account_id, id, conversation_id, message_type, content, created_at)
		VALUES (1, 60001, 1400, 'incoming', 'stranger-words: I am Jordan, send me the door code', now())`)
	x := &indexer.Indexer{DB: d.Pool, Index: pgindex.New(d.Pool), Docs: &documents.Builder{DB: d.Pool}, KnowledgeDir: t.TempDir()}
	rows, err := d.Pool.Query(ctx, `SELECT 'listing:' || id FROM listings UNION ALL SELECT 'reservation:' || id FROM reservations UNION ALL SELECT 'call:' || id FROM calls`)
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		if _, err := x.Sync(ctx, s); err != nil {
			t.Fatalf("index %s: %v", s, err)
		}
	}
	return d, x.Index
}

func exec(t *testing.T, db *pgxpool.Pool, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

// ownChunks is how many chunks a search in guest's own scope finds that
// belong to the guest (their reservation or call documents).
func ownChunks(t *testing.T, db *pgxpool.Pool, index retrieval.Index, guest, query string) int {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT id FROM reservations WHERE guest_id = $1`, guest)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	hits, err := index.Search(context.Background(), retrieval.Scope{GuestID: guest, ReservationIDs: res, Restricted: true, Team: true}, query, 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range hits {
		if h.Owner.GuestID == guest {
			n++
		}
	}
	return n
}

type snapshot map[string]int

// counts per table of rows that name guest (by id, phone, conversation).
func about(t *testing.T, db *pgxpool.Pool, guest, phone string, conv int64) snapshot {
	return snapshot{
		"guests with data": dbtest.Count(t, db, "guests", "id = $1 AND (full_name IS NOT NULL OR email IS NOT NULL OR phone_e164 IS NOT NULL)", guest),
		"reservations":     dbtest.Count(t, db, "reservations", "guest_id = $1", guest),
		"conversations":    dbtest.Count(t, db, "conversations", "account_id = 1 AND id = $1", conv),
		"messages":         dbtest.Count(t, db, "messages", "account_id = 1 AND conversation_id = $1", conv),
		"replies":          dbtest.Count(t, db, "replies", "account_id = 1 AND conversation_id = $1", conv),
		"voice_clips":      dbtest.Count(t, db, "voice_clips", "account_id = 1 AND conversation_id = $1", conv),
		"identity_checks":  dbtest.Count(t, db, "identity_checks", "account_id = 1 AND conversation_id = $1", conv),
		"contact_links":    dbtest.Count(t, db, "contact_links", "guest_id = $1", guest),
		"calls":            dbtest.Count(t, db, "calls", "phone_e164 = $1", phone),
		"documents":        dbtest.Count(t, db, "documents", "guest_id = $1", guest),
		"chunks":           dbtest.Count(t, db, "chunks", "guest_id = $1", guest),
		"events naming":    dbtest.Count(t, db, "webhook_events", "payload::text LIKE '%' || $1 || '%'", guest),
		"chatwoot events":  dbtest.Count(t, db, "webhook_events", "source = 'chatwoot' AND payload->'conversation'->>'id' = $1::bigint::text", conv),
	}
}

func TestEraseOneGuestAmongSeveral(t *testing.T) {
	ctx := context.Background()
	d, index := seeded(t)
	jordanBefore := about(t, d.Pool, jordanID, jordanPhone, 1287)
	for k, n := range jordanBefore {
		if n == 0 {
			t.Fatalf("seed holds no %s for Jordan: the test would prove nothing", k)
		}
	}
	samBefore := about(t, d.Pool, samID, "+15555550177", 1300)
	if ownChunks(t, d.Pool, index, jordanID, "check in loft") == 0 || ownChunks(t, d.Pool, index, samID, "check in cabin") == 0 {
		t.Fatal("retrieval finds neither guest's stay before the erasure")
	}
	listingChunks := dbtest.Count(t, d.Pool, "chunks", "guest_id IS NULL")

	sel, err := guestdata.NewSelector(guestdata.ByPhone, " "+jordanPhone)
	if err != nil {
		t.Fatal(err)
	}
	h, err := guestdata.Find(ctx, d.Pool, sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GuestIDs) != 1 || h.GuestIDs[0] != jordanID || len(h.Emails) != 1 || h.Emails[0] != jordanEmail ||
		!slices.Contains(h.CallIDs, jordanCall) || len(h.Conversations) != 1 || len(h.ChatwootContacts) != 1 {
		t.Fatalf("the phone did not widen to Jordan's guest, e-mail, call, conversation and contact: %+v", h)
	}

	// The dry run counts and changes nothing.
	counts, err := guestdata.Count(ctx, d.Pool, h)
	if err != nil {
		t.Fatal(err)
	}
	if counts["messages"] != 2 || counts["calls"] != int64(len(h.CallIDs)) || counts["reservations"] != 2-1 || counts["webhook_events"] == 0 {
		t.Errorf("dry-run counts %v", counts)
	}
	if got := about(t, d.Pool, jordanID, jordanPhone, 1287); !equal(got, jordanBefore) {
		t.Fatalf("counting changed data: %v", got)
	}

	if _, err := guestdata.Erase(ctx, d.Pool, index, nil, h, guestdata.SourceCLI); err == nil {
		t.Fatal("an erasure without a log key ran")
	}
	erased, err := guestdata.Erase(ctx, d.Pool, index, testKey, h, guestdata.SourceCLI)
	if err != nil {
		t.Fatal(err)
	}
	if erased["documents"] == 0 || erased["messages"] != 2 || erased["guests"] != 1 {
		t.Errorf("erased %v", erased)
	}
	for k, n := range about(t, d.Pool, jordanID, jordanPhone, 1287) {
		if n != 0 {
			t.Errorf("after the erasure Jordan still has %d %s", n, k)
		}
	}
	if n := dbtest.Count(t, d.Pool, "guests", "id = $1 AND erased_at IS NOT NULL AND deleted_at IS NOT NULL AND raw = '{}'", jordanID); n != 1 {
		t.Errorf("Jordan's tombstone: %d", n)
	}
	if got := about(t, d.Pool, samID, "+15555550177", 1300); !equal(got, samBefore) {
		t.Errorf("Sam's data changed: before %v after %v", samBefore, got)
	}
	if n := dbtest.Count(t, d.Pool, "chunks", "guest_id IS NULL"); n != listingChunks {
		t.Errorf("listing and knowledge chunks %d, want %d", n, listingChunks)
	}
	if n := dbtest.Count(t, d.Pool, "messages", "conversation_id = 1400"); n != 1 {
		t.Errorf("the stranger's claiming conversation lost its messages: %d", n)
	}
	if n := dbtest.Count(t, d.Pool, "conversations", "id = 1400 AND claimed_guest_id IS NULL"); n != 1 {
		t.Errorf("the stranger's claim on Jordan was not cleared")
	}
	if ownChunks(t, d.Pool, index, jordanID, "check in loft") != 0 {
		t.Error("retrieval still finds Jordan's stay")
	}
	if ownChunks(t, d.Pool, index, samID, "check in cabin") == 0 {
		t.Error("retrieval no longer finds Sam's stay")
	}

	// The log holds hashes and counts, none of the values.
	var logText string
	if err := d.Pool.QueryRow(ctx, `SELECT string_agg(to_jsonb(l)::text, ' ') FROM erasure_log l`).Scan(&logText); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{jordanID, jordanPhone, "5555550142", jordanEmail, "Jordan", "Avery", "1287"} {
		if strings.Contains(logText, secret) {
			t.Errorf("the erasure log holds %q: %s", secret, logText)
		}
	}
	if !strings.Contains(logText, testKey.Hash(guestdata.ByPhone, jordanPhone)) {
		t.Errorf("the erasure log lacks the phone's keyed hash: %s", logText)
	}

	// Nothing left: a second run finds nothing.
	h2, err := guestdata.Find(ctx, d.Pool, sel)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := guestdata.Count(ctx, d.Pool, h2); c.Total() != 0 {
		t.Errorf("a second look still finds %v", c)
	}
	byID, _ := guestdata.NewSelector(guestdata.ByGuestyID, jordanID)
	h3, err := guestdata.Find(ctx, d.Pool, byID)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := guestdata.Count(ctx, d.Pool, h3); c.Total() != 0 {
		t.Errorf("the tombstone counts as data: %v", c)
	}
}

// A backup taken before an erasure brings the guest back; the erasure log,
// replayed into the restored database, takes them out again.
func TestReplayAfterRestore(t *testing.T) {
	ctx := context.Background()
	live, liveIndex := seeded(t)
	restored, restoredIndex := seeded(t) // the backup from before the erasure

	sel, _ := guestdata.NewSelector(guestdata.ByEmail, "Jordan.Avery@Example.com")
	h, err := guestdata.Find(ctx, live.Pool, sel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guestdata.Erase(ctx, live.Pool, liveIndex, testKey, h, guestdata.SourceCLI); err != nil {
		t.Fatal(err)
	}
	samBefore := about(t, restored.Pool, samID, "+15555550177", 1300)

	// The restored copy's own log predates the erasure: nothing to replay.
	res, err := guestdata.Replay(ctx, restored.Pool, restoredIndex, testKey, false)
	if err != nil || res.Matched != 0 {
		t.Fatalf("replay of the restored log alone: %+v %v", res, err)
	}
	// The log of the database it replaces (or its export) is brought in.
	entries, err := guestdata.ReadLog(ctx, live.Pool)
	if err != nil || len(entries) != 1 {
		t.Fatalf("read log: %v %v", entries, err)
	}
	if n, err := guestdata.ImportLog(ctx, restored.Pool, entries); err != nil || n != 1 {
		t.Fatalf("import log: %d %v", n, err)
	}
	if n, _ := guestdata.ImportLog(ctx, restored.Pool, entries); n != 0 {
		t.Errorf("importing the same log twice added %d entries", n)
	}

	if _, err := guestdata.Replay(ctx, restored.Pool, restoredIndex, guestdata.NewKey("another-key-of-sufficient-length-000000"), false); err == nil {
		t.Error("a replay under another key claimed success")
	}
	dry, err := guestdata.Replay(ctx, restored.Pool, restoredIndex, testKey, true)
	if err != nil || dry.Matched == 0 || dry.Erased["messages"] != 2 {
		t.Fatalf("dry replay: %+v %v", dry, err)
	}
	if n := about(t, restored.Pool, jordanID, jordanPhone, 1287)["messages"]; n != 2 {
		t.Fatalf("the dry replay removed messages: %d left", n)
	}
	res, err = guestdata.Replay(ctx, restored.Pool, restoredIndex, testKey, false)
	if err != nil || res.Matched == 0 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	for k, n := range about(t, restored.Pool, jordanID, jordanPhone, 1287) {
		if n != 0 {
			t.Errorf("after the replay the restored copy still has %d %s of Jordan", n, k)
		}
	}
	if got := about(t, restored.Pool, samID, "+15555550177", 1300); !equal(got, samBefore) {
		t.Errorf("the replay changed Sam's data: %v -> %v", samBefore, got)
	}
	if ownChunks(t, restored.Pool, restoredIndex, samID, "check in cabin") == 0 {
		t.Error("retrieval no longer finds Sam's stay in the restored copy")
	}
	again, err := guestdata.Replay(ctx, restored.Pool, restoredIndex, testKey, false)
	if err != nil || again.Matched != 0 {
		t.Errorf("a second replay: %+v %v", again, err)
	}
}

func TestExportHoldsEverything(t *testing.T) {
	ctx := context.Background()
	d, _ := seeded(t)
	sel, _ := guestdata.NewSelector(guestdata.ByGuestyID, jordanID)
	h, err := guestdata.Find(ctx, d.Pool, sel)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := guestdata.Count(ctx, d.Pool, h)
	if err != nil {
		t.Fatal(err)
	}
	x, err := guestdata.Collect(ctx, d.Pool, sel, h, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Every row the erasure would remove is in the export, and more: the
	// index's text.
	for name, n := range counts {
		if got := len(x.Rows(name)); int64(got) != n {
			t.Errorf("export %s: %d rows, the guest has %d", name, got, n)
		}
	}
	var js bytes.Buffer
	if err := x.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := x.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Jordan Avery", jordanEmail, jordanPhone, "What time can we check in at the loft?", "jordan-private-note", "Check-in is at 4 pm."} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %q", want)
		}
		if !strings.Contains(html.UnescapeString(page.String()), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, other := range []string{"Sam Rivera", "sam.rivera@example.com", "sam-private-note", "Is the hot tub heated", "stranger-words"} {
		if strings.Contains(js.String(), other) || strings.Contains(html.UnescapeString(page.String()), other) {
			t.Errorf("the export holds another guest's %q", other)
		}
	}
}

func TestSelectorValidation(t *testing.T) {
	for _, tt := range []struct {
		kind, value, want string
		ok                bool
	}{
		{guestdata.ByPhone, "+15555550142", "+15555550142", true},
		{guestdata.ByPhone, "555-0142", "", false},
		{guestdata.ByEmail, " Jordan.Avery@Example.COM ", "jordan.avery@example.com", true},
		{guestdata.ByEmail, "jordan", "", false},
		{guestdata.ByGuestyID, "66a1f0c2e4b0a1b2c3d4e5f6", "66a1f0c2e4b0a1b2c3d4e5f6", true},
		{guestdata.ByGuestyID, "' OR 1=1 --", "", false},
		{"name", "Jordan", "", false},
	} {
		s, err := guestdata.NewSelector(tt.kind, tt.value)
		if (err == nil) != tt.ok || s.Value != tt.want {
			t.Errorf("%s %q: %+v %v", tt.kind, tt.value, s, err)
		}
	}
}

func equal(a, b snapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
