package doctor

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/stack"
)

func TestPostgresRight(t *testing.T) {
	d := dbtest.New(t)
	res := report(t, map[string]string{"DATABASE_URL": d.URL}, Options{})
	want(t, res, "postgres", OK, "PostgreSQL ", "")
	want(t, res, "postgres migrations", OK, "applied (latest ", "")
	want(t, res, "postgres createdb", OK, "superuser", "")
	// testdata/stack.yml: 2 x 4 + 3 x 2 = 14.
	want(t, res, "postgres connections", OK, "= 14, + 50 headroom", "")
}

func TestPostgresUnreachable(t *testing.T) {
	res := report(t, map[string]string{"DATABASE_URL": "postgres://concierge:hunter2-secret@127.0.0.1:1/concierge?sslmode=disable&connect_timeout=2"}, Options{})
	want(t, res, "postgres", Fail, "127.0.0.1", "DATABASE_URL")
	want(t, res, "postgres migrations", Skip, "no connection", "")
	want(t, res, "postgres connections", Skip, "no connection", "")
	for name, r := range res {
		if strings.Contains(r.Found+r.Fix, "hunter2-secret") {
			t.Errorf("%s shows the password: %q", name, r.Found)
		}
	}
}

func TestPostgresPendingAndUnknownMigrations(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	st, err := db.Migrations(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	last := st.Embedded[len(st.Embedded)-1]
	if _, err := d.Pool.Exec(ctx, `DELETE FROM schema_migrations WHERE name = $1`, last); err != nil {
		t.Fatal(err)
	}
	res := report(t, map[string]string{"DATABASE_URL": d.URL}, Options{})
	want(t, res, "postgres migrations", Fail, "1 of", "deploy this build")
	want(t, res, "postgres migrations", Fail, last, "")

	if _, err := d.Pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_newer.sql')`); err != nil {
		t.Fatal(err)
	}
	res = report(t, map[string]string{"DATABASE_URL": d.URL}, Options{})
	want(t, res, "postgres migrations", Fail, "9999_newer.sql", "TAG")
}

var roleSeq atomic.Int64

// roleURL creates a login role with attrs for the test and returns d's URL
// as that role.
func roleURL(t *testing.T, d *dbtest.DB, attrs string) string {
	t.Helper()
	name := fmt.Sprintf("doctor_%d_%d", os.Getpid(), roleSeq.Add(1))
	const password = "doctor-role-password"
	if _, err := d.Pool.Exec(t.Context(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' %s", name, password, attrs)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = d.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) })
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, password)
	return u.String()
}

func TestPostgresCreateDB(t *testing.T) {
	d := dbtest.New(t)
	res := report(t, map[string]string{"DATABASE_URL": roleURL(t, d, "NOCREATEDB")}, Options{})
	want(t, res, "postgres createdb", Fail, "may not create databases", "CREATEDB")
	want(t, res, "postgres", OK, "as doctor_", "")

	res = report(t, map[string]string{"DATABASE_URL": roleURL(t, d, "CREATEDB")}, Options{})
	want(t, res, "postgres createdb", OK, "may CREATEDB", "")
}

func TestPostgresConnections(t *testing.T) {
	d := dbtest.New(t)
	res := report(t, map[string]string{"DATABASE_URL": d.URL}, Options{StackFile: "testdata/stack-large.yml"})
	want(t, res, "postgres connections", Fail, "80 replicas at most × DATABASE_MAX_CONNS 4 = 320", "lower DATABASE_MAX_CONNS")
	want(t, res, "postgres connections", Fail, "no com.openfaas.scale.max on cron, counted as 20", "")

	res = report(t, map[string]string{"DATABASE_URL": d.URL, "DATABASE_MAX_CONNS": "1"}, Options{StackFile: "testdata/stack-large.yml", Headroom: 10})
	want(t, res, "postgres connections", OK, "= 80, + 10 headroom", "")

	res = report(t, map[string]string{"DATABASE_URL": d.URL}, Options{StackFile: "testdata/missing.yml"})
	want(t, res, "postgres connections", Fail, "missing.yml", "--stack")

	res = report(t, map[string]string{"DATABASE_URL": d.URL, "DATABASE_MAX_CONNS": "four"}, Options{})
	want(t, res, "postgres connections", Fail, "DATABASE_MAX_CONNS", "correct the setting")
}

// The production stack fits the platform's max_connections=200 with the
// default pool size, as DATABASE_MAX_CONNS's help says.
func TestProductionStackFits(t *testing.T) {
	st, err := stack.Load("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := budget(st, 4, db.Server{MaxConnections: 200, SuperuserReserved: 3}, DefaultHeadroom)
	if err != nil {
		t.Fatal(err)
	}
	if b.need() > 200 || len(b.defaulted) > 0 {
		t.Fatalf("stack.yml needs %d of 200 (%d replicas; defaulted %v)", b.need(), b.replicas, b.defaulted)
	}
	t.Logf("stack.yml: %d replicas x 4 = %d, %d needed of 200", b.replicas, b.functions, b.need())
}
