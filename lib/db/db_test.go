package db_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Several replicas starting at once all migrate; the advisory lock makes
// them wait for each other instead of failing on "relation already exists".
func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	// Start from an empty schema to exercise the real first-start race.
	if _, err := d.Pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := db.Open(ctx, d.URL, 2)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = db.Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if err := db.Migrate(ctx, d.Pool); err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, table := range []string{"webhook_events", "guests", "listings", "reservations", "calls", "jobs"} {
		dbtest.Count(t, d.Pool, table, "")
	}
	var versions int
	_ = d.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions)
	if versions == 0 {
		t.Fatal("no migration recorded")
	}
}
