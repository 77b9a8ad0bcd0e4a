// Package dbtest gives tests a real, migrated PostgreSQL database of their
// own. One cluster runs per test binary (started from the machine's server
// binaries, or CONCIERGE_TEST_DATABASE_URL's server), a migrated template
// database is built once, and each test gets a fresh copy of it.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/pgcluster"

	"github.com/harborstays/concierge/lib/testenv"
)

const templateDB = "concierge_template"

var (
	mu       sync.Mutex
	adminURL string // connection to the maintenance database
	urlFor   func(name string) string
	cluster  *pgcluster.Cluster
	skipWhy  string
	seq      atomic.Int64
)

// Main starts the cluster, runs the tests and stops it. Call it from
// TestMain: os.Exit(dbtest.Main(m)).
func Main(m interface{ Run() int }) int {
	ctx := context.Background()
	stop, err := setup(ctx)
	if err != nil {
		if errors.Is(err, pgcluster.ErrNoBinaries) && os.Getenv("CI") == "" {
			// Only outside CI: a developer without PostgreSQL still runs the
			// unit tests. CI installs the server, so this never hides there.
			skipWhy = err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		return 1
	}
	code := m.Run()
	stop()
	return code
}

func setup(ctx context.Context) (func(), error) {
	if u := os.Getenv("CONCIERGE_TEST_DATABASE_URL"); u != "" {
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			return nil, fmt.Errorf("CONCIERGE_TEST_DATABASE_URL: malformed")
		}
		base := strings.TrimSuffix(u, "/"+cfg.Database)
		if i := strings.Index(u, "/"+cfg.Database+"?"); i >= 0 {
			q := u[i+len("/"+cfg.Database):]
			base = u[:i]
			urlFor = func(name string) string { return base + "/" + name + q }
		} else {
			urlFor = func(name string) string { return base + "/" + name }
		}
		adminURL = u
	} else {
		dir, err := os.MkdirTemp("", "concierge-pg-")
		if err != nil {
			return nil, err
		}
		// As root the postgres user must be able to enter the folder.
		_ = os.Chmod(dir, 0o755)
		// Whose cluster it is: make mutate stops the clusters of test
		// binaries its timeouts killed, and only those.
		_ = os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		// CONCIERGE_TEST_DURABLE=1 keeps fsync on, for benchmarks that
		// should count what a production commit costs.
		c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir + "/data", Durable: os.Getenv("CONCIERGE_TEST_DURABLE") != ""})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		cluster = c
		urlFor = c.URL
		adminURL = c.URL("postgres")
		stop := func() {
			_ = c.Stop(context.Background())
			os.RemoveAll(dir)
		}
		if err := buildTemplate(ctx); err != nil {
			stop()
			return nil, err
		}
		return stop, nil
	}
	if err := buildTemplate(ctx); err != nil {
		return nil, err
	}
	return func() {}, nil
}

func buildTemplate(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("%s_%d", templateDB, os.Getpid())
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	pool, err := db.Open(ctx, urlFor(name), 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	tmplName = name
	return nil
}

var tmplName string

// DB is a fresh migrated database for one test.
type DB struct {
	Pool *pgxpool.Pool
	URL  string
	Name string
}

// New creates a database for t from the migrated template and drops it when
// the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	if skipWhy != "" {
		testenv.Skip(t, "%s", skipWhy)
	}
	if urlFor == nil {
		t.Fatal("dbtest: call dbtest.Main from TestMain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), seq.Add(1))
	mu.Lock()
	admin, err := pgx.Connect(ctx, adminURL)
	if err == nil {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmplName))
		admin.Close(ctx)
	}
	mu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	url := urlFor(name)
	pool, err := db.Open(ctx, url, 16)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if admin, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			admin.Close(ctx)
		}
	})
	return &DB{Pool: pool, URL: url, Name: name}
}

// Cluster returns the cluster this binary started, or nil when tests run
// against CONCIERGE_TEST_DATABASE_URL.
func Cluster() *pgcluster.Cluster { return cluster }

// Count returns SELECT count(*) FROM table WHERE cond.
func Count(t testing.TB, pool *pgxpool.Pool, table, cond string, args ...any) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if cond != "" {
		q += " WHERE " + cond
	}
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
