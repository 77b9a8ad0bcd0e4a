package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	qc "github.com/qdrant/go-client/qdrant"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/retrieval/fusion"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
)

// Knobs of BenchmarkRetrievalFusion.
const (
	// fusionChunksEnv sets the corpus size (default 100,000, the issue's).
	fusionChunksEnv     = "BENCH_RETRIEVAL_CHUNKS"
	fusionChunksDefault = 100_000
	// fusionSearchesEnv sets the searches per index.
	fusionSearchesEnv     = "BENCH_RETRIEVAL_SEARCHES"
	fusionSearchesDefault = 1000
	// qdrantLoadBatch points per Upsert: ~1.5 MB, under gRPC's 4 MB.
	qdrantLoadBatch = 1000
)

// BenchmarkRetrievalFusion fills PostgreSQL and the in-process Qdrant
// (qdranttest, vectors from the offline hashing embedder, so the run is
// deterministic) with the same chunks, then prints search p50/p95 of the
// fused index (lib/retrieval/fusion: both concurrently, reciprocal rank
// fusion) beside PostgreSQL full text alone, the same scopes and questions,
// measured in the same run. The dense side alone is printed too.
// qdranttest narrows each search by its payload index, as Qdrant does, then
// ranks the scope's points exactly (Qdrant would use HNSW), and runs in
// this process, sharing its CPUs.
func BenchmarkRetrievalFusion(b *testing.B) {
	ctx := context.Background()
	chunks := envInt(b, fusionChunksEnv, fusionChunksDefault)
	runs := envInt(b, fusionSearchesEnv, fusionSearchesDefault)
	listings := min(corpusListings, max(chunks/20, 1))
	d := dbtest.New(b)
	srv := qdranttest.StartServer(b)
	client, err := qdrant.Dial("http://"+srv.Addr, "")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	emb := embed.NewHashing(0)
	dense, err := qdrant.New(ctx, client, emb, "bench")
	if err != nil {
		b.Fatal(err)
	}
	fullText := pgindex.New(d.Pool)

	// The corpus of BenchmarkRetrieval: listings' chunks, a quarter owned
	// by guests, one in fifty global, one in ten restricted.
	r := rand.New(rand.NewPCG(1, 2))
	all := make([]retrieval.Chunk, chunks)
	for i := range all {
		listing := fmt.Sprintf("L%05d", i%listings)
		o := retrieval.Owner{ListingID: listing}
		if i%50 == 0 {
			o.Global = true
		} else if i%4 == 0 {
			g := fmt.Sprintf("G%05d", i%listings)
			o.GuestID, o.ReservationID = g, "R"+g[1:]
		}
		all[i] = retrieval.Chunk{ID: fmt.Sprintf("bench:%d#0", i), DocumentID: fmt.Sprintf("bench:%d", i), Kind: "listing", Section: "s",
			Title: "Section " + listing, Text: text(r), Owner: o, Restricted: i%10 == 0}
	}

	start := time.Now()
	rows := make([][]any, len(all))
	for i, c := range all {
		o := c.Owner
		rows[i] = []any{c.ID, c.DocumentID, c.Kind, c.Section, c.Title, c.Text, o.Global, nullable(o.GuestID), o.ListingID, nullable(o.ReservationID), c.Restricted}
	}
	if _, err := d.Pool.CopyFrom(ctx, pgx.Identifier{"chunks"},
		[]string{"id", "document_id", "kind", "section", "title", "body", "global", "guest_id", "listing_id", "reservation_id", "restricted"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, "ANALYZE chunks"); err != nil {
		b.Fatal(err)
	}
	pgLoad := time.Since(start)

	// Qdrant: the points Replace would write (same ids, payload keys and
	// embedded text), upserted in large batches rather than 100,000
	// Replaces of one chunk each.
	start = time.Now()
	for lo := 0; lo < len(all); lo += qdrantLoadBatch {
		batch := all[lo:min(lo+qdrantLoadBatch, len(all))]
		pts := make([]*qc.PointStruct, len(batch))
		for i, c := range batch {
			pts[i] = &qc.PointStruct{Id: qc.NewIDUUID(qdrant.PointID(c.DocumentID, c.ID)),
				Vectors: qc.NewVectorsDense(emb.Vector(c.Title + "\n\n" + c.Text)), Payload: benchPayload(c)}
		}
		if _, err := client.Upsert(ctx, &qc.UpsertPoints{CollectionName: dense.Collection(), Wait: qc.PtrOf(true), Points: pts}); err != nil {
			b.Fatal(err)
		}
	}
	qdLoad := time.Since(start)

	var degraded []error
	fused := fusion.New(fullText, dense, fusion.Options{OnDegraded: func(_ context.Context, err error) { degraded = append(degraded, err) }})

	scope := func(n int) retrieval.Scope {
		g := fmt.Sprintf("G%05d", n)
		return retrieval.Scope{GuestID: g, ListingIDs: []string{fmt.Sprintf("L%05d", n)}, ReservationIDs: []string{"R" + g[1:]}, Restricted: n%2 == 0}
	}
	// Every index answers the same questions in the same scopes.
	picks := make([]int, runs)
	for i := range picks {
		picks[i] = r.IntN(listings)
	}
	// The dense side must really answer (a payload Qdrant cannot read
	// would leave fusion measuring full text alone).
	if hits, err := dense.Search(ctx, scope(picks[0]), queries[0], 5); err != nil || len(hits) == 0 {
		b.Fatalf("dense side: %d hits, %v", len(hits), err)
	}
	measure := func(idx retrieval.Index) (p50, p95 time.Duration, perSearch float64) {
		lat := make([]time.Duration, runs)
		found := 0
		for i := range lat {
			t := time.Now()
			hits, err := idx.Search(ctx, scope(picks[i]), queries[i%len(queries)], 5)
			lat[i] = time.Since(t)
			if err != nil {
				b.Fatal(err)
			}
			found += len(hits)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2], lat[len(lat)*95/100], float64(found) / float64(runs)
	}
	tp50, tp95, thits := measure(fullText)
	fp50, fp95, fhits := measure(fused)
	dp50, dp95, dhits := measure(dense)

	fmt.Printf("\nRetrieval at %d chunks (%s=%d), %d searches each, top 5; PostgreSQL loaded in %s, qdranttest in %s\n",
		chunks, fusionChunksEnv, chunks, runs, pgLoad.Round(time.Second), qdLoad.Round(time.Second))
	fmt.Printf("%-52s %10s %10s\n", "", "p50", "p95")
	row := func(name string, p50, p95 time.Duration, hits float64) {
		fmt.Printf("%-52s %10s %10s   (%.1f hits per search)\n", name, p50.Round(10*time.Microsecond), p95.Round(10*time.Microsecond), hits)
	}
	row("fused: full text + Qdrant, RRF k=60", fp50, fp95, fhits)
	row("baseline: PostgreSQL full text alone", tp50, tp95, thits)
	row("  (the dense side alone, on qdranttest)", dp50, dp95, dhits)
	if len(degraded) > 0 {
		fmt.Printf("  %d fused searches degraded to full text: %v\n", len(degraded), degraded[0])
	}
	// No target of its own: the figure of note is what fusion adds to the
	// full-text search it replaces.
	fmt.Printf("fusion adds %s at p95 over full text alone (both sides run concurrently; the dense side here is\n",
		(fp95 - tp95).Round(10*time.Microsecond))
	fmt.Printf("qdranttest in this process, with hashing vectors: no network, no embeddings provider)\n")
	b.ReportMetric(float64(fp95.Microseconds())/1000, "fused-p95-ms")
	b.ReportMetric(float64(tp95.Microseconds())/1000, "fulltext-p95-ms")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// benchPayload is the payload qdrant.Index.Replace writes (its package
// comment lists the keys).
func benchPayload(c retrieval.Chunk) map[string]*qc.Value {
	p := map[string]*qc.Value{
		"id": qc.NewValueString(c.ID), "document_id": qc.NewValueString(c.DocumentID), "kind": qc.NewValueString(c.Kind),
		"section": qc.NewValueString(c.Section), "title": qc.NewValueString(c.Title), "text": qc.NewValueString(c.Text),
		"global": qc.NewValueBool(c.Owner.Global), "restricted": qc.NewValueBool(c.Restricted), "team_only": qc.NewValueBool(c.TeamOnly),
	}
	for k, v := range map[string]string{"guest_id": c.Owner.GuestID, "listing_id": c.Owner.ListingID, "reservation_id": c.Owner.ReservationID} {
		if v != "" {
			p[k] = qc.NewValueString(v)
		}
	}
	return p
}
