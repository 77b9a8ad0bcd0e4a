package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
	"github.com/harborstays/concierge/lib/seed"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

const (
	jordan        = "66a1f0c2e4b0a1b2c3d4e5f6"
	jordanListing = "64f2b7c9d1e8a3f4b5c6d7e8"
	jordanRes     = "6701a2b3c4d5e6f708192a3b"
	sam           = "66a1f0c2e4b0a1b2c3d4e5a7"
	samListing    = "64f2b7c9d1e8a3f4b5c6d7f9"
	samRes        = "6701a2b3c4d5e6f708192b7c"
)

var (
	jordanScope = retrieval.Scope{GuestID: jordan, ListingIDs: []string{jordanListing}, ReservationIDs: []string{jordanRes}, Restricted: true}
	samScope    = retrieval.Scope{GuestID: sam, ListingIDs: []string{samListing}, ReservationIDs: []string{samRes}, Restricted: true}
)

func start(t *testing.T) *faastest.Harness {
	t.Helper()
	return faastest.Start(t, Name, New, map[string]string{"KNOWLEDGE_DIR": fntest.Knowledge(t)})
}

// indexes runs f against each index implementation, configured the way a
// user would: nothing for PostgreSQL, QDRANT_URL for Qdrant (an in-process
// server on go-client's service interfaces, with the offline hashing
// embedder since no embeddings service is configured).
func indexes(t *testing.T, f func(t *testing.T, h *faastest.Harness)) {
	t.Run("postgres", func(t *testing.T) { f(t, start(t)) })
	t.Run("qdrant", func(t *testing.T) {
		f(t, faastest.Start(t, Name, New, map[string]string{"KNOWLEDGE_DIR": fntest.Knowledge(t), "QDRANT_URL": "http://" + qdranttest.Start(t)}))
	})
}

func seedAll(t *testing.T, h *faastest.Harness, names ...string) {
	t.Helper()
	if err := seed.Load(context.Background(), h.DB.Pool, &fntest.Recorder{}, names...); err != nil {
		t.Fatal(err)
	}
}

// runPending invokes vectorize for every pending vectorize job, as the
// hooks' async invocations would, and returns the responses' bodies.
func runPending(t *testing.T, h *faastest.Harness) []string {
	t.Helper()
	rows, err := h.DB.Pool.Query(context.Background(), "SELECT id::text, kind, subject FROM jobs WHERE kind = 'vectorize' AND status = 'pending' ORDER BY created_at")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jobs.Message
	for rows.Next() {
		var m jobs.Message
		if err := rows.Scan(&m.JobID, &m.Kind, &m.Subject); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	var out []string
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		code, body := h.PostJob(t, b, nil)
		if code != http.StatusOK {
			t.Fatalf("vectorize %s: %d %s", m.Subject, code, body)
		}
		out = append(out, body)
	}
	return out
}

func search(t *testing.T, h *faastest.Harness, s retrieval.Scope, q string) []retrieval.Hit {
	t.Helper()
	ix, err := indexer.OpenIndex(context.Background(), h.Env.Config, h.Env.DB)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(context.Background(), s, q, 5)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// Section ranking is checked on the PostgreSQL index, the embedded default.
// On Qdrant it depends on the embedding model: with the offline hashing
// embedder (lexical, not semantic) "where do I park" and "quiet hours" rank
// the amenities and the general policy first, so only isolation is asserted
// there, plus the behavioural suite in lib/retrieval/qdrant.
func TestJordanFindsTheRightSection(t *testing.T) { testJordan(t, start(t)) }

func testJordan(t *testing.T, h *faastest.Harness) {
	seedAll(t, h, seed.Jordan...)
	seedAll(t, h, seed.Sam...)
	runPending(t, h)
	h.Post(t, nil, nil) // knowledge
	tests := []struct {
		query, section, contains string
	}{
		{"What time is check-in?", "access", "3:00 PM"},
		{"wifi password", "private", "sea-breeze-2025"},
		{"where do I park", "access", "space 12"},
		{"quiet hours", "house_rules", "10 PM to 8 AM"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hits := search(t, h, jordanScope, tt.query)
			if len(hits) == 0 {
				t.Fatal("no hits")
			}
			top := hits[0]
			if top.Owner.ListingID != jordanListing || top.Section != tt.section || !strings.Contains(top.Text, tt.contains) {
				var got []string
				for _, x := range hits {
					got = append(got, fmt.Sprintf("%s(%.3f)", x.ID, x.Score))
				}
				t.Fatalf("top hit %s (%s), want section %s of Jordan's listing containing %q; hits %v", top.ID, top.Section, tt.section, tt.contains, got)
			}
		})
	}
	// The reservation's facts and the call are Jordan's to find.
	if hits := search(t, h, jordanScope, "planned arrival party size"); len(hits) == 0 || hits[0].Kind != "reservation" || !strings.Contains(hits[0].Text, "13:00") {
		t.Errorf("reservation facts: %+v", hits)
	}
	if hits := search(t, h, jordanScope, "early check-in phone call"); !hasKind(hits, "call") {
		t.Errorf("call history not found: %+v", hits)
	}
}

func hasKind(hits []retrieval.Hit, kind string) bool {
	for _, h := range hits {
		if h.Kind == kind {
			return true
		}
	}
	return false
}

func TestGuestsNeverSeeEachOther(t *testing.T) { indexes(t, testIsolation) }

func testIsolation(t *testing.T, h *faastest.Harness) {
	seedAll(t, h, seed.Jordan...)
	seedAll(t, h, seed.Sam...)
	runPending(t, h)
	h.Post(t, nil, nil)
	queries := []string{
		"What time is check-in?", "wifi password", "where do I park", "quiet hours", "door code", "address",
		"hot tub", "lockbox code", "pine-needle-77", "sea-breeze-2025", "HarborLoft-Guest", "CedarCabin-Guest",
		"reservation", "HMK7M2Q9XA", "CDR4P8L2QZ", "Jordan Avery", "Sam Rivera", "call voicemail", "Riley Chen",
		"pets", "refund", "parking driveway", "space 12",
	}
	for _, q := range queries {
		for _, c := range []struct {
			name  string
			scope retrieval.Scope
			other []string
		}{
			{"jordan", jordanScope, []string{sam, samListing, samRes}},
			{"sam", samScope, []string{jordan, jordanListing, jordanRes}},
			{"nobody", retrieval.Scope{}, nil},
		} {
			for _, hit := range search(t, h, c.scope, q) {
				o := hit.Owner
				if c.name == "nobody" && !o.Global {
					t.Errorf("empty scope found %s for %q", hit.ID, q)
				}
				for _, id := range c.other {
					if o.GuestID == id || o.ListingID == id || o.ReservationID == id || strings.Contains(hit.Text, "pine-needle") && c.name == "jordan" || strings.Contains(hit.Text, "sea-breeze") && c.name == "sam" {
						t.Errorf("%s asked %q and got %s owned by %+v", c.name, q, hit.ID, o)
					}
				}
			}
		}
	}
}

func documentsState(t *testing.T, h *faastest.Harness) string {
	t.Helper()
	var s string
	if err := h.DB.Pool.QueryRow(context.Background(), "SELECT string_agg(id || '=' || hash || '@' || indexed_at::text, ',' ORDER BY id) FROM documents").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIdempotentAndUpToDate(t *testing.T) {
	h := start(t)
	seedAll(t, h, seed.Jordan...)
	runPending(t, h)
	before := documentsState(t, h)
	chunksBefore := dbtest.Count(t, h.DB.Pool, "chunks", "")

	// Vectorizing unchanged records again writes nothing.
	if _, err := h.DB.Pool.Exec(context.Background(), "UPDATE jobs SET status = 'pending' WHERE kind = 'vectorize'"); err != nil {
		t.Fatal(err)
	}
	for _, body := range runPending(t, h) {
		if !strings.Contains(body, `"indexed":0`) || !strings.Contains(body, `"removed":0`) {
			t.Errorf("second run wrote: %s", body)
		}
	}
	if after := documentsState(t, h); after != before || dbtest.Count(t, h.DB.Pool, "chunks", "") != chunksBefore {
		t.Error("documents changed on an unchanged re-run")
	}

	// A changed listing replaces its chunks.
	if _, err := h.DB.Pool.Exec(context.Background(), `UPDATE listings SET raw = jsonb_set(raw, '{publicDescription,houseRules}', '"Quiet hours 11 PM to 7 AM. No smoking."')`); err != nil {
		t.Fatal(err)
	}
	enqueue(t, h, "listing:"+jordanListing)
	runPending(t, h)
	hits := search(t, h, jordanScope, "quiet hours")
	if len(hits) == 0 || !strings.Contains(hits[0].Text, "11 PM to 7 AM") {
		t.Fatalf("changed house rules not indexed: %+v", hits)
	}
	if n := dbtest.Count(t, h.DB.Pool, "chunks", "body LIKE '%10 PM to 8 AM%'"); n != 0 {
		t.Errorf("old house rules still indexed (%d chunks)", n)
	}

	// A cancelled reservation is no longer retrievable.
	seedAll(t, h, "local/guesty.reservation.updated.v2.json")
	runPending(t, h)
	if hits := search(t, h, jordanScope, "HMK7M2Q9XA reservation planned arrival"); hasKind(hits, "reservation") {
		t.Errorf("cancelled reservation still found: %+v", hits)
	}
	// A removed listing takes its sections with it.
	seedAll(t, h, "local/guesty.listing.removed.json")
	runPending(t, h)
	if n := dbtest.Count(t, h.DB.Pool, "chunks", "listing_id = $1 AND guest_id IS NULL", jordanListing); n != 0 {
		t.Errorf("removed listing still has %d chunks", n)
	}
}

func enqueue(t *testing.T, h *faastest.Harness, subject string) {
	t.Helper()
	if _, err := h.DB.Pool.Exec(context.Background(), "INSERT INTO jobs (kind, function, subject) VALUES ('vectorize', 'vectorize', $1)", subject); err != nil {
		t.Fatal(err)
	}
}

func TestJobLifecycle(t *testing.T) {
	h := start(t)
	seedAll(t, h, "guesty/listing.updated.json")
	var id string
	if err := h.DB.Pool.QueryRow(context.Background(), "SELECT id::text FROM jobs WHERE kind = 'vectorize'").Scan(&id); err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"job_id":"` + id + `","kind":"vectorize","subject":"listing:` + jordanListing + `"}`)
	if code, body := h.PostJob(t, msg, nil); code != 200 || !strings.Contains(body, `"done"`) {
		t.Fatalf("first invocation: %d %s", code, body)
	}
	if code, body := h.PostJob(t, msg, nil); code != 200 || !strings.Contains(body, "skipped") {
		t.Fatalf("repeated invocation: %d %s", code, body)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "id = $1 AND status = 'done' AND attempts = 1", id); n != 1 {
		t.Error("job not done after one attempt")
	}
	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"job_id":"not-a-uuid","kind":"vectorize","subject":"x"}`, 400},
		{`{"kind":"vectorize"}`, 400},
		{`{"job_id":"00000000-0000-0000-0000-000000000000","kind":"vectorize","subject":"listing:x"}`, 404},
	} {
		if code, body := h.PostJob(t, []byte(bad.body), nil); code != bad.want {
			t.Errorf("%s: %d %s, want %d", bad.body, code, body, bad.want)
		}
	}
	// A subject that cannot be vectorized fails for good, with its error kept.
	enqueue(t, h, "spaceship:1")
	var bad string
	_ = h.DB.Pool.QueryRow(context.Background(), "SELECT id::text FROM jobs WHERE subject = 'spaceship:1'").Scan(&bad)
	if code, _ := h.PostJob(t, []byte(`{"job_id":"`+bad+`","kind":"vectorize","subject":"spaceship:1"}`), nil); code != 400 {
		t.Errorf("unknown subject: %d", code)
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "id = $1 AND status = 'failed' AND last_error LIKE '%unknown subject%'", bad); n != 1 {
		t.Error("permanent failure not recorded")
	}
}

func TestKnowledgeOnCron(t *testing.T) {
	h := start(t)
	code, body := h.Post(t, nil, nil)
	if code != 200 || strings.Contains(body, `"indexed":0`) {
		t.Fatalf("knowledge sync: %d %s", code, body)
	}
	if code, body := h.Post(t, nil, nil); code != 200 || !strings.Contains(body, `"indexed":0`) {
		t.Fatalf("unchanged knowledge re-indexed: %s", body)
	}
	hits := search(t, h, retrieval.Scope{}, "can I bring my dog")
	if len(hits) == 0 || hits[0].Section != "pets" {
		t.Fatalf("knowledge search: %+v", hits)
	}
}
