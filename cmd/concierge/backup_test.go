package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
)

// make restore: list the backups, restore the newest verified one into a new
// database, and refuse to overwrite an existing one.
func TestBackupsAndRestoreCommands(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `INSERT INTO listings (id, title) SELECT 'l' || i, 'Listing ' || i FROM generate_series(1, 50) i`); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": d.URL, "BACKUP_DIR": t.TempDir(), "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn"}
	env := config.FromMap(vars)
	svc, err := backup.FromConfig(config.New(env), d.Pool, func() time.Time { return time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := backupsCommand(ctx, env, nil, &out); err != nil {
		t.Fatalf("backups: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), rep.Key) || !strings.Contains(out.String(), "verified") || !strings.Contains(out.String(), rep.SHA256[:12]) {
		t.Errorf("backups output lacks the verified backup:\n%s", out.String())
	}

	into := d.Name + "_cli"
	t.Cleanup(func() { _, _ = d.Pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+into+" WITH (FORCE)") })
	out.Reset()
	if err := restoreCommand(ctx, env, []string{"-backup", "latest", "-into", into}, &out); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), rep.Key) || !strings.Contains(out.String(), "row counts match the backup's record") {
		t.Errorf("restore output:\n%s", out.String())
	}
	if n := dbtest.Count(t, d.Pool, "pg_database", "datname = $1", into); n != 1 {
		t.Fatal("restored database missing")
	}
	out.Reset()
	if err := restoreCommand(ctx, env, []string{"-backup", rep.Key, "-into", into}, &out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("restore over an existing database: %v", err)
	}
	if err := restoreCommand(ctx, env, []string{"-backup", "latest"}, &out); err == nil || !strings.Contains(err.Error(), "-into") {
		t.Errorf("restore without -into: %v", err)
	}
}
