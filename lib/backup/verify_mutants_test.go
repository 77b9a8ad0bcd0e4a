package backup

// Tests of verification and retention details, written for `make mutate`:
// each names the gremlins mutants it kills.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/objstore"
)

// Two runs that started in the same second are ordered by id: the later
// row is the newer backup, the one retention keeps.
// Kills: Plan's tie-break `rs[i].ID > rs[j].ID` negated or made >=.
func TestPlanSameSecond(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC)
	recs := []Record{
		{ID: 7, Key: "a", Status: StatusVerified, StartedAt: at},
		{ID: 9, Key: "b", Status: StatusVerified, StartedAt: at},
		{ID: 8, Key: "c", Status: StatusVerified, StartedAt: at},
	}
	keep, drop := Plan(recs, Policy{Daily: 1})
	if len(keep) != 1 || keep[0].ID != 9 {
		t.Errorf("kept %+v, want only id 9", keep)
	}
	if len(drop) != 2 {
		t.Errorf("dropped %+v, want ids 7 and 8", drop)
	}
}

// The scratch database's name stays within PostgreSQL's 63 bytes: a
// source name is cut at 40 bytes, not before.
// Kills: scratchName's `len(database) > 40` made >= or negated.
func TestScratchName(t *testing.T) {
	forty := strings.Repeat("d", 40)
	if got := scratchName(forty); got != forty+"_backup_verify" {
		t.Errorf("scratchName(40 bytes) = %q", got)
	}
	if got := scratchName(forty + "xyz"); got != forty+"_backup_verify" {
		t.Errorf("scratchName(43 bytes) = %q", got)
	}
	if got := scratchName("concierge"); got != "concierge_backup_verify" {
		t.Errorf("scratchName(concierge) = %q", got)
	}
}

// A restore checks the object against the sha256 and size in its
// metadata: an object without them (an interrupted upload) is refused
// before anything is created.
// Kills: Restore's `err != nil || info.Metadata["sha256"] == ""` made &&
// or either side negated.
func TestRestoreNeedsChecksumMetadata(t *testing.T) {
	d := dbtest.New(t)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, nil)
	ctx := context.Background()
	for key, meta := range map[string]map[string]string{
		"concierge/concierge-20260305T031700Z.dump.zst": {"size": "4"},
		"concierge/concierge-20260305T031800Z.dump.zst": {"sha256": strings.Repeat("ab", 32)},
		"concierge/concierge-20260305T031900Z.dump.zst": {"sha256": strings.Repeat("ab", 32), "size": "four"},
	} {
		if _, err := s.Store.Put(ctx, key, strings.NewReader("data"), func() map[string]string { return meta }); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Restore(ctx, key, "restored_"+strings.ToLower(strings.TrimSuffix(key[len("concierge/concierge-"):], ".dump.zst")))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no sha256 and size metadata") {
			t.Errorf("Restore of %s (metadata %v) = %+v, %v; want ErrCorrupt", key, meta, rep, err)
		}
	}
	if n := dbtest.Count(t, d.Pool, "pg_database", "datname LIKE 'restored_%'"); n != 0 {
		t.Errorf("%d databases created", n)
	}
}

// A clean run says it verified and warns of nothing; a run after one that
// died says so once; retention that deleted nothing says nothing.
// Kills: the `n > 0` of the interrupted-runs warning made >= or negated,
// the `len(deleted) > 0` of retention's log line made >= or negated.
func TestRunLogs(t *testing.T) {
	d := dbtest.New(t)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, nil)
	var logs strings.Builder
	ctx := logging.WithLogger(context.Background(), logging.New("backup", &logs, "info"))
	if _, err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	first := logs.String()
	if !strings.Contains(first, `"message":"backup verified"`) || strings.Contains(first, `"level":"warn"`) ||
		strings.Contains(first, "retention deleted") {
		t.Errorf("a clean first run logged:\n%s", first)
	}
	// A run that died while uploading left its row behind.
	if _, err := d.Pool.Exec(context.Background(), `INSERT INTO backups (database_name, store, object_key, status, started_at)
		VALUES ($1, 'file:///gone', 'gone.dump.zst', 'uploaded', now() - interval '1 day')`, d.Name); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 3, 6, 3, 17, 0, 0, time.UTC))
	logs.Reset()
	if _, err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	second := logs.String()
	if n := strings.Count(second, "earlier backup runs ended without a result"); n != 1 || !strings.Contains(second, `"runs":1`) {
		t.Errorf("the run after an interrupted one logged:\n%s", second)
	}
	if strings.Contains(second, "retention deleted") {
		t.Errorf("retention that kept everything logged a deletion:\n%s", second)
	}
}

// failingPut is a store whose uploads break after some bytes.
type failingPut struct{ objstore.Store }

func (f failingPut) Put(ctx context.Context, key string, r io.Reader, meta objstore.MetaFunc) (objstore.Info, error) {
	if _, err := io.CopyN(io.Discard, r, 64<<10); err != nil {
		return objstore.Info{}, err
	}
	return objstore.Info{}, errors.New("connection reset by peer")
}

// An upload that breaks fails the run in its dump stage as the store's
// outage, promptly (pg_dump is not left writing into a pipe nobody
// reads), records the failure and keeps what was there.
// Kills: dump's `putErr != nil` negated (the pipe is not closed and the
// run hangs), the `case putErr != nil` negated (the failure reported as
// something else).
func TestUploadFailure(t *testing.T) {
	d := dbtest.New(t)
	seed(t, d.Pool)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, nil)
	s.Store = failingPut{s.Store}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := s.Run(ctx)
	if err == nil || Stage(err) != "dump" || fault.KindOf(err) != fault.Unavailable || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("Run = %+v, %v; want an Unavailable failure of the dump stage naming the store's error", rep, err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run hung until its deadline")
	}
	status, verified, _, errText := row(t, d, s.key(d.Name, clock.Now()))
	if status != StatusFailed || verified != nil || errText == nil || !strings.Contains(*errText, "upload") {
		t.Errorf("row: %s verified %v error %v", status, verified, errText)
	}
}

// A restore checks the object's size before it restores anything: a
// truncated object is corrupt, said with both sizes. A store that reports
// no size (0) is left to the digest check, which reads the whole object.
// Kills: restoreInto's `info.Size > 0 && info.Size != want.size` with its
// first comparison negated or made >=, or its && made ||.
func TestRestoreChecksSize(t *testing.T) {
	d := dbtest.New(t)
	dir := t.TempDir()
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, map[string]string{"BACKUP_DIR": dir})
	ctx := context.Background()
	rep, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, filepath.FromSlash(rep.Key))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content []byte
		msg     string
	}{
		{"truncated", b[:len(b)/2], fmt.Sprintf("is %d bytes, %d were uploaded", len(b)/2, len(b))},
		{"emptied", nil, "has sha256 "},
	} {
		if err := os.WriteFile(file, c.content, 0o600); err != nil {
			t.Fatal(err)
		}
		into := "restored_" + c.name
		_, err := s.Restore(ctx, rep.Key, into)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s object: Restore = %v, want ErrCorrupt saying %q", c.name, err, c.msg)
		}
		if n := dbtest.Count(t, d.Pool, "pg_database", "datname = $1", into); n != 0 {
			t.Errorf("%s object: database %s left behind", c.name, into)
		}
	}
	// The intact object restores.
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(ctx, rep.Key, "restored_intact"); err != nil {
		t.Fatalf("Restore of the intact object: %v", err)
	}
	t.Cleanup(func() {
		_, _ = d.Pool.Exec(context.Background(), "DROP DATABASE IF EXISTS restored_intact WITH (FORCE)")
	})
}
