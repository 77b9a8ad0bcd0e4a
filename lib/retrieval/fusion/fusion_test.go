package fusion_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/fusion"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
	"github.com/harborstays/concierge/lib/retrieval/retrievaltest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// rig is a fused index on a real PostgreSQL and an in-process Qdrant.
type rig struct {
	idx  *fusion.Index
	text *pgindex.Index
	qd   *qdrant.Index
	srv  *qdranttest.Server
	d    *dbtest.DB
	// degraded records what OnDegraded was told.
	degraded []error
}

func open(t *testing.T, emb qdrant.Embedder, o fusion.Options) *rig {
	t.Helper()
	r := &rig{d: dbtest.New(t), srv: qdranttest.StartServer(t)}
	client, err := qdrant.Dial("http://"+r.srv.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	r.qd, err = qdrant.New(t.Context(), client, emb, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	r.text = pgindex.New(r.d.Pool)
	o.OnDegraded = func(_ context.Context, err error) { r.degraded = append(r.degraded, err) }
	r.idx = fusion.New(r.text, r.qd, o)
	return r
}

// The behavioural suite every index passes, the truth table and scope
// isolation included, on the fused index.
func TestSuite(t *testing.T) {
	retrievaltest.Run(t, func(t *testing.T) retrieval.Index {
		r := open(t, embed.NewHashing(0), fusion.Options{})
		t.Cleanup(func() {
			if n := r.idx.Degraded(); n != 0 {
				t.Errorf("the suite degraded %d searches: %v", n, r.degraded)
			}
		})
		return r.idx
	})
}

// ranked is a stand-in for one side whose ranking the test writes.
type ranked struct{ hits []retrieval.Hit }

func (r *ranked) Replace(context.Context, string, []retrieval.Chunk) error { return nil }
func (r *ranked) Delete(context.Context, string) error                     { return nil }
func (r *ranked) Search(_ context.Context, _ retrieval.Scope, _ string, limit int) ([]retrieval.Hit, error) {
	return r.hits[:min(limit, len(r.hits))], nil
}

func hits(ids ...string) []retrieval.Hit {
	out := make([]retrieval.Hit, len(ids))
	for i, id := range ids {
		out[i] = retrieval.Hit{Chunk: retrieval.Chunk{ID: id, DocumentID: "d", Owner: retrieval.Owner{Global: true}}, Score: float64(100 - i)}
	}
	return out
}

// Reciprocal rank fusion by hand: score = sum of 1/(60 + rank).
func TestRRF(t *testing.T) {
	text := &ranked{hits(
		"a", "b", "c", "e")}
	dense := &ranked{hits(
		"c", "a", "d", "f")}
	x := fusion.New(text, dense, fusion.Options{})
	got, err := x.Search(t.Context(), retrieval.Scope{}, "q", 10)
	if err != nil {
		t.Fatal(err)
	}
	// a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63, e: 1/64 and f: 1/64
	// tie, the full-text one first.
	want := []struct {
		id    string
		score float64
	}{
		{"a", 1.0/61 + 1.0/62}, {"c", 1.0/63 + 1.0/61}, {"b", 1.0 / 62}, {"d", 1.0 / 63}, {"e", 1.0 / 64}, {"f", 1.0 / 64},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d hits %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].ID != w.id || math.Abs(got[i].Score-w.score) > 1e-12 {
			t.Errorf("hit %d: got %s %.6f, want %s %.6f", i, got[i].ID, got[i].Score, w.id, w.score)
		}
	}
	if fusion.K != 60 {
		t.Errorf("K = %d, the literature's constant is 60", fusion.K)
	}
	got, _ = x.Search(t.Context(), retrieval.Scope{}, "q", 2)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "c" {
		t.Errorf("limit 2: %v", got)
	}
}

// Whatever one side returns, a chunk outside the scope never comes back.
func TestOutOfScopeHitDropped(t *testing.T) {
	leak := retrieval.Hit{Chunk: retrieval.Chunk{ID: "res:B#0", DocumentID: "res:B", Owner: retrieval.Owner{GuestID: "B"}}}
	x := fusion.New(&ranked{hits("a")}, &ranked{[]retrieval.Hit{leak}}, fusion.Options{})
	got, err := x.Search(t.Context(), retrieval.Scope{GuestID: "A"}, "q", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "a" {
		t.Errorf("got %v, want only a", got)
	}
}

func listing(text string) []retrieval.Chunk {
	return []retrieval.Chunk{{ID: "listing:L#0", DocumentID: "listing:L", Kind: "listing", Section: "access", Title: "Loft — Access",
		Text: text, Owner: retrieval.Owner{ListingID: "L"}}}
}

var scopeL = retrieval.Scope{ListingIDs: []string{"L"}}

// Qdrant down at search time: the guest gets the full-text answer now, the
// degradation is logged, counted and reported; Qdrant back, fusion resumes.
func TestQdrantDownDegradesToFullText(t *testing.T) {
	r := open(t, embed.NewHashing(0), fusion.Options{})
	ctx := t.Context()
	if err := r.idx.Replace(ctx, "listing:L", listing("Parking: two free spaces on the gravel drive.")); err != nil {
		t.Fatal(err)
	}
	r.srv.FailNext(qc.Points_Query_FullMethodName, status.Error(codes.Unavailable, "connection refused"))
	got, err := r.idx.Search(ctx, scopeL, "where do I park", 5)
	if err != nil {
		t.Fatalf("search with Qdrant down: %v, want the full-text answer", err)
	}
	if len(got) != 1 || got[0].ID != "listing:L#0" {
		t.Fatalf("search with Qdrant down: %v", got)
	}
	if r.idx.Degraded() != 1 || len(r.degraded) != 1 || fault.KindOf(r.degraded[0]) != fault.Unavailable || errors.Is(r.degraded[0], qdrant.ErrEmbed) {
		t.Fatalf("degraded %d, reported %v: want one Qdrant outage", r.idx.Degraded(), r.degraded)
	}
	if r.srv.Calls(qc.Points_Query_FullMethodName) != 1 {
		t.Errorf("Qdrant was asked %d times", r.srv.Calls(qc.Points_Query_FullMethodName))
	}
	// Back up: both sides answer, nothing more is counted.
	if _, err := r.idx.Search(ctx, scopeL, "where do I park", 5); err != nil {
		t.Fatal(err)
	}
	if r.idx.Degraded() != 1 || r.srv.Calls(qc.Points_Query_FullMethodName) != 2 {
		t.Errorf("after recovery: degraded %d, Qdrant queries %d", r.idx.Degraded(), r.srv.Calls(qc.Points_Query_FullMethodName))
	}
}

// embeddingsServer is an OpenAI-compatible /v1/embeddings that embeds with
// the hashing embedder, or answers 503 while failing is set.
func embeddingsServer(t *testing.T, failing *atomic.Bool, calls *atomic.Int64) string {
	h := embed.NewHashing(0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		if req.URL.Path != "/v1/embeddings" || req.Method != http.MethodPost {
			t.Errorf("embeddings: %s %s", req.Method, req.URL.Path)
		}
		if failing.Load() {
			http.Error(w, `{"error":{"message":"upstream overloaded"}}`, http.StatusServiceUnavailable)
			return
		}
		var in struct {
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		out := struct {
			Data []item `json:"data"`
		}{}
		for i, s := range in.Input {
			out.Data = append(out.Data, item{i, h.Vector(s)})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// The embeddings provider answering 5xx: its client retries with back-off,
// but the search does not wait past DenseTimeout; it answers from full text.
// Writes, meanwhile, fail so the job retries: full text is written first,
// the retry writes the vectors once the provider is back.
func TestEmbeddings5xx(t *testing.T) {
	var failing atomic.Bool
	var calls atomic.Int64
	client, err := embed.New(embed.Options{BaseURL: embeddingsServer(t, &failing, &calls), Model: "hashing-over-http", Dimensions: embed.HashingDimensions})
	if err != nil {
		t.Fatal(err)
	}
	const budget = 400 * time.Millisecond
	r := open(t, client, fusion.Options{DenseTimeout: budget})
	ctx := t.Context()
	if err := r.idx.Replace(ctx, "listing:L", listing("Parking: two free spaces on the gravel drive.")); err != nil {
		t.Fatal(err)
	}

	failing.Store(true)
	before := calls.Load()
	start := time.Now()
	got, err := r.idx.Search(ctx, scopeL, "where do I park", 5)
	took := time.Since(start)
	if err != nil || len(got) != 1 || got[0].ID != "listing:L#0" {
		t.Fatalf("search with embeddings failing: %v %v, want the full-text hit", got, err)
	}
	if calls.Load() == before {
		t.Error("the embeddings endpoint was never asked")
	}
	if took > budget+2*time.Second {
		t.Errorf("search took %s with a dense budget of %s", took, budget)
	}
	if r.idx.Degraded() != 1 || len(r.degraded) != 1 || !errors.Is(r.degraded[0], qdrant.ErrEmbed) {
		t.Fatalf("degraded %d, reported %v: want one embeddings failure", r.idx.Degraded(), r.degraded)
	}

	// Replace while the provider fails: an error the job retries, with
	// the new text already searchable by its words.
	next := listing("Parking: the garage under the building, level -1, space 12.")
	wctx, cancel := context.WithTimeout(ctx, budget)
	err = r.idx.Replace(wctx, "listing:L", next)
	cancel()
	if err == nil || !fault.Retryable(err) {
		t.Fatalf("Replace with the embeddings provider down: %v, want a retryable error", err)
	}
	text, err := r.text.Search(ctx, scopeL, "garage", 5)
	if err != nil || len(text) != 1 || text[0].Text != next[0].Text {
		t.Fatalf("full text after the failed Replace: %v %v, want the new text", text, err)
	}
	// The retry, with the provider back, brings the vectors up to date.
	failing.Store(false)
	if err := r.idx.Replace(ctx, "listing:L", next); err != nil {
		t.Fatal(err)
	}
	dense, err := r.qd.Search(ctx, scopeL, "garage", 5)
	if err != nil || len(dense) != 1 || dense[0].Text != next[0].Text {
		t.Fatalf("Qdrant after the retried Replace: %v %v", dense, err)
	}
}

// PostgreSQL failing fails the search (the step retries): full text is the
// floor, never silently skipped.
func TestFullTextFailureFailsTheSearch(t *testing.T) {
	r := open(t, embed.NewHashing(0), fusion.Options{})
	ctx := t.Context()
	if err := r.idx.Replace(ctx, "listing:L", listing("Parking: two free spaces on the gravel drive.")); err != nil {
		t.Fatal(err)
	}
	r.d.Pool.Close()
	got, err := r.idx.Search(ctx, scopeL, "where do I park", 5)
	if err == nil {
		t.Fatalf("search with PostgreSQL closed: %v, want an error", got)
	}
	if r.idx.Degraded() != 0 {
		t.Errorf("a full-text failure counted as a dense degradation")
	}
}

// A caller's cancellation is not an outage of the dense side.
func TestCancelledSearchIsNotDegraded(t *testing.T) {
	r := open(t, embed.NewHashing(0), fusion.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.idx.Search(ctx, scopeL, "where do I park", 5); err == nil {
		t.Error("cancelled search returned no error")
	}
	if r.idx.Degraded() != 0 {
		t.Errorf("cancellation counted as degraded")
	}
}

// Delete reaches both sides even when the first fails, and the failure is
// returned for the job to retry.
func TestDeleteTriesBoth(t *testing.T) {
	r := open(t, embed.NewHashing(0), fusion.Options{})
	ctx := t.Context()
	if err := r.idx.Replace(ctx, "listing:L", listing("Parking: two free spaces on the gravel drive.")); err != nil {
		t.Fatal(err)
	}
	r.srv.FailNext(qc.Points_Delete_FullMethodName, status.Error(codes.Unavailable, "down"))
	if err := r.idx.Delete(ctx, "listing:L"); err == nil || !fault.Retryable(err) {
		t.Fatalf("Delete with Qdrant down: %v, want a retryable error", err)
	}
	if got, _ := r.text.Search(ctx, scopeL, "parking", 5); len(got) != 0 {
		t.Errorf("full text still holds %v after Delete", got)
	}
	if err := r.idx.Delete(ctx, "listing:L"); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.qd.Search(ctx, scopeL, "parking", 5); len(got) != 0 {
		t.Errorf("Qdrant still holds %v after the retried Delete", got)
	}
}

// Each side is asked for more than the limit, so a chunk both rank fourth
// can beat one that only one ranks first.
func TestDepth(t *testing.T) {
	var asked []int
	rec := &recording{asked: &asked}
	x := fusion.New(rec, rec, fusion.Options{})
	for _, limit := range []int{1, 5, 10, 50} {
		if _, err := x.Search(t.Context(), retrieval.Scope{}, "q", limit); err != nil {
			t.Fatal(err)
		}
	}
	want := []int{20, 20, 20, 20, 40, 40, 100, 100}
	slices.Sort(asked)
	if !slices.Equal(asked, want) {
		t.Errorf("depths asked %v, want %v", asked, want)
	}
}

type recording struct {
	mu    sync.Mutex
	asked *[]int
}

func (r *recording) Replace(context.Context, string, []retrieval.Chunk) error { return nil }
func (r *recording) Delete(context.Context, string) error                     { return nil }
func (r *recording) Search(_ context.Context, _ retrieval.Scope, _ string, limit int) ([]retrieval.Hit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.asked = append(*r.asked, limit)
	return nil, nil
}
