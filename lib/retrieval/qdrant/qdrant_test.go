package qdrant

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
	"github.com/harborstays/concierge/lib/retrieval/retrievaltest"
)

// dial connects to a qdranttest server through Dial, as production does.
func dial(t *testing.T, addr string) *qc.Client {
	t.Helper()
	client, err := Dial("http://"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func open(t *testing.T, srv *qdranttest.Server, emb Embedder) *Index {
	t.Helper()
	idx, err := New(t.Context(), dial(t, srv.Addr), emb, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestSuite(t *testing.T) {
	retrievaltest.Run(t, func(t *testing.T) retrieval.Index {
		return open(t, qdranttest.StartServer(t), embed.NewHashing(0))
	})
}

// TestScopeFilterIsVisible checks the filter against Scope.Visible over
// every combination of scope keys: each owner shape is a point, each scope
// a scroll with the filter alone (no vector ranking, no post-check).
func TestScopeFilterIsVisible(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(8))
	ctx := t.Context()

	var all []retrieval.Chunk
	var pts []*qc.PointStruct
	for _, global := range []bool{false, true} {
		for _, guest := range []string{"", "g1", "g2"} {
			for _, listing := range []string{"", "l1", "l2"} {
				for _, res := range []string{"", "r1", "r2"} {
					for _, restricted := range []bool{false, true} {
						for _, team := range []bool{false, true} {
							o := retrieval.Owner{Global: global, GuestID: guest, ListingID: listing, ReservationID: res}
							c := retrieval.Chunk{ID: fmt.Sprintf("d#%d", len(all)), DocumentID: "d", Owner: o, Restricted: restricted, TeamOnly: team}
							all = append(all, c)
							pts = append(pts, &qc.PointStruct{Id: qc.NewIDNum(uint64(len(all) - 1)), Vectors: qc.NewVectorsDense([]float32{1, 0, 0, 0, 0, 0, 0, 0}), Payload: payload(c)})
						}
					}
				}
			}
		}
	}
	if _, err := idx.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: idx.collection, Wait: qc.PtrOf(true), Points: pts}); err != nil {
		t.Fatal(err)
	}
	subsets := func(xs ...string) [][]string {
		return [][]string{nil, {xs[0]}, {xs[1]}, {xs[0], xs[1]}, {""}, {"", xs[0]}}
	}
	n := 0
	for _, guest := range []string{"", "g1", "g2"} {
		for _, listings := range subsets("l1", "l2") {
			for _, reservations := range subsets("r1", "r2") {
				for _, restricted := range []bool{false, true} {
					for _, team := range []bool{false, true} {
						scope := retrieval.Scope{GuestID: guest, ListingIDs: listings, ReservationIDs: reservations, Restricted: restricted, Team: team}
						got, err := idx.client.Scroll(ctx, &qc.ScrollPoints{CollectionName: idx.collection, Filter: scopeFilter(scope), Limit: qc.PtrOf(uint32(len(all) + 1))})
						if err != nil {
							t.Fatal(err)
						}
						seen := map[uint64]bool{}
						for _, p := range got {
							seen[p.GetId().GetNum()] = true
						}
						for i, c := range all {
							if want := scope.Visible(c); seen[uint64(i)] != want {
								t.Errorf("scope %+v, owner %+v restricted=%v team_only=%v: filter says %v, Visible says %v", scope, c.Owner, c.Restricted, c.TeamOnly, seen[uint64(i)], want)
							}
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d scopes x %d owners agree", n, len(all))
}

func TestEmptyScopeFilterIsGlobalOnly(t *testing.T) {
	// global = true, restricted = false, not team_only = true.
	f := scopeFilter(retrieval.Scope{})
	if len(f.GetShould()) != 1 || len(f.GetMust()) != 1 || len(f.GetMustNot()) != 1 {
		t.Errorf("empty scope filter: %v", f)
	}
}

func count(t *testing.T, idx *Index, docID string) int {
	t.Helper()
	n, err := idx.client.Count(t.Context(), &qc.CountPoints{
		CollectionName: idx.collection,
		Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(keyDocumentID, docID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func chunks(docID string, texts ...string) []retrieval.Chunk {
	out := make([]retrieval.Chunk, len(texts))
	for i, text := range texts {
		out[i] = retrieval.Chunk{ID: fmt.Sprintf("%s#%d", docID, i), DocumentID: docID, Kind: "listing", Section: "s", Title: "Loft", Text: text, Owner: retrieval.Owner{ListingID: "l1"}}
	}
	return out
}

func TestReplaceNeverLeavesADocumentEmpty(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	ctx := t.Context()
	scope := retrieval.Scope{ListingIDs: []string{"l1"}}
	if err := idx.Replace(ctx, "listing:l1", chunks("listing:l1", "quiet hours from 10 pm", "parking on the drive", "hot tub on the terrace")); err != nil {
		t.Fatal(err)
	}

	// The stale-chunk delete fails, as if the process died after the
	// upsert: the document keeps its new chunks and some extras.
	srv.FailNext(qc.Points_Delete_FullMethodName, status.Error(codes.Unavailable, "connection reset"))
	err := idx.Replace(ctx, "listing:l1", chunks("listing:l1", "quiet hours from 11 pm"))
	if err == nil || fault.KindOf(err) != fault.Unavailable || !fault.Retryable(err) {
		t.Fatalf("failed delete: want a retryable Unavailable error, got %v", err)
	}
	if n := count(t, idx, "listing:l1"); n != 3 {
		t.Errorf("after the failed step: %d points, want the new one and 2 extras", n)
	}
	hits, err := idx.Search(ctx, scope, "quiet hours", 1)
	if err != nil || len(hits) != 1 || hits[0].Text != "quiet hours from 11 pm" {
		t.Errorf("after the failed step, the new chunk answers: %v %v", hits, err)
	}

	// The retry finishes the job.
	if err := idx.Replace(ctx, "listing:l1", chunks("listing:l1", "quiet hours from 11 pm")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, idx, "listing:l1"); n != 1 {
		t.Errorf("after the retry: %d points, want 1", n)
	}
	// The order of calls is upsert then delete.
	if up, del := srv.Calls(qc.Points_Upsert_FullMethodName), srv.Calls(qc.Points_Delete_FullMethodName); up != 3 || del != 3 {
		t.Errorf("calls: %d upserts, %d deletes", up, del)
	}
}

func TestUpsertFailureKeepsOldChunks(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	ctx := t.Context()
	old := chunks("listing:l1", "quiet hours from 10 pm", "parking on the drive")
	if err := idx.Replace(ctx, "listing:l1", old); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(qc.Points_Upsert_FullMethodName, status.Error(codes.InvalidArgument, "Wrong input"))
	err := idx.Replace(ctx, "listing:l1", chunks("listing:l1", "new text"))
	if fault.KindOf(err) != fault.Permanent {
		t.Fatalf("refused upsert: want Permanent, got %v", err)
	}
	hits, err := idx.Search(ctx, retrieval.Scope{ListingIDs: []string{"l1"}}, "parking", 5)
	if err != nil || len(hits) != 2 {
		t.Errorf("old chunks must stay when the upsert fails: %v %v", hits, err)
	}
}

func TestManyChunksAreBatched(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	texts := make([]string, 2*upsertBatch+5)
	for i := range texts {
		texts[i] = fmt.Sprintf("paragraph %d of the house manual", i)
	}
	before := srv.Calls(qc.Points_Upsert_FullMethodName)
	if err := idx.Replace(t.Context(), "manual", chunks("manual", texts...)); err != nil {
		t.Fatal(err)
	}
	if calls := srv.Calls(qc.Points_Upsert_FullMethodName) - before; calls != 3 {
		t.Errorf("%d chunks: %d upserts, want 3", len(texts), calls)
	}
	if n := count(t, idx, "manual"); n != len(texts) {
		t.Errorf("%d points, want %d", n, len(texts))
	}
	if err := idx.Replace(t.Context(), "manual", chunks("manual", texts[:3]...)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, idx, "manual"); n != 3 {
		t.Errorf("after shrinking: %d points, want 3", n)
	}
}

func TestPointID(t *testing.T) {
	uuidV5 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := PointID("listing:l1", "listing:l1#0")
	if !uuidV5.MatchString(a) {
		t.Errorf("not a UUIDv5: %s", a)
	}
	// Golden: the ids are stored, so the derivation must never change.
	// (Computed independently with Python's hashlib over the same bytes.)
	if a != "2d03db6a-a13f-5e77-9a02-fe6f2ee44f89" {
		t.Errorf("PointID(listing:l1, listing:l1#0) = %s: the derivation changed", a)
	}
	if PointID("listing:l1", "listing:l1#0") != a {
		t.Error("not deterministic")
	}
	distinct := map[string]bool{
		a:                                     true,
		PointID("listing:l1", "listing:l1#1"): true,
		PointID("listing:l2", "listing:l1#0"): true,
		PointID("listing:l", "1listing:l1#0"): true,
	}
	if len(distinct) != 4 {
		t.Errorf("ids collide: %v", distinct)
	}
}

func TestReplaceValidates(t *testing.T) {
	idx := open(t, qdranttest.StartServer(t), embed.NewHashing(0))
	tests := map[string]struct {
		doc    string
		chunks []retrieval.Chunk
	}{
		"no document id":   {"", chunks("x", "a")},
		"chunk without id": {"d", []retrieval.Chunk{{DocumentID: "d", Text: "a"}}},
		"duplicate ids":    {"d", append(chunks("d", "a"), chunks("d", "b")...)},
		"other document":   {"d", chunks("e", "a")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := idx.Replace(t.Context(), tt.doc, tt.chunks); fault.KindOf(err) != fault.Invalid {
				t.Errorf("want Invalid, got %v", err)
			}
		})
	}
}

// zeroDims hides the size until the first call, like an embeddings API
// without EMBEDDINGS_DIMENSIONS.
type zeroDims struct {
	*embed.Hashing
	probes int
}

func (z *zeroDims) Dimensions() int { return 0 }

func (z *zeroDims) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	z.probes++
	return z.Hashing.Embed(ctx, texts)
}

func TestBootstrap(t *testing.T) {
	srv := qdranttest.StartServer(t)
	client := dial(t, srv.Addr)
	ctx := t.Context()

	z := &zeroDims{Hashing: embed.NewHashing(64)}
	if _, err := New(ctx, client, z, "kb"); err != nil {
		t.Fatal(err)
	}
	if z.probes != 1 {
		t.Errorf("unknown size: %d probe calls, want 1", z.probes)
	}
	info, err := client.GetCollectionInfo(ctx, "kb")
	if err != nil {
		t.Fatal(err)
	}
	if size := info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize(); size != 64 {
		t.Errorf("vector size %d, want 64", size)
	}
	for _, pi := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[pi.key]; !ok {
			t.Errorf("no payload index on %s", pi.key)
		}
	}
	if m := info.GetConfig().GetMetadata()[metadataModel].GetStringValue(); m != "hashing-v1-64" {
		t.Errorf("embedder recorded as %q", m)
	}

	// Opening again changes nothing.
	creates := srv.Calls(qc.Collections_Create_FullMethodName)
	indexes := srv.Calls(qc.Points_CreateFieldIndex_FullMethodName)
	if _, err := New(ctx, client, embed.NewHashing(64), "kb"); err != nil {
		t.Fatal(err)
	}
	if srv.Calls(qc.Collections_Create_FullMethodName) != creates || srv.Calls(qc.Points_CreateFieldIndex_FullMethodName) != indexes {
		t.Error("a second New re-created the collection or its indexes")
	}

	// Another size or another model is refused with a hint.
	_, err = New(ctx, client, embed.NewHashing(32), "kb")
	if fault.KindOf(err) != fault.Permanent || !strings.Contains(err.Error(), "QDRANT_COLLECTION") {
		t.Errorf("other size: %v", err)
	}
	_, err = New(ctx, client, named{embed.NewHashing(64), "nomic-embed-text"}, "kb")
	if fault.KindOf(err) != fault.Permanent || !strings.Contains(err.Error(), "nomic-embed-text") {
		t.Errorf("other model: %v", err)
	}
}

type named struct {
	*embed.Hashing
	model string
}

func (n named) Model() string { return n.model }

func TestBootstrapRace(t *testing.T) {
	// Another replica creates the collection between our check and our
	// create: that is success.
	srv := qdranttest.StartServer(t)
	srv.FailNext(qc.Collections_Create_FullMethodName, status.Error(codes.AlreadyExists, "Collection `chunks` already exists!"))
	client := dial(t, srv.Addr)
	emb := embed.NewHashing(0)
	// Create it for real first, as the other replica did.
	if err := client.CreateCollection(t.Context(), &qc.CreateCollection{CollectionName: "chunks", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(emb.Dimensions()), Distance: qc.Distance_Cosine})}); err == nil {
		t.Fatal("the injected failure did not happen")
	}
	if err := client.CreateCollection(t.Context(), &qc.CreateCollection{CollectionName: "chunks", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(emb.Dimensions()), Distance: qc.Distance_Cosine})}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), client, emb, "chunks"); err != nil {
		t.Fatal(err)
	}
}

func TestErrorKinds(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	tests := []struct {
		code codes.Code
		want fault.Kind
	}{
		{codes.Unavailable, fault.Unavailable},
		{codes.DeadlineExceeded, fault.Unavailable},
		{codes.ResourceExhausted, fault.Unavailable},
		{codes.Internal, fault.Unavailable},
		{codes.InvalidArgument, fault.Permanent},
		{codes.NotFound, fault.Permanent},
		{codes.Unauthenticated, fault.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			srv.FailNext(qc.Points_Query_FullMethodName, status.Error(tt.code, "injected"))
			_, err := idx.Search(t.Context(), retrieval.Scope{}, "pets", 3)
			if got := fault.KindOf(err); got != tt.want {
				t.Errorf("%s: kind %s, want %s (%v)", tt.code, got, tt.want, err)
			}
			if status.Code(err) != tt.code {
				t.Errorf("the gRPC status is lost: %v", err)
			}
		})
	}
	// Qdrant unreachable at start.
	client, err := Dial("http://127.0.0.1:1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := New(t.Context(), client, embed.NewHashing(0), "x"); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestSearchEdges(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	ctx := t.Context()
	if err := idx.Replace(ctx, "k", []retrieval.Chunk{{ID: "k#0", Text: "pets are welcome", Owner: retrieval.Owner{Global: true}}}); err != nil {
		t.Fatal(err)
	}
	before := srv.Calls(qc.Points_Query_FullMethodName)
	for _, q := range []string{"", "  ", "?!"} {
		hits, err := idx.Search(ctx, retrieval.Scope{}, q, 5)
		if err != nil || len(hits) != 0 {
			t.Errorf("%q: %v %v", q, hits, err)
		}
	}
	if hits, err := idx.Search(ctx, retrieval.Scope{}, "pets", 0); err != nil || len(hits) != 0 {
		t.Errorf("limit 0: %v %v", hits, err)
	}
	if srv.Calls(qc.Points_Query_FullMethodName) != before {
		t.Error("blank queries reached Qdrant")
	}
	// An empty DocumentID in a chunk takes the document's.
	hits, err := idx.Search(ctx, retrieval.Scope{}, "pets", 5)
	if err != nil || len(hits) != 1 || hits[0].DocumentID != "k" {
		t.Errorf("document id filled in: %v %v", hits, err)
	}
}

// TestMissingFlagFailsClosed: a point written without the restricted flag
// (by hand, or by an older writer) is treated as restricted.
func TestMissingFlagFailsClosed(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	ctx := t.Context()
	p := payload(retrieval.Chunk{ID: "x#0", DocumentID: "x", Text: "wifi password hunter2", Owner: retrieval.Owner{Global: true}})
	delete(p, keyRestricted)
	vec := embed.NewHashing(0).Vector("wifi password hunter2")
	if _, err := idx.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: idx.collection, Wait: qc.PtrOf(true), Points: []*qc.PointStruct{{Id: qc.NewID(PointID("x", "x#0")), Vectors: qc.NewVectorsDense(vec), Payload: p}}}); err != nil {
		t.Fatal(err)
	}
	hits, err := idx.Search(ctx, retrieval.Scope{}, "wifi password", 5)
	if err != nil || len(hits) != 0 {
		t.Errorf("a point without the restricted flag was returned to an unrestricted scope: %v %v", hits, err)
	}
	hits, err = idx.Search(ctx, retrieval.Scope{Restricted: true}, "wifi password", 5)
	if err != nil || len(hits) != 1 || !hits[0].Restricted {
		t.Errorf("restricted scope: want the point, marked restricted: %v %v", hits, err)
	}
}

// TestTeamOnlyPayload: a point written before audiences existed (no
// team_only) is the guest content it always was, as the PostgreSQL column's
// default says; one whose team_only is not a boolean is not ours to guess
// and stays away from guests even though the filter lets it through.
func TestTeamOnlyPayload(t *testing.T) {
	srv := qdranttest.StartServer(t)
	idx := open(t, srv, embed.NewHashing(0))
	ctx := t.Context()
	put := func(doc string, text string, teamOnly *qc.Value) {
		t.Helper()
		p := payload(retrieval.Chunk{ID: doc + "#0", DocumentID: doc, Text: text, Owner: retrieval.Owner{GuestID: "g1"}})
		delete(p, keyTeamOnly)
		if teamOnly != nil {
			p[keyTeamOnly] = teamOnly
		}
		vec := embed.NewHashing(0).Vector(text)
		if _, err := idx.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: idx.collection, Wait: qc.PtrOf(true), Points: []*qc.PointStruct{{Id: qc.NewID(PointID(doc, doc+"#0")), Vectors: qc.NewVectorsDense(vec), Payload: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("legacy", "parking behind the bakery", nil)
	put("odd", "parking behind the bakery odd", qc.NewValueString("yes"))
	put("notes", "parking behind the bakery notes", qc.NewValueBool(true))

	guest := retrieval.Scope{GuestID: "g1"}
	hits, err := idx.Search(ctx, guest, "parking behind the bakery", 5)
	if err != nil || len(hits) != 1 || hits[0].DocumentID != "legacy" || hits[0].TeamOnly {
		t.Errorf("guest: want the legacy point alone, as guest content: %+v %v", hits, err)
	}
	team := retrieval.Scope{GuestID: "g1", Team: true}
	hits, err = idx.Search(ctx, team, "parking behind the bakery", 5)
	if err != nil || len(hits) != 3 {
		t.Fatalf("team: want all three: %+v %v", hits, err)
	}
	for _, h := range hits {
		if h.TeamOnly != (h.DocumentID != "legacy") {
			t.Errorf("team: %s read as team_only=%v", h.DocumentID, h.TeamOnly)
		}
	}
}

func TestDial(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://localhost", true},
		{"http://qdrant:6334", true},
		{"https://xyz.eu-central.aws.cloud.qdrant.io:6334", true},
		{"http://qdrant:6333", false},
		{"qdrant:6334", false},
		{"ftp://qdrant", false},
		{"http://:6334", false},
		{"http://qdrant:port", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := Dial(tt.url, "secret-key-123")
			if (err == nil) != tt.ok {
				t.Fatalf("Dial(%q): %v", tt.url, err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "secret-key-123") {
					t.Errorf("error shows the key: %v", err)
				}
				return
			}
			_ = c.Close()
		})
	}
}

func TestFromConfig(t *testing.T) {
	addr := qdranttest.Start(t)
	c := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "QDRANT_URL": "http://" + addr, "QDRANT_COLLECTION": "from_config"}))
	idx, err := FromConfig(t.Context(), c, embed.NewHashing(0))
	if err != nil {
		t.Fatal(err)
	}
	if idx.Collection() != "from_config" {
		t.Errorf("collection %q", idx.Collection())
	}
	if err := idx.Replace(t.Context(), "k", chunks("k", "sauna")); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Error(err)
	}

	c = config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir()}))
	_, err = FromConfig(t.Context(), c, embed.NewHashing(0))
	if err == nil || !strings.Contains(err.Error(), "QDRANT_URL") {
		t.Errorf("missing URL: %v", err)
	}
	c = config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "QDRANT_URL": "qdrant:6334"}))
	if _, err = FromConfig(t.Context(), c, embed.NewHashing(0)); err == nil {
		t.Error("bad URL accepted")
	}
}
