package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/objstore/s3test"
)

// ageKey is a fresh age key pair: the public key and the identity file.
func ageKey(t *testing.T) (recipient, identity string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), "# test key\n" + id.String() + "\n"
}

// secretsDir writes the identity where the backup-age-identity secret is read.
func secretsDir(t *testing.T, identity string) string {
	t.Helper()
	dir := t.TempDir()
	if identity != "" {
		if err := os.WriteFile(filepath.Join(dir, "backup-age-identity"), []byte(identity), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fill gives d a table of n rows that names its database, so a restore of
// the wrong dump shows.
func fill(t *testing.T, d *dbtest.DB, n int) {
	t.Helper()
	q := fmt.Sprintf(`CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
		INSERT INTO notes SELECT i, '%s-' || i FROM generate_series(1, %d) i`, d.Name, n)
	if _, err := d.Pool.Exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// One run, several databases on one server, each dumped, encrypted, stored
// in a real S3 server, read back through decryption and verified; a
// database that does not exist fails its part only. Mutations tried:
// stopping at the first failing database (the last one had no outcome),
// not writing the failed row of a database that could not be reached (no
// failed row, no metric), not encrypting (plain objects in the bucket),
// not checking the globals for the owners' roles (the verifyGlobals call
// below passed).
func TestRunAllSeveralDatabases(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	main, other, third := dbtest.New(t), dbtest.New(t), dbtest.New(t)
	fill(t, main, 10)
	fill(t, other, 250)
	fill(t, third, 40)
	missing := main.Name + "_missing"
	recipient, identity := ageKey(t)
	env := srv.Env(bucket)
	env["BACKUP_DATABASES"] = strings.Join([]string{main.Name, other.Name, missing, third.Name}, ",")
	env["BACKUP_AGE_RECIPIENTS"] = recipient
	env["SECRETS_DIR"] = secretsDir(t, identity)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	s := service(t, main, clock, env)
	ctx := context.Background()

	rr, err := s.RunAll(ctx)
	if err != nil {
		t.Fatalf("RunAll: %v", err)
	}
	if rr.Status != StatusFailed || len(rr.Failed) != 1 || rr.Failed[0] != missing || !rr.Encrypted {
		t.Fatalf("run: status %s failed %v encrypted %v", rr.Status, rr.Failed, rr.Encrypted)
	}
	if rr.Outages() {
		t.Error("a database that does not exist counted as an outage")
	}
	wantRows := map[string]int64{main.Name: 10, other.Name: 250, third.Name: 40}
	for _, o := range rr.Databases {
		if o.Database == missing {
			if o.Status != StatusFailed || o.Stage != "connect" || !strings.Contains(o.Error, "does not exist") || fault.KindOf(o.Err) != fault.Permanent {
				t.Errorf("missing database: %+v", o)
			}
			continue
		}
		if o.Status != StatusVerified || o.Report == nil {
			t.Fatalf("%s: %+v", o.Database, o)
		}
		rep := o.Report
		if !strings.HasSuffix(rep.Key, ".dump.zst.age") || !rep.Encrypted || rep.Rows < wantRows[o.Database] {
			t.Errorf("%s: report %+v", o.Database, rep)
		}
		var counts map[string]int64
		if err := main.Pool.QueryRow(ctx, "SELECT row_counts FROM backups WHERE object_key = $1 AND status = 'verified'", rep.Key).Scan(&counts); err != nil {
			t.Fatalf("%s: verified row: %v", o.Database, err)
		}
		if counts["public.notes"] != wantRows[o.Database] {
			t.Errorf("%s: recorded %d notes, want %d", o.Database, counts["public.notes"], wantRows[o.Database])
		}
		if n := dbtest.Count(t, main.Pool, "pg_database", "datname = $1", scratchName(o.Database)); n != 0 {
			t.Errorf("scratch database of %s left behind", o.Database)
		}
	}
	if g := rr.Globals; g.Status != StatusVerified || g.Report == nil || g.Report.Rows < 1 || !strings.HasSuffix(g.Report.Key, ".sql.zst.age") {
		t.Errorf("globals: %+v", g)
	}
	if n := dbtest.Count(t, main.Pool, "backups", "database_name = $1 AND status = 'failed' AND error LIKE 'connect: database % does not exist%'", missing); n != 1 {
		t.Errorf("failed rows of the missing database = %d, want 1", n)
	}

	// What the bucket holds, seen by the aws CLI: age files only.
	var list struct{ Contents []struct{ Key string } }
	if err := json.Unmarshal(srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 4 {
		t.Fatalf("bucket holds %+v, want three dumps and the globals", list.Contents)
	}
	for _, c := range list.Contents {
		file := filepath.Join(t.TempDir(), "obj")
		srv.AWS(t, "s3", "cp", "--only-show-errors", "s3://"+bucket+"/"+c.Key, file)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
			t.Errorf("%s is not an age file: % x", c.Key, b[:min(16, len(b))])
		}
	}

	// Restoring one: the other database's rows, through the decryption path.
	into := other.Name + "_restored"
	t.Cleanup(func() { _ = dropDatabase(context.Background(), main.Pool, into) })
	var otherKey string
	for _, o := range rr.Databases {
		if o.Database == other.Name {
			otherKey = o.Report.Key
		}
	}
	r, err := s.Restore(ctx, otherKey, into)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if r.Rows["public.notes"] != 250 || r.Recorded["public.notes"] != 250 {
		t.Errorf("restored %v, recorded %v", r.Rows, r.Recorded)
	}

	// The globals, written out as SQL for psql.
	var sql bytes.Buffer
	if _, err := s.Fetch(ctx, rr.Globals.Report.Key, &sql); err != nil {
		t.Fatalf("Fetch globals: %v", err)
	}
	if !strings.Contains(sql.String(), "CREATE ROLE postgres;") {
		t.Errorf("globals SQL lacks the role:\n%.500s", sql.String())
	}
	if _, err := s.Restore(ctx, rr.Globals.Report.Key, into+"_g"); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "-out") {
		t.Errorf("Restore of the globals into a database: %v", err)
	}
	// The globals' verification demands the roles the dumps need.
	want, err := s.recorded(ctx, rr.Globals.Report.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.verifyGlobals(ctx, rr.Globals.Report.Key, want, []string{"postgres", "no_such_owner"}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "no_such_owner") {
		t.Errorf("globals without an owner's role: %v, want ErrMismatch naming it", err)
	}

	// Last proven restore per database, and the metrics redrive exports.
	proven, err := LastProven(ctx, main.Pool, s.Store.String())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Proven{}
	for _, p := range proven {
		got[p.Database] = p
	}
	for _, name := range []string{main.Name, other.Name, third.Name, GlobalsName} {
		if p := got[name]; p.VerifiedAt == nil || !p.VerifiedAt.Equal(clock.Now()) || p.LastStatus != StatusVerified {
			t.Errorf("last proven of %s: %+v", name, p)
		}
	}
	if p := got[missing]; p.VerifiedAt != nil || p.LastStatus != StatusFailed || p.Failed != 1 {
		t.Errorf("last proven of the missing database: %+v", p)
	}
	var metrics bytes.Buffer
	if err := WritePrometheus(ctx, main.Pool, &metrics); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		fmt.Sprintf(`%s{database=%q} 1`, MetricLastFailed, missing),
		fmt.Sprintf(`%s{database=%q} 0`, MetricLastFailed, other.Name),
		fmt.Sprintf(`%s{database=%q} 1`, MetricFailedTotal, missing),
		fmt.Sprintf(`%s{database=%q} %d.000`, MetricLastVerified, third.Name, clock.Now().Unix()),
		fmt.Sprintf(`%s{database=%q} 0.000`, MetricLastVerified, missing),
	} {
		if !strings.Contains(metrics.String(), line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, metrics.String())
		}
	}
}

// corruptOne flips a byte of one object as it is read back.
type corruptOne struct {
	objstore.Store
	key string
}

func (c corruptOne) Get(ctx context.Context, key string) (io.ReadCloser, objstore.Info, error) {
	rc, info, err := c.Store.Get(ctx, key)
	if err != nil || key != c.key {
		return rc, info, err
	}
	return &flipper{ReadCloser: rc, at: info.Size / 2}, info, nil
}

// keyOf makes the store corrupt the dump of one database, whose key is only
// known once the run named it: the clock's time and the database.
func keyOf(s *Service, database string, at time.Time) string { return s.key(database, at) }

// One corrupted object among several databases: that database fails in
// verify with ErrCorrupt, the others verify, plain and encrypted (where
// age's authentication catches it before the checksum does). Mutation
// tried: dropping the sha256 comparison of restoreInto survives — zstd's
// frame checksum (plain) and age (encrypted) reject the flip first; the
// comparison is defence in depth against a whole, valid, wrong object.
func TestRunAllOneCorruptedObject(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			main, other := dbtest.New(t), dbtest.New(t)
			fill(t, main, 30)
			fill(t, other, 30)
			env := map[string]string{"BACKUP_DATABASES": main.Name + "," + other.Name}
			if encrypted {
				recipient, identity := ageKey(t)
				env["BACKUP_AGE_RECIPIENTS"], env["SECRETS_DIR"] = recipient, secretsDir(t, identity)
			}
			clock := &fntest.Clock{}
			clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
			s := service(t, main, clock, env)
			s.Store = corruptOne{Store: s.Store, key: keyOf(s, other.Name, clock.Now())}
			rr, err := s.RunAll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.Failed) != 1 || rr.Failed[0] != other.Name {
				t.Fatalf("failed %v, want only %s", rr.Failed, other.Name)
			}
			for _, o := range rr.Databases {
				switch o.Database {
				case other.Name:
					if !errors.Is(o.Err, ErrCorrupt) || o.Stage != "verify" {
						t.Errorf("corrupted database: %v in %s, want ErrCorrupt in verify", o.Err, o.Stage)
					}
				default:
					if o.Status != StatusVerified {
						t.Errorf("%s: %+v", o.Database, o)
					}
				}
			}
			if n := dbtest.Count(t, main.Pool, "backups", "database_name = $1 AND status = 'failed' AND error LIKE 'verify: backup object is corrupt%'", other.Name); n != 1 {
				t.Errorf("failed rows = %d", n)
			}
		})
	}
}

// A backup encrypted to one key does not restore with another: the error
// names the identity's secret, and nothing is left behind. Without any
// identity it says the object is encrypted. Mutations tried: treating
// every object as plain (the zstd decoder then reported a corrupt object,
// not the key), dropping the NoIdentityMatchError case (same).
func TestWrongAgeKeyFailsClearly(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	fill(t, d, 20)
	dir := t.TempDir()
	recipient, identity := ageKey(t)
	clock := &fntest.Clock{}
	clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	s := service(t, d, clock, map[string]string{"BACKUP_DIR": dir, "BACKUP_AGE_RECIPIENTS": recipient, "SECRETS_DIR": secretsDir(t, identity)})
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	otherRecipient, otherIdentity := ageKey(t)
	tests := []struct {
		name string
		env  map[string]string
		want error
		says string
	}{
		{"another key", map[string]string{"BACKUP_AGE_RECIPIENTS": otherRecipient, "SECRETS_DIR": secretsDir(t, otherIdentity)}, ErrWrongKey, "backup-age-identity"},
		{"another key, restore only", map[string]string{"SECRETS_DIR": secretsDir(t, otherIdentity)}, ErrWrongKey, "backup-age-identity"},
		{"no key", map[string]string{"SECRETS_DIR": secretsDir(t, "")}, ErrNoIdentity, "backup-age-identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"BACKUP_DIR": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			r := service(t, d, clock, env)
			into := d.Name + "_wrongkey"
			_, err := r.Restore(context.Background(), rep.Key, into)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) || !strings.Contains(fault.Public(err), tt.says) {
				t.Errorf("Restore: %v (public %q), want %v naming %s", err, fault.Public(err), tt.want, tt.says)
			}
			if n := dbtest.Count(t, d.Pool, "pg_database", "datname = $1", into); n != 0 {
				t.Error("a failed restore left its database behind")
			}
			if _, err := r.Fetch(context.Background(), rep.Key, io.Discard); !errors.Is(err, tt.want) {
				t.Errorf("Fetch: %v, want %v", err, tt.want)
			}
		})
	}
	// The right key: the archive comes out plain, as pg_restore reads it.
	var archive bytes.Buffer
	fr, err := s.Fetch(context.Background(), rep.Key, &archive)
	if err != nil || !fr.Encrypted || fr.Written != int64(archive.Len()) {
		t.Fatalf("Fetch: %+v %v", fr, err)
	}
	cmd := exec.Command(s.mustTools(t).pgRestore, "--list")
	cmd.Stdin = &archive
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "TABLE DATA public notes") {
		t.Errorf("pg_restore --list of the fetched archive: %v\n%.1000s", err, out)
	}
}

// The settings refuse a configuration whose backups could not be verified.
func TestCryptSettings(t *testing.T) {
	recipient, identity := ageKey(t)
	otherRecipient, _ := ageKey(t)
	tests := []struct {
		name       string
		recipients []string
		identity   string
		want       string // "" = accepted
	}{
		{"off", nil, "", ""},
		{"restore only", nil, identity, ""},
		{"on", []string{recipient}, identity, ""},
		{"escrow key too", []string{otherRecipient, recipient}, identity, ""},
		{"no identity", []string{recipient}, "", "backup-age-identity"},
		{"identity of none", []string{otherRecipient}, identity, "decrypts none"},
		{"private key as recipient", []string{strings.TrimSpace(strings.Split(identity, "\n")[1])}, identity, "not an age public key"},
		{"garbage identity", nil, "AGE-SECRET-KEY-1XYZ", "not an age identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCrypt(tt.recipients, tt.identity)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY-1"):
				t.Errorf("the error quotes a private key: %v", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC)
	tests := []struct {
		key    string
		db     string
		ok     bool
		prefix string
	}{
		{"concierge/concierge-20260302T031700Z.dump.zst", "concierge", true, ""},
		{"concierge/concierge-20260302T031700Z.dump.zst.age", "concierge", true, ""},
		{"p/chatwoot/chatwoot-20260302T031700Z.dump.zst.age", "chatwoot", true, "p/"},
		{"_globals/_globals-20260302T031700Z.sql.zst", GlobalsName, true, ""},
		{"_globals/_globals-20260302T031700Z.sql.zst.age", GlobalsName, true, ""},
		{"_globals/_globals-20260302T031700Z.dump.zst", "", false, ""},
		{"chatwoot/chatwoot-20260302T031700Z.sql.zst", "", false, ""},
		{"attachments/objects/abc", "", false, ""},
		{"doctor/probe-20260302T031700Z-ab", "", false, ""},
		{"concierge/concierge-20260302T031700Z.dump.zst.age.age", "", false, ""},
		// Not named for its folder's database: not a backup retention may
		// count or delete, however date-like its name.
		{"concierge/20260302T031700Z.dump.zst", "", false, ""},
		{"concierge/chatwoot-20260302T031700Z.dump.zst", "", false, ""},
	}
	for _, tt := range tests {
		db, got, ok := ParseKey(tt.prefix, tt.key)
		if ok != tt.ok || db != tt.db || (ok && !got.Equal(at)) {
			t.Errorf("ParseKey(%q) = %q %v %v", tt.key, db, got, ok)
		}
	}
}

func TestExtensionEntry(t *testing.T) {
	tests := []struct {
		line, ext string
	}{
		{"2; 3079 16386 EXTENSION - vector \n", "vector"},
		{"3425; 0 0 COMMENT - EXTENSION vector \n", "vector"},
		{"3; 3079 16429 EXTENSION - pg_trgm \n", "pg_trgm"},
		{"215; 1259 16390 TABLE public extension_notes postgres\n", ""},
		{"; Archive created at 2026-12-06 06:18:45 UTC\n", ""},
		{"3426; 0 0 COMMENT - TABLE notes postgres\n", ""},
	}
	for _, tt := range tests {
		got, ok := extensionEntry(tt.line)
		if got != tt.ext || ok != (tt.ext != "") {
			t.Errorf("extensionEntry(%q) = %q %v, want %q", tt.line, got, ok, tt.ext)
		}
	}
}
