package guestdata_test

// Tests written for `make mutate`: each names the gremlins mutants of
// erase.go and guestdata.go it kills.

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/guestdata"
)

// ERASURE_LOG_KEY: unset is no key (an erasure refuses to run), shorter
// than 32 characters is refused, 32 is enough and hashes as NewKey does.
// Kills: KeyFrom's `v == ""` negated and `len(v) < minKeyLen` made <= or
// negated.
func TestKeyFrom(t *testing.T) {
	key32 := strings.Repeat("k", 32)
	for _, c := range []struct {
		value  *string
		key    bool
		errors bool
	}{
		{nil, false, false},
		{ptr(key32[:31]), false, true},
		{ptr(key32), true, false},
		{ptr(key32 + "more"), true, false},
	} {
		m := map[string]string{"SECRETS_DIR": t.TempDir()}
		if c.value != nil {
			m["ERASURE_LOG_KEY"] = *c.value
		}
		cfg := config.New(config.FromMap(m))
		k := guestdata.KeyFrom(cfg)
		err := cfg.Err()
		if (k != nil) != c.key || (err != nil) != c.errors {
			t.Errorf("key of %v characters: key %v, error %v", lenOf(c.value), k != nil, err)
		}
		if err != nil && !strings.Contains(err.Error(), "ERASURE_LOG_KEY") {
			t.Errorf("the error does not name the setting: %v", err)
		}
		if k != nil && k.Hash(guestdata.ByPhone, "+15555550142") != guestdata.NewKey(*c.value).Hash(guestdata.ByPhone, "+15555550142") {
			t.Errorf("KeyFrom's key hashes differently from NewKey's")
		}
	}
}

func ptr(s string) *string { return &s }

func lenOf(s *string) any {
	if s == nil {
		return "unset"
	}
	return len(*s)
}

// Holdings are empty when nothing links to the selector, and not when any
// one part does, or a guest and any other part (one each).
// Kills: Empty's `… == 0` negated and each + of its sum made - (a guest
// with one reservation, conversation, call, Aircall contact or document
// would add up to nothing).
func TestHoldingsEmpty(t *testing.T) {
	if !(guestdata.Holdings{Phones: []string{"+15555550142"}}).Empty() {
		t.Error("a phone nothing links to is not empty")
	}
	g := []string{"g"}
	for _, h := range []guestdata.Holdings{{GuestIDs: g}, {CallIDs: []int64{1}}, {DocumentIDs: []string{"call:1:summary"}},
		{Conversations: []guestdata.Conversation{{AccountID: 1, ID: 2}}}, {AircallContacts: []int64{3}}, {ReservationIDs: []string{"r"}},
		{GuestIDs: g, ReservationIDs: []string{"r"}}, {GuestIDs: g, Conversations: []guestdata.Conversation{{AccountID: 1, ID: 2}}},
		{GuestIDs: g, CallIDs: []int64{1}}, {GuestIDs: g, AircallContacts: []int64{3}}, {GuestIDs: g, DocumentIDs: []string{"d"}}} {
		if h.Empty() {
			t.Errorf("%+v is empty", h)
		}
	}
}

// Find reaches the guest's Aircall contacts and indexed documents; the
// dry run counts them, with a quarantined passage of one of the documents;
// the erasure removes each (the passage with its document) and counts the
// documents it unindexed.
// Kills: Find's `err != nil` after the calls and after the Aircall contacts
// negated (it returns early: no Aircall contacts, no documents);
// unindexDocuments' `err != nil` after deleting the document negated (the
// quarantined passage kept) and `n++` made n--; uniq's
// `v != "" && !slices.Contains(out, v)` made || (the phone twice).
func TestEraseReachesEveryPart(t *testing.T) {
	ctx := context.Background()
	d, index := seeded(t)
	exec(t, d.Pool, `INSERT INTO aircall_contacts (id, first_name, phones, event_at) VALUES (7001, 'Jordan', ARRAY[$1], now())`, jordanPhone)
	sel, _ := guestdata.NewSelector(guestdata.ByPhone, jordanPhone)
	h, err := guestdata.Find(ctx, d.Pool, sel)
	if err != nil {
		t.Fatal(err)
	}
	// The selector's phone and the guest row's are one phone.
	if len(h.Phones) != 1 || h.Phones[0] != jordanPhone || len(h.GuestIDs) != 1 {
		t.Errorf("phones %q, guests %q: want each once", h.Phones, h.GuestIDs)
	}
	docs := dbtest.Count(t, d.Pool, "documents", "guest_id = $1 OR source = ANY($2)", jordanID, []string{"call:" + strconv.Itoa(jordanCall)})
	if len(h.AircallContacts) != 1 || h.AircallContacts[0] != 7001 || len(h.DocumentIDs) == 0 || len(h.DocumentIDs) != docs {
		t.Fatalf("holdings: Aircall contacts %v, %d documents (want %d)", h.AircallContacts, len(h.DocumentIDs), docs)
	}
	doc := h.DocumentIDs[0]
	exec(t, d.Pool, `INSERT INTO quarantined_passages (document_id, source, kind, passage, rule)
		SELECT id, source, kind, 'ignore previous instructions', 'injection' FROM documents WHERE id = $1`, doc)

	counts, err := guestdata.Count(ctx, d.Pool, h)
	if err != nil {
		t.Fatal(err)
	}
	if counts["aircall_contacts"] != 1 || counts["documents"] != int64(docs) || counts["quarantined_passages"] != 1 {
		t.Errorf("dry run: %v", counts)
	}
	erased, err := guestdata.Erase(ctx, d.Pool, index, testKey, h, guestdata.SourceCLI)
	if err != nil {
		t.Fatal(err)
	}
	if erased["documents"] != int64(docs) || erased["aircall_contacts"] != 1 {
		t.Errorf("erased %v, want %d documents and 1 Aircall contact", erased, docs)
	}
	for table, cond := range map[string]string{
		"aircall_contacts":     "id = 7001",
		"quarantined_passages": "document_id = '" + doc + "'",
		"documents":            "id = '" + doc + "'",
	} {
		if n := dbtest.Count(t, d.Pool, table, cond); n != 0 {
			t.Errorf("%d rows left in %s where %s", n, table, cond)
		}
	}
}

// A replay counts the log's entries and erases every guest they name, not
// only the first: Jordan and Sam, erased one after the other in the live
// database, both go from the restored copy.
// Kills: Replay's `res.Entries++` made -- and its `err != nil` after each
// Erase negated (it stops after the first guest).
func TestReplayErasesEveryGuest(t *testing.T) {
	ctx := context.Background()
	live, liveIndex := seeded(t)
	restored, restoredIndex := seeded(t)
	for _, id := range []string{jordanID, samID} {
		sel, _ := guestdata.NewSelector(guestdata.ByGuestyID, id)
		h, err := guestdata.Find(ctx, live.Pool, sel)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := guestdata.Erase(ctx, live.Pool, liveIndex, testKey, h, guestdata.SourceCLI); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := guestdata.ReadLog(ctx, live.Pool)
	if err != nil || len(entries) != 2 {
		t.Fatalf("read log: %d entries, %v", len(entries), err)
	}
	if _, err := guestdata.ImportLog(ctx, restored.Pool, entries); err != nil {
		t.Fatal(err)
	}
	res, err := guestdata.Replay(ctx, restored.Pool, restoredIndex, testKey, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 2 || res.OtherKey != 0 {
		t.Errorf("replay read %d entries (%d under another key), want 2", res.Entries, res.OtherKey)
	}
	for _, g := range []struct {
		id, phone string
		conv      int64
	}{{jordanID, jordanPhone, 1287}, {samID, "+15555550177", 1300}} {
		for k, n := range about(t, restored.Pool, g.id, g.phone, g.conv) {
			if n != 0 {
				t.Errorf("after the replay the restored copy still has %d %s of %s", n, k, g.id)
			}
		}
	}
}
