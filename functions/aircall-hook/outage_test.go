package function

import (
	"context"
	"net/http"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"

	"github.com/harborstays/concierge/lib/testenv"
)

// Persist, then acknowledge: with PostgreSQL down the hook answers 503 so
// Aircall retries, and the retry lands once the database is back.
func TestDatabaseDownAnswers503ThenRetrySucceeds(t *testing.T) {
	cluster := dbtest.Cluster()
	if cluster == nil {
		testenv.Skip(t, "tests run against CONCIERGE_TEST_DATABASE_URL; cannot stop that server")
	}
	h := start(t)
	ctx := context.Background()
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = cluster.Start(ctx)
		}
	})
	deliveries := []string{"aircall/call.created.json", "aircall/call.ended.json"}
	for _, name := range deliveries {
		if code, body := h.Post(t, fixtures.Read(name), nil); code != http.StatusServiceUnavailable {
			t.Fatalf("%s with database down: %d %s, want 503", name, code, body)
		}
	}
	if n := len(h.Invoked.Calls()); n != 0 {
		t.Fatalf("invoked %d functions for unstored events", n)
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, name := range deliveries {
		if code, body := h.Post(t, fixtures.Read(name), nil); code != http.StatusOK {
			t.Fatalf("%s after restart: %d %s", name, code, body)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "calls", "status = 'done'"); n != 1 {
		t.Errorf("calls done = %d, want 1", n)
	}
}
