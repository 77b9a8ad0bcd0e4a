package backup

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fntest"
)

// exec runs statements on url as the superuser of the test cluster.
func execAs(t *testing.T, url string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// withDB is url pointed at another database of the same server.
func withDB(t *testing.T, url, name string) string {
	t.Helper()
	c, err := parseConnInfo(url)
	if err != nil {
		t.Fatal(err)
	}
	return c.withDatabase(name).full()
}

// The production role is not a superuser: it holds CREATEDB (to verify),
// pg_read_all_data and CONNECT (to dump other applications' databases), as
// docs/recovery.md grants. This test runs as such a role: a database it may
// not connect to fails alone; a database with an extension it may not
// create (pageinspect, untrusted like chatwoot's vector) verifies only
// through BACKUP_VERIFY_TEMPLATE; the globals dump without superuser.
// Mutations tried: restoring without the TOC filter (COMMENT ON EXTENSION
// fails: "must be owner of extension"), filtering only EXTENSION entries
// (same), no template (the case below fails with "permission denied to
// create extension").
func TestBackupRoleWithoutSuperuser(t *testing.T) {
	t.Parallel()
	main, other, denied := dbtest.New(t), dbtest.New(t), dbtest.New(t)
	fill(t, main, 5)
	fill(t, other, 70)
	fill(t, denied, 5)
	role := "bk_" + main.Name
	tmpl := main.Name + "_tmpl"
	admin := withDB(t, main.URL, "postgres")
	execAs(t, admin,
		"CREATE ROLE "+role+" LOGIN CREATEDB",
		"GRANT pg_read_all_data TO "+role,
		"REVOKE CONNECT ON DATABASE "+denied.Name+" FROM PUBLIC",
		"CREATE DATABASE "+tmpl+" TEMPLATE template0")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for _, q := range []string{"ALTER DATABASE " + tmpl + " IS_TEMPLATE false", "DROP DATABASE IF EXISTS " + tmpl + " WITH (FORCE)"} {
			_, _ = conn.Exec(context.Background(), q)
		}
		// The role's grants in main go with main; then the role itself.
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	execAs(t, withDB(t, main.URL, tmpl), "CREATE EXTENSION pageinspect")
	execAs(t, admin, "ALTER DATABASE "+tmpl+" IS_TEMPLATE true")
	execAs(t, other.URL, "CREATE EXTENSION pageinspect")
	execAs(t, main.URL,
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO "+role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "+role)
	t.Cleanup(func() {
		// Before main is dropped: its grants keep the role alive.
		conn, err := pgx.Connect(context.Background(), main.URL)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP OWNED BY "+role)
			conn.Close(context.Background())
		}
	})
	roleURL := strings.Replace(main.URL, "postgres://postgres@", "postgres://"+role+"@", 1)
	pool, err := pgxpool.New(context.Background(), roleURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	tests := []struct {
		name     string
		template string
		// otherStage is where the database with the extension fails; "" = verified.
		otherStage string
		otherError string
	}{
		{"template with the extension", tmpl, "", ""},
		{"template0", "", "verify", "permission denied to create extension"},
	}
	clock := &fntest.Clock{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(time.Date(2026, 3, 2+i, 3, 17, 0, 0, time.UTC))
			env := map[string]string{"DATABASE_URL": roleURL, "SECRETS_DIR": t.TempDir(), "BACKUP_DIR": t.TempDir(),
				"BACKUP_DATABASES": main.Name + "," + other.Name + "," + denied.Name}
			if tt.template != "" {
				env["BACKUP_VERIFY_TEMPLATE"] = tt.template
			}
			s, err := FromConfig(config.New(config.FromMap(env)), pool, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := s.RunAll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range rr.Databases {
				switch o.Database {
				case main.Name:
					if o.Status != StatusVerified {
						t.Errorf("main: %+v", o)
					}
				case other.Name:
					if tt.otherStage == "" && o.Status != StatusVerified {
						t.Errorf("database with an untrusted extension: %v in %s", o.Err, o.Stage)
					}
					if tt.otherStage != "" && (o.Stage != tt.otherStage || !strings.Contains(o.Err.Error(), tt.otherError)) {
						t.Errorf("database with an untrusted extension: %v in %s, want %q in %s", o.Err, o.Stage, tt.otherError, tt.otherStage)
					}
					if o.Status == StatusVerified && o.Report.Rows < 70 {
						t.Errorf("verified %d rows, want the 70 notes at least", o.Report.Rows)
					}
				case denied.Name:
					if o.Stage != "connect" || fault.KindOf(o.Err) != fault.Permanent || !strings.Contains(o.Error, "GRANT CONNECT") {
						t.Errorf("database without CONNECT: %+v", o)
					}
				}
			}
			if g := rr.Globals; g.Status != StatusVerified {
				t.Fatalf("globals as a non-superuser: %v in %s", g.Err, g.Stage)
			}
			var sql bytes.Buffer
			if _, err := s.Fetch(context.Background(), rr.Globals.Report.Key, &sql); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sql.String(), "CREATE ROLE "+role+";") || !strings.Contains(sql.String(), "GRANT pg_read_all_data TO "+role) {
				t.Errorf("globals SQL lacks the role and its grant:\n%.1500s", sql.String())
			}
			// Only this test's databases: other tests of the package verify
			// backups on the same cluster at the same time.
			if n := dbtest.Count(t, main.Pool, "pg_database", fmt.Sprintf("datname IN ('%s_backup_verify', '%s_backup_verify', '%s_backup_verify')", main.Name, other.Name, denied.Name)); n != 0 {
				t.Errorf("%d scratch databases left behind", n)
			}
		})
	}
}
