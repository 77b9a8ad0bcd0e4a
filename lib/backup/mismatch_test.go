package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
)

// A restore that silently lost rows must not be called verified: the
// restored counts are compared with the snapshot's, never with themselves.
// pg_restore is wrapped so that, after a successful restore, one guest row
// disappears from the scratch database.
func TestRestoreThatLostRowsFailsVerification(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	seed(t, d.Pool)
	ctx := context.Background()
	var version int
	if err := d.Pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	real, err := findTools(ctx, version, "")
	if err != nil {
		t.Fatal(err)
	}
	psql := filepath.Join(filepath.Dir(real.pgRestore), "psql")
	if _, err := os.Stat(psql); err != nil {
		t.Fatalf("psql beside pg_restore: %v", err)
	}
	bin := t.TempDir()
	if err := os.Symlink(real.pgDump, filepath.Join(bin, "pg_dump")); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
"` + real.pgRestore + `" "$@" || exit $?
for a in "$@"; do case "$a" in --dbname=*) db="${a#--dbname=}";; esac; done
exec "` + psql + `" "$db" -qc 'DELETE FROM public.guests WHERE id = (SELECT min(id) FROM public.guests)'
`
	if err := os.WriteFile(filepath.Join(bin, "pg_restore"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, map[string]string{"PG_BINDIR": bin})
	rep, err := s.Run(ctx)
	if !errors.Is(err, ErrMismatch) || Stage(err) != "verify" {
		t.Fatalf("Run: %v (report %+v), want ErrMismatch in stage verify", err, rep)
	}
	if !strings.Contains(err.Error(), "public.guests has 499 rows, want 500") {
		t.Errorf("mismatch does not name the table and both counts: %v", err)
	}
	status, verified, _, errText := row(t, d, s.key(d.Name, clock.Now()))
	if status != StatusFailed || verified != nil || errText == nil || !strings.Contains(*errText, "public.guests") {
		t.Errorf("row: %s verified %v error %v", status, verified, errText)
	}
	noScratch(t, d)
}
