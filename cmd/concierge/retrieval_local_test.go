package main

import (
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
)

// stack.yml names Qdrant and Cloudflare's embeddings for production; the
// local runner stays on PostgreSQL full text alone: the seed's vectorize
// jobs all finish without a Qdrant to reach.
func TestRunnerRetrievalIsPostgreSQLAlone(t *testing.T) {
	d := dbtest.New(t)
	startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "SEED_CONVERSATIONS": "false", "BOT_BURST_WINDOW": "0s"})
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND (status <> 'done' OR attempts > 1)"); n > 0 {
		t.Fatalf("%d vectorize jobs failed or retried: the runner reached for Qdrant", n)
	}
	if dbtest.Count(t, d.Pool, "chunks", "") == 0 {
		t.Fatal("nothing indexed in PostgreSQL")
	}
}
