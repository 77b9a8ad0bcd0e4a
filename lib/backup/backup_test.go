package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/objstore/s3test"
	"github.com/harborstays/concierge/lib/testenv"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// seed fills d with rows in the project's tables and ~10 MiB of
// incompressible bytes, so the S3 upload takes several parts.
func seed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO guests (id, full_name, email, raw) SELECT 'g' || i, 'Guest ' || i, 'guest' || i || '@example.com', jsonb_build_object('n', i) FROM generate_series(1, 500) i`,
		`INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled) SELECT 'aircall', 'call.ended', 'k' || i, jsonb_build_object('i', i), true FROM generate_series(1, 300) i`,
		`CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)`,
		`INSERT INTO blobs SELECT i, decode(string_agg(md5(i::text || '-' || j::text), ''), 'hex') FROM generate_series(1, 10000) i, generate_series(1, 64) j GROUP BY i`,
		`CREATE SCHEMA extra`,
		`CREATE TABLE extra.empty (id int)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("seed: %s: %v", q, err)
		}
	}
}

// tableSum is a checksum of a table's whole content.
func tableSum(t *testing.T, url, table string) string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var sum string
	if err := pool.QueryRow(context.Background(), "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM "+table+" t").Scan(&sum); err != nil {
		t.Fatalf("checksum %s: %v", table, err)
	}
	return sum
}

// service builds a Service the way the function does, from settings.
func service(t *testing.T, d *dbtest.DB, clock *fntest.Clock, env map[string]string) *Service {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": d.URL, "SECRETS_DIR": t.TempDir(), "BACKUP_DIR": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	s, err := FromConfig(config.New(config.FromMap(vars)), d.Pool, clock.Now)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	return s
}

func row(t *testing.T, d *dbtest.DB, key string) (status string, verified *time.Time, deleted *time.Time, errText *string) {
	t.Helper()
	err := d.Pool.QueryRow(context.Background(), "SELECT status, verified_at, deleted_at, error FROM backups WHERE object_key = $1", key).
		Scan(&status, &verified, &deleted, &errText)
	if err != nil {
		t.Fatalf("backups row %s: %v", key, err)
	}
	return
}

func noScratch(t *testing.T, d *dbtest.DB) {
	t.Helper()
	if n := dbtest.Count(t, d.Pool, "pg_database", "datname = $1", scratchName(d.Name)); n != 0 {
		t.Errorf("scratch database %s left behind", scratchName(d.Name))
	}
}

func TestRoundTrip(t *testing.T) {
	stores := []struct {
		name string
		env  func(t *testing.T) (map[string]string, *s3test.Server, string)
	}{
		{"s3", func(t *testing.T) (map[string]string, *s3test.Server, string) {
			srv := s3test.Start(t)
			bucket := srv.Bucket(t)
			return srv.Env(bucket), srv, bucket
		}},
		{"local folder", func(t *testing.T) (map[string]string, *s3test.Server, string) {
			return map[string]string{"BACKUP_DIR": t.TempDir()}, nil, ""
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			env, srv, bucket := st.env(t)
			d := dbtest.New(t)
			seed(t, d.Pool)
			clock := &fntest.Clock{}
			now := time.Date(2026, 3, 4, 3, 17, 0, 0, time.UTC)
			clock.Set(now)
			s := service(t, d, clock, env)
			ctx := context.Background()

			rep, err := s.Run(ctx)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			wantKey := d.Name + "/" + d.Name + "-20260304T031700Z.dump.zst"
			if rep.Status != StatusVerified || rep.Key != wantKey || rep.Bytes < 10<<20 || rep.Tables < 8 || !rep.VerifiedAt.Equal(now) {
				t.Fatalf("report %+v", rep)
			}
			status, verified, _, _ := row(t, d, rep.Key)
			if status != StatusVerified || verified == nil || !verified.Equal(now) {
				t.Errorf("row: %s verified %v", status, verified)
			}
			var counts map[string]int64
			var sum string
			var bytes int64
			if err := d.Pool.QueryRow(ctx, "SELECT row_counts, sha256, bytes FROM backups WHERE id = $1", rep.ID).Scan(&counts, &sum, &bytes); err != nil {
				t.Fatal(err)
			}
			if counts["public.guests"] != 500 || counts["public.blobs"] != 10000 || counts["extra.empty"] != 0 || counts["public.backups"] != 0 {
				t.Errorf("row counts %v", counts)
			}
			if sum != rep.SHA256 || bytes != rep.Bytes {
				t.Errorf("row sha256 %s bytes %d; report %s %d", sum, bytes, rep.SHA256, rep.Bytes)
			}
			noScratch(t, d)

			// What the store holds, seen without our client.
			file := filepath.Join(t.TempDir(), "backup.dump.zst")
			if srv != nil {
				var list struct{ Contents []struct{ Key string } }
				if err := json.Unmarshal(srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket), &list); err != nil {
					t.Fatal(err)
				}
				if len(list.Contents) != 1 || list.Contents[0].Key != wantKey {
					t.Fatalf("bucket holds %+v, want %s", list.Contents, wantKey)
				}
				var head struct {
					ContentLength int64
					Metadata      map[string]string
				}
				if err := json.Unmarshal(srv.AWS(t, "s3api", "head-object", "--bucket", bucket, "--key", wantKey), &head); err != nil {
					t.Fatal(err)
				}
				if head.ContentLength != rep.Bytes || head.Metadata["sha256"] != rep.SHA256 || head.Metadata["database"] != d.Name {
					t.Errorf("head-object %+v", head)
				}
				srv.AWS(t, "s3", "cp", "--only-show-errors", "s3://"+bucket+"/"+wantKey, file)
			} else {
				src, err := os.ReadFile(filepath.Join(env["BACKUP_DIR"], filepath.FromSlash(wantKey)))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, src, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != rep.SHA256 || int64(len(b)) != rep.Bytes {
				t.Errorf("fetched object: %d bytes, sha256 %x; report %d %s", len(b), h, rep.Bytes, rep.SHA256)
			}
			// The documented manual restore reads it: zstd -dc | pg_restore --list.
			if _, err := exec.LookPath("zstd"); err != nil {
				// Not a skip of the whole round trip: in CI it fails, here it says so.
				if testenv.CI() {
					t.Error("zstd not installed: the documented manual restore is not checked (.ci/deps installs it)")
				} else {
					t.Log("zstd not installed: the documented manual restore is not checked")
				}
			} else {
				out, err := exec.Command("sh", "-c", "zstd -dc '"+file+"' | '"+s.mustTools(t).pgRestore+"' --list").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "TABLE DATA public blobs") {
					t.Errorf("zstd -dc | pg_restore --list: %v\n%.2000s", err, out)
				}
			}

			// Restore into a new database: same rows, same content.
			into := d.Name + "_restored"
			t.Cleanup(func() { _ = dropDatabase(context.Background(), d.Pool, into) })
			rr, err := s.Restore(ctx, rep.Key, into)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if err := compareCounts(counts, rr.Rows); err != nil {
				t.Error(err)
			}
			if len(rr.Recorded) == 0 {
				t.Error("Restore did not find the backups row")
			}
			restoredURL := s.conn.withDatabase(into).full()
			for _, table := range []string{"guests", "blobs", "webhook_events"} {
				if a, b := tableSum(t, d.URL, table), tableSum(t, restoredURL, table); a != b {
					t.Errorf("%s content differs after restore: %s vs %s", table, a, b)
				}
			}
			if _, err := s.Restore(ctx, rep.Key, into); fault.KindOf(err) != fault.Invalid {
				t.Errorf("Restore into an existing database: %v, want Invalid", err)
			}

			listed, err := List(ctx, s.Store, "", mustRows(t, d, s))
			if err != nil || len(listed) != 1 || listed[0].Key != wantKey || listed[0].SHA256 != rep.SHA256 || listed[0].Status != StatusVerified || listed[0].Database != d.Name {
				t.Errorf("List: %+v %v", listed, err)
			}
		})
	}
}

func mustRows(t *testing.T, d *dbtest.DB, s *Service) map[string]Row {
	rows, err := Rows(context.Background(), d.Pool, s.Store.String())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func (s *Service) mustTools(t *testing.T) tools {
	var v int
	if err := s.DB.QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		t.Fatal(err)
	}
	tl, err := findTools(context.Background(), v, "")
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestRetention runs backups on chosen days (the clock is injected) and
// checks which objects the bucket holds afterwards, listed by the aws CLI.
func TestRetention(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	d := dbtest.New(t)
	clock := &fntest.Clock{}
	env := srv.Env(bucket)
	env["BACKUP_KEEP_DAILY"], env["BACKUP_KEEP_WEEKLY"] = "3", "2"
	s := service(t, d, clock, env)
	// 2026-03-02 is the Monday of ISO week 10; 03-09 starts week 11.
	runs := []time.Time{
		time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 3, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 5, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 9, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 10, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 11, 3, 17, 0, 0, time.UTC),
		time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 12, 3, 17, 0, 0, time.UTC),
	}
	for _, at := range runs {
		clock.Set(at)
		if _, err := s.Run(context.Background()); err != nil {
			t.Fatalf("run at %s: %v", at, err)
		}
	}
	key := func(ts string) string { return d.Name + "/" + d.Name + "-" + ts + ".dump.zst" }
	// Daily 3: the 12th, the 11th (15:00), the 10th. Weekly 2: the 12th
	// (week 11) and the 5th (week 10).
	want := []string{key("20260305T031700Z"), key("20260310T031700Z"), key("20260311T150000Z"), key("20260312T031700Z")}
	var list struct{ Contents []struct{ Key string } }
	if err := json.Unmarshal(srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list.Contents {
		got = append(got, c.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("bucket holds\n%v\nwant\n%v", got, want)
	}
	live := dbtest.Count(t, d.Pool, "backups", "deleted_at IS NULL")
	deleted := dbtest.Count(t, d.Pool, "backups", "deleted_at IS NOT NULL AND status = 'verified'")
	if live != len(want) || deleted != len(runs)-len(want) {
		t.Errorf("rows: %d live, %d deleted; want %d, %d", live, deleted, len(want), len(runs)-len(want))
	}
}

// corruptStore flips one byte of every object it hands out.
type corruptStore struct{ objstore.Store }

func (c corruptStore) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Info, error) {
	rc, info, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return &flipper{ReadCloser: rc, at: info.Size / 2}, info, nil
}

type flipper struct {
	io.ReadCloser
	at, off int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x40
	}
	f.off += int64(n)
	return n, err
}

func TestCorruptObjectFailsVerification(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	seed(t, d.Pool)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	dir := t.TempDir()
	// Keep nothing but the newest verified: a successful run would delete
	// the first backup.
	s := service(t, d, clock, map[string]string{"BACKUP_DIR": dir, "BACKUP_KEEP_DAILY": "0", "BACKUP_KEEP_WEEKLY": "0"})
	first, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	clock.Set(time.Date(2026, 3, 3, 3, 17, 0, 0, time.UTC))
	good := s.Store
	s.Store = corruptStore{good}
	_, err = s.Run(context.Background())
	if !errors.Is(err, ErrCorrupt) || Stage(err) != "verify" {
		t.Fatalf("Run with a corrupted read: %v, want ErrCorrupt in stage verify", err)
	}
	second := s.key(d.Name, clock.Now())
	status, verified, _, errText := row(t, d, second)
	if status != StatusFailed || verified != nil || errText == nil || !strings.Contains(*errText, "corrupt") {
		t.Errorf("failed run's row: %s %v %v", status, verified, errText)
	}
	if status, _, deleted, _ := row(t, d, first.Key); status != StatusVerified || deleted != nil {
		t.Errorf("the earlier backup was touched: %s deleted %v", status, deleted)
	}
	if _, err := good.Head(context.Background(), first.Key); err != nil {
		t.Errorf("the earlier backup's object: %v", err)
	}
	noScratch(t, d)

	// A corrupted file in the store: restore refuses it and leaves no database.
	path := filepath.Join(dir, filepath.FromSlash(first.Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Store = good
	into := d.Name + "_corrupt"
	if _, err := s.Restore(context.Background(), first.Key, into); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Restore of a corrupted file: %v, want ErrCorrupt", err)
	}
	if n := dbtest.Count(t, d.Pool, "pg_database", "datname = $1", into); n != 0 {
		t.Error("a failed restore left its database behind")
	}

	// The next good run deletes the failed backup and the corrupted one.
	clock.Set(time.Date(2026, 3, 4, 3, 17, 0, 0, time.UTC))
	third, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(third.Deleted, []string{first.Key, second}) {
		t.Errorf("deleted %v, want the two older backups", third.Deleted)
	}
}

func TestStorageUnreachable(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	d := dbtest.New(t)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	env := srv.Env(bucket)
	env["BACKUP_KEEP_DAILY"], env["BACKUP_KEEP_WEEKLY"] = "0", "0"
	first, err := service(t, d, clock, env).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env["BACKUP_S3_ENDPOINT"] = "http://" + l.Addr().String()
	l.Close()
	clock.Set(time.Date(2026, 3, 3, 3, 17, 0, 0, time.UTC))
	_, err = service(t, d, clock, env).Run(context.Background())
	if fault.KindOf(err) != fault.Unavailable || Stage(err) != "store" || !strings.Contains(fault.Public(err), "unreachable") {
		t.Fatalf("Run against a closed port: %v (public %q), want Unavailable in stage store", err, fault.Public(err))
	}
	if n := dbtest.Count(t, d.Pool, "backups", ""); n != 1 {
		t.Errorf("backups rows = %d, want only the first", n)
	}
	if _, _, deleted, _ := row(t, d, first.Key); deleted != nil {
		t.Error("the first backup was marked deleted")
	}
	var list struct{ Contents []struct{ Key string } }
	if err := json.Unmarshal(srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || list.Contents[0].Key != first.Key {
		t.Errorf("bucket holds %+v", list.Contents)
	}
}

// A pg_dump that dies mid-stream leaves no object and a failed row.
func TestDumpFailureStoresNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	seed(t, d.Pool)
	real := (&Service{DB: d.Pool}).mustTools(t)
	bin := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then exec '" + real.pgDump + "' --version; fi\n'" +
		real.pgDump + "' \"$@\" | head -c 300000\necho 'pg_dump: error: connection lost' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real.pgRestore, filepath.Join(bin, "pg_restore")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clock := &fntest.Clock{}
	s := service(t, d, clock, map[string]string{"BACKUP_DIR": dir, "PG_BINDIR": bin})
	_, err := s.Run(context.Background())
	if Stage(err) != "dump" || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("Run: %v, want a dump failure quoting pg_dump", err)
	}
	objs, _ := s.Store.List(context.Background(), "")
	if len(objs) != 0 {
		t.Errorf("objects after a failed dump: %+v", objs)
	}
	if n := dbtest.Count(t, d.Pool, "backups", "status = 'failed' AND error LIKE 'dump: %'"); n != 1 {
		t.Errorf("failed rows = %d, want 1", n)
	}
}

func TestLockPreventsOverlap(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := service(t, d, &fntest.Clock{}, nil)
	conn, err := d.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_lock($1)", LockKey); err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(context.Background())
	if fault.KindOf(err) != fault.Unavailable || Stage(err) != "lock" {
		t.Fatalf("Run while locked: %v", err)
	}
	if n := dbtest.Count(t, d.Pool, "backups", ""); n != 0 {
		t.Errorf("a locked-out run wrote %d rows", n)
	}
	if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", LockKey); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatalf("Run after unlock: %v", err)
	}
}

func TestFindTools(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.9'\n"
	for _, name := range []string{"pg_dump", "pg_restore"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := findTools(context.Background(), 150010, bin); err == nil || !strings.Contains(err.Error(), "pg_dump 14") || !strings.Contains(err.Error(), "postgresql-client-15") {
		t.Errorf("a 14 client for a 15 server: %v", err)
	}
	if tl, err := findTools(context.Background(), 140009, bin); err != nil || tl.major != 14 {
		t.Errorf("a 14 client for a 14 server: %+v %v", tl, err)
	}
	if _, err := findTools(context.Background(), 990000, ""); err == nil || !strings.Contains(err.Error(), "PostgreSQL 99") {
		t.Errorf("no client for 99: %v", err)
	}
}

func TestConnInfo(t *testing.T) {
	c, err := parseConnInfo("postgres://app:s3cr%40t@db.internal:5432/concierge?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), "s3cr") || c.password != "s3cr@t" || !strings.Contains(c.String(), "sslmode=require") {
		t.Errorf("String %q password %q", c.String(), c.password)
	}
	if got := c.withDatabase("other").String(); got != "postgres://app@db.internal:5432/other?sslmode=require" {
		t.Errorf("withDatabase: %s", got)
	}
	if !strings.Contains(c.full(), "s3cr%40t") {
		t.Errorf("full: %s", c.full())
	}
	q, err := parseConnInfo("postgresql://app@h/db?password=pw&sslmode=disable")
	if err != nil || q.password != "pw" || strings.Contains(q.String(), "pw") {
		t.Errorf("password in the query: %q %q %v", q.String(), q.password, err)
	}
	if _, err := parseConnInfo("host=h password=secret"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("keyword form: %v", err)
	}
}

func TestStderrSummaryDropsData(t *testing.T) {
	var s stderrTail
	s.Write([]byte("pg_restore: error: could not execute query: ERROR:  duplicate key value\nDETAIL:  Key (email)=(jordan@example.com) already exists.\nCONTEXT:  COPY guests, line 1: \"g1\tJordan\"\nCommand was: COPY public.guests\n"))
	got := s.summary()
	if strings.Contains(got, "jordan") || strings.Contains(got, "Jordan") || !strings.Contains(got, "duplicate key") {
		t.Errorf("summary %q", got)
	}
}
