package db_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/dbtest"
)

func TestMigrationsCurrent(t *testing.T) {
	d := dbtest.New(t)
	st, err := db.Migrations(t.Context(), d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Current() || len(st.Embedded) == 0 || st.Latest != st.Embedded[len(st.Embedded)-1] {
		t.Fatalf("fresh database: %+v", st)
	}
}

func TestMigrationsPendingAndUnknown(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	st, _ := db.Migrations(ctx, d.Pool)
	last := st.Embedded[len(st.Embedded)-1]
	if _, err := d.Pool.Exec(ctx, `DELETE FROM schema_migrations WHERE name = $1`, last); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	st, err := db.Migrations(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current() || !slices.Equal(st.Pending, []string{last}) || !slices.Equal(st.Unknown, []string{"9999_from_the_future.sql"}) {
		t.Fatalf("got %+v", st)
	}
}

func TestMigrationsOnAnEmptyDatabase(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	if _, err := d.Pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	st, err := db.Migrations(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Pending, st.Embedded) || st.Latest != "" {
		t.Fatalf("got %+v", st)
	}
}

func TestServerInfo(t *testing.T) {
	d := dbtest.New(t)
	s, err := db.ServerInfo(t.Context(), d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version == "" || s.VersionNum < 100000 || s.MaxConnections <= 0 || s.InUse < 1 {
		t.Fatalf("got %+v", s)
	}
}

var roleSeq atomic.Int64

// LoginRole creates a login role with attrs (e.g. "NOCREATEDB"), dropped
// when the test ends, and returns d's URL as that role.
func loginRole(t *testing.T, d *dbtest.DB, attrs string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("doctor_%d_%d", os.Getpid(), roleSeq.Add(1))
	const password = "doctor-test-password"
	if _, err := d.Pool.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' %s", name, password, attrs)); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, password)
	t.Cleanup(func() {
		_, _ = d.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name)
	})
	return u.String()
}

func TestCurrentRole(t *testing.T) {
	d := dbtest.New(t)
	for _, tc := range []struct {
		attrs                     string
		wantSuperuser, wantCreate bool
	}{
		{"NOCREATEDB", false, false},
		{"CREATEDB", false, true},
		{"SUPERUSER", true, false},
	} {
		t.Run(tc.attrs, func(t *testing.T) {
			conn, err := pgx.Connect(t.Context(), loginRole(t, d, tc.attrs))
			if err != nil {
				t.Fatal(err)
			}
			r, err := db.CurrentRole(t.Context(), conn)
			conn.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.Superuser != tc.wantSuperuser || r.CreateDB != tc.wantCreate {
				t.Fatalf("got %+v", r)
			}
		})
	}
}
