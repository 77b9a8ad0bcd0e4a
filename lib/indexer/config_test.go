package indexer

import (
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/fusion"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
)

// Without QDRANT_URL the index is PostgreSQL full text; with it, full text
// and Qdrant fused, and a search Qdrant fails is answered from full text and
// recorded as an incident the operator's metrics show.
func TestOpenIndexChoosesAndRecordsDegradedSearches(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	cfgWith := func(vars map[string]string) *config.Config {
		m := map[string]string{"SECRETS_DIR": t.TempDir()}
		for k, v := range vars {
			m[k] = v
		}
		return config.New(config.FromMap(m))
	}

	idx, err := OpenIndex(ctx, cfgWith(nil), d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.(*pgindex.Index); !ok {
		t.Fatalf("without QDRANT_URL: %T, want the PostgreSQL full-text index", idx)
	}

	srv := qdranttest.StartServer(t)
	idx, err = OpenIndex(ctx, cfgWith(map[string]string{"QDRANT_URL": "http://" + srv.Addr}), d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	fused, ok := idx.(*fusion.Index)
	if !ok {
		t.Fatalf("with QDRANT_URL: %T, want the fused index", idx)
	}
	t.Cleanup(func() { _ = fused.Close() })
	chunk := retrieval.Chunk{ID: "listing:L#0", DocumentID: "listing:L", Kind: "listing", Section: "access", Title: "Loft",
		Text: "Parking: two free spaces on the gravel drive.", Owner: retrieval.Owner{ListingID: "L"}}
	if err := fused.Replace(ctx, "listing:L", []retrieval.Chunk{chunk}); err != nil {
		t.Fatal(err)
	}
	if n := dbtest.Count(t, d.Pool, "chunks", "document_id = 'listing:L'"); n != 1 {
		t.Fatalf("the fused index wrote %d chunks to PostgreSQL", n)
	}
	srv.FailNext(qc.Points_Query_FullMethodName, status.Error(codes.Unavailable, "down"))
	hits, err := fused.Search(ctx, retrieval.Scope{ListingIDs: []string{"L"}}, "parking", 5)
	if err != nil || len(hits) != 1 {
		t.Fatalf("search with Qdrant down: %v %v", hits, err)
	}
	list, err := incidents.List(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Provider != "qdrant" || list[0].Setting != "QDRANT_URL" || list[0].Code != codeSearchDegraded || list[0].Count != 1 {
		t.Fatalf("incidents after a degraded search: %+v", list)
	}
}

// Qdrant unreachable while the function starts: it starts on full text and
// connects on a later use; a refusal (wrong key, another model's
// collection) still fails the start, where the operator sees it.
func TestOpenIndexWhenQdrantIsDownAtStart(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	srv := qdranttest.StartServer(t)
	cfg := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "QDRANT_URL": "http://" + srv.Addr}))

	srv.FailNext(qc.Collections_CollectionExists_FullMethodName, status.Error(codes.PermissionDenied, "bad key"))
	if _, err := OpenIndex(ctx, cfg, d.Pool); err == nil {
		t.Fatal("a refused Qdrant started")
	}

	srv.FailNext(qc.Collections_CollectionExists_FullMethodName, status.Error(codes.Unavailable, "down"))
	idx, err := OpenIndex(ctx, cfg, d.Pool)
	if err != nil {
		t.Fatalf("Qdrant down at start: %v, want a start on full text", err)
	}
	fused := idx.(*fusion.Index)
	t.Cleanup(func() { _ = fused.Close() })
	// The first use connects: the write reaches Qdrant, the search fuses.
	chunk := retrieval.Chunk{ID: "listing:L#0", DocumentID: "listing:L", Kind: "listing", Section: "access", Title: "Loft",
		Text: "Parking: two free spaces on the gravel drive.", Owner: retrieval.Owner{ListingID: "L"}}
	if err := fused.Replace(ctx, "listing:L", []retrieval.Chunk{chunk}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(qc.Points_Upsert_FullMethodName); n != 1 {
		t.Errorf("Qdrant upserts after connecting: %d", n)
	}
	hits, err := fused.Search(ctx, retrieval.Scope{ListingIDs: []string{"L"}}, "parking", 5)
	if err != nil || len(hits) != 1 || fused.Degraded() != 0 || srv.Calls(qc.Points_Query_FullMethodName) != 1 {
		t.Fatalf("search after connecting: %v %v, degraded %d, queries %d", hits, err, fused.Degraded(), srv.Calls(qc.Points_Query_FullMethodName))
	}
}
