package attachments

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/objstore/s3test"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// fixture is an attachment bucket on a real S3 server (versitygw standing
// in for SeaweedFS), a database and a backup store.
type fixture struct {
	srv    *s3test.Server
	bucket string
	src    *Bucket
	d      *dbtest.DB
	store  objstore.Store
	dir    string
	crypt  *backup.Crypt
	clock  *fntest.Clock
	env    map[string]string
}

func newFixture(t *testing.T, encrypted bool) *fixture {
	t.Helper()
	f := &fixture{srv: s3test.Start(t), d: dbtest.New(t), dir: t.TempDir(), clock: &fntest.Clock{}}
	f.bucket = f.srv.Bucket(t)
	f.clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	var err error
	if f.store, err = objstore.NewDir(f.dir); err != nil {
		t.Fatal(err)
	}
	f.crypt = &backup.Crypt{}
	if encrypted {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		if f.crypt, err = backup.NewCrypt([]string{id.Recipient().String()}, id.String()); err != nil {
			t.Fatal(err)
		}
	}
	f.env = map[string]string{
		"ATTACHMENTS_S3_ENDPOINT": f.srv.Endpoint, "ATTACHMENTS_BUCKET": f.bucket, "ATTACHMENTS_S3_REGION": "auto",
		"ATTACHMENTS_S3_ACCESS_KEY_ID": s3test.AccessKey, "ATTACHMENTS_S3_SECRET_ACCESS_KEY": s3test.SecretKey,
		"BACKUP_ATTACHMENTS_VERIFY_SAMPLE": "1000", "SECRETS_DIR": t.TempDir(),
	}
	f.src = f.syncer(t, nil).Source
	return f
}

// syncer builds the Syncer from settings, as the function does.
func (f *fixture) syncer(t *testing.T, env map[string]string) *Syncer {
	t.Helper()
	vars := map[string]string{}
	for k, v := range f.env {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	s, err := FromConfig(config.New(config.FromMap(vars)), f.d.Pool, f.store, f.crypt, "", f.clock.Now)
	if err != nil || s == nil {
		t.Fatalf("FromConfig: %v %v", s, err)
	}
	return s
}

func (f *fixture) put(t *testing.T, key string, content []byte, contentType string) {
	t.Helper()
	if err := f.src.Put(context.Background(), key, bytes.NewReader(content), int64(len(content)), contentType); err != nil {
		t.Fatal(err)
	}
}

// stored reads a copy back, decrypted.
func (f *fixture) stored(t *testing.T, key string) []byte {
	t.Helper()
	plain, closeFn, err := openCopy(context.Background(), f.store, f.crypt, key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer closeFn()
	b, err := io.ReadAll(plain)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func (f *fixture) keys(t *testing.T, prefix string) []string {
	t.Helper()
	objs, err := f.store.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// New, changed and deleted objects across three runs, days apart: a run
// copies only what is new or changed; the replaced version and the deleted
// object stay for the retention period and go after it. Mutations tried:
// not retiring the previous version (b's old version was lost: replaced/
// empty), expiring from copied_at instead of deleted_at (the kept copies
// went on day 44).
func TestSyncNewChangedDeleted(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, encrypted)
			ctx := context.Background()
			a, b, c := random(t, 1000), random(t, 70_000), []byte("a voice note")
			f.put(t, "a1b2c3", a, "image/png")
			f.put(t, "b2c3d4", b, "application/pdf")
			f.put(t, "variants/c3d4e5/thumb", c, "audio/ogg")

			rep, err := f.syncer(t, nil).Run(ctx)
			if err != nil {
				t.Fatalf("first run: %v", err)
			}
			if rep.Status != StatusComplete || rep.Listed != 3 || rep.Copied != 3 || rep.Verified != 3 || rep.CopiedBytes != int64(len(a)+len(b)+len(c)) {
				t.Fatalf("first run: %+v", rep)
			}
			if got := f.stored(t, ObjectsDir+"b2c3d4"); !bytes.Equal(got, b) {
				t.Error("copy of b differs")
			}
			raw, err := os.ReadFile(filepath.Join(f.dir, "attachments/objects/a1b2c3"))
			if err != nil {
				t.Fatal(err)
			}
			if encrypted == bytes.Equal(raw, a) || encrypted != bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
				t.Errorf("stored bytes of a (encrypted %v): % x…", encrypted, raw[:16])
			}

			// Day 10: b changed, the voice note deleted, d new.
			f.clock.Set(f.clock.Now().Add(10 * 24 * time.Hour))
			b2, d := random(t, 5000), random(t, 10)
			f.put(t, "b2c3d4", b2, "application/pdf")
			if err := f.src.Delete(ctx, "variants/c3d4e5/thumb"); err != nil {
				t.Fatal(err)
			}
			f.put(t, "d4e5f6", d, "")
			rep, err = f.syncer(t, nil).Run(ctx)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if rep.Status != StatusComplete || rep.Listed != 3 || rep.Copied != 2 || rep.Unchanged != 1 || rep.Deleted != 1 || rep.Removed != 0 {
				t.Fatalf("second run: %+v", rep)
			}
			if got := f.stored(t, ObjectsDir+"b2c3d4"); !bytes.Equal(got, b2) {
				t.Error("copy of b is not the new version")
			}
			replaced := f.keys(t, ReplacedDir)
			if len(replaced) != 1 || !strings.HasSuffix(replaced[0], "/b2c3d4") || !bytes.Equal(f.stored(t, replaced[0]), b) {
				t.Errorf("replaced versions %v", replaced)
			}
			if got := f.stored(t, ObjectsDir+"variants/c3d4e5/thumb"); !bytes.Equal(got, c) {
				t.Error("the deleted object's copy is gone before its retention")
			}
			if n := dbtest.Count(t, f.d.Pool, "attachment_copies", "deleted_at IS NOT NULL AND removed_at IS NULL"); n != 2 {
				t.Errorf("kept deleted copies = %d, want 2 (the deleted object, b's old version)", n)
			}

			// Day 10 + 34: still kept (though copied 44 days ago). Day 10 + 36:
			// gone from the store, rows kept.
			f.clock.Set(f.clock.Now().Add(34 * 24 * time.Hour))
			if rep, err = f.syncer(t, nil).Run(ctx); err != nil || rep.Removed != 0 || rep.Copied != 0 || rep.Unchanged != 3 {
				t.Fatalf("day 44: %+v %v", rep, err)
			}
			f.clock.Set(f.clock.Now().Add(2 * 24 * time.Hour))
			if rep, err = f.syncer(t, nil).Run(ctx); err != nil || rep.Removed != 2 {
				t.Fatalf("day 46: %+v %v", rep, err)
			}
			want := []string{ObjectsDir + "a1b2c3", ObjectsDir + "b2c3d4", ObjectsDir + "d4e5f6"}
			if got := f.keys(t, "attachments/"); !slices.Equal(got, want) {
				t.Errorf("store holds %v, want %v", got, want)
			}
			if n := dbtest.Count(t, f.d.Pool, "attachment_copies", "removed_at IS NOT NULL"); n != 2 {
				t.Errorf("history rows = %d", n)
			}
		})
	}
}

// countingStore counts Puts by key, and cancels the run after limit of them.
type countingStore struct {
	objstore.Store
	mu     sync.Mutex
	puts   map[string]int
	limit  int
	cancel context.CancelFunc
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, meta objstore.MetaFunc) (objstore.Info, error) {
	info, err := c.Store.Put(ctx, key, r, meta)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.puts[key]++
		if c.limit > 0 && len(c.puts) == c.limit {
			c.cancel()
		}
	}
	return info, err
}

// A run cancelled part way (the function's timeout, a redeploy) keeps what
// it copied; the next run copies the rest and nothing twice, and records
// the earlier run as interrupted, and marks nothing deleted. Mutation
// tried: recording a copy with the run's context, cancelled by then (11 of
// the 15 stored copies were recorded, and the next run stored 4 again).
func TestSyncInterruptedResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	const n = 40
	for i := range n {
		f.put(t, fmt.Sprintf("obj-%03d", i), random(t, 100+i), "image/jpeg")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counting := &countingStore{Store: f.store, puts: map[string]int{}, limit: 15, cancel: cancel}
	s := f.syncer(t, nil)
	s.Store = counting
	rep, err := s.Run(ctx)
	if err == nil {
		t.Fatalf("cancelled run: %+v, want an error", rep)
	}
	done := dbtest.Count(t, f.d.Pool, "attachment_copies", "deleted_at IS NULL")
	if done < 15 || done >= n {
		t.Fatalf("after the interruption %d copies recorded, want 15 and not all", done)
	}
	if k := dbtest.Count(t, f.d.Pool, "attachment_copies", "deleted_at IS NOT NULL"); k != 0 {
		t.Errorf("an interrupted listing marked %d copies deleted", k)
	}
	// A process killed mid-run leaves its row running: the next run says so.
	if _, err := f.d.Pool.Exec(context.Background(), `UPDATE attachment_syncs SET status = 'running', finished_at = NULL`); err != nil {
		t.Fatal(err)
	}

	counting.limit = 0
	s.Store = counting
	rep, err = s.Run(context.Background())
	if err != nil || rep.Status != StatusComplete {
		t.Fatalf("resumed run: %+v %v", rep, err)
	}
	if rep.Copied != int64(n-done) || rep.Unchanged != int64(done) {
		t.Errorf("resumed run copied %d, unchanged %d; want %d, %d", rep.Copied, rep.Unchanged, n-done, done)
	}
	for k, c := range counting.puts {
		if c != 1 {
			t.Errorf("%s stored %d times", k, c)
		}
	}
	if len(counting.puts) != n {
		t.Errorf("%d objects stored over both runs, want %d", len(counting.puts), n)
	}
	if k := dbtest.Count(t, f.d.Pool, "attachment_syncs", "status = 'failed' AND error LIKE 'interrupted%'"); k != 1 {
		t.Errorf("interrupted runs recorded = %d", k)
	}
}

// A stored copy that rots is found by the read-back sample: the run fails
// naming it, the copy loses its row and the next run copies it again.
// Mutations tried: skipping the sha256 comparison (the plain case passed),
// keeping the row (the third run copied nothing).
func TestSyncDetectsCorruptCopy(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, encrypted)
			for i := range 5 {
				f.put(t, fmt.Sprintf("k%d", i), random(t, 2000), "image/png")
			}
			ctx := context.Background()
			if _, err := f.syncer(t, nil).Run(ctx); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(f.dir, "attachments/objects/k3")
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-100] ^= 0x08
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := f.syncer(t, nil).Run(ctx)
			if !errors.Is(err, ErrCorrupt) || Stage(err) != "verify" || rep.Corrupt != 1 || rep.Verified != 4 || rep.Status != StatusFailed {
				t.Fatalf("run over a corrupt copy: %+v %v", rep, err)
			}
			if !strings.Contains(err.Error(), "attachments/objects/k3") {
				t.Errorf("error does not name the copy: %v", err)
			}
			rep, err = f.syncer(t, nil).Run(ctx)
			if err != nil || rep.Copied != 1 || rep.Status != StatusComplete {
				t.Fatalf("run after: %+v %v", rep, err)
			}
		})
	}
}

// corruptingProxy forwards to the S3 server and flips a byte of every
// object body it returns, as a failing network would.
func corruptingProxy(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(res *http.Response) error {
		r := res.Request
		if r.Method == http.MethodGet && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 && res.StatusCode == http.StatusOK && !r.URL.Query().Has("list-type") {
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x10
			res.Body = io.NopCloser(bytes.NewReader(b))
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// An object read wrong from the bucket is never recorded as copied: its
// MD5 (the ETag of a single PUT) does not match. Mutation tried: not
// comparing the MD5 (the run completed with corrupt copies).
func TestSyncRefusesCorruptRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.put(t, "x1", random(t, 3000), "image/png")
	rep, err := f.syncer(t, map[string]string{"ATTACHMENTS_S3_ENDPOINT": corruptingProxy(t, f.srv.Endpoint)}).Run(context.Background())
	if Stage(err) != "copy" || rep.Failed != 1 || rep.Copied != 0 || !slices.Equal(rep.FailedKeys, []string{"x1"}) {
		t.Fatalf("run: %+v %v", rep, err)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("error %v, want ErrCorrupt", err)
	}
	if n := dbtest.Count(t, f.d.Pool, "attachment_copies", ""); n != 0 {
		t.Errorf("%d copies recorded", n)
	}
	if keys := f.keys(t, ObjectsDir); len(keys) != 0 {
		t.Errorf("store holds %v", keys)
	}
}

// Past its time budget a run only counts what is left; the next copies it.
func TestSyncBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	for i := range 3 {
		f.put(t, fmt.Sprintf("b%d", i), random(t, 10), "")
	}
	rep, err := f.syncer(t, map[string]string{"BACKUP_ATTACHMENTS_BUDGET": "1ns"}).Run(context.Background())
	if err != nil || rep.Status != StatusIncomplete || rep.Pending != 3 || rep.Copied != 0 {
		t.Fatalf("over budget: %+v %v", rep, err)
	}
	rep, err = f.syncer(t, nil).Run(context.Background())
	if err != nil || rep.Status != StatusComplete || rep.Copied != 3 {
		t.Fatalf("next run: %+v %v", rep, err)
	}
	proven, err := LastProven(context.Background(), f.d.Pool, f.store.String())
	if err != nil || len(proven) != 1 || proven[0].CompleteAt == nil || proven[0].Copies != 3 || proven[0].LastStatus != StatusComplete {
		t.Errorf("last proven: %+v %v", proven, err)
	}
	var b bytes.Buffer
	if err := WritePrometheus(context.Background(), f.d.Pool, &b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		fmt.Sprintf(`%s{bucket=%q} 0`, MetricLastFailed, f.bucket),
		fmt.Sprintf(`%s{bucket=%q,state="current"} 3`, MetricCopies, f.bucket),
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, b.String())
		}
	}
}

// The bucket restored from the backup store alone into an empty bucket:
// the same bytes and content types, and a presigned URL — what Chatwoot
// hands a browser — opens the attachment again. A second restore skips
// what is there. The wrong key names the identity's secret.
func TestRestoreBucket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	objects := map[string][]byte{"photo1": random(t, 40_000), "doc2": []byte("%PDF-1.4 booking confirmation"), "nested/k3": random(t, 1)}
	types := map[string]string{"photo1": "image/jpeg", "doc2": "application/pdf", "nested/k3": "audio/ogg"}
	for k, b := range objects {
		f.put(t, k, b, types[k])
	}
	ctx := context.Background()
	if _, err := f.syncer(t, nil).Run(ctx); err != nil {
		t.Fatal(err)
	}
	restored := f.srv.Bucket(t)
	into := f.syncer(t, map[string]string{"ATTACHMENTS_BUCKET": restored}).Source
	rep, err := Restore(ctx, f.store, "", f.crypt, into)
	if err != nil || rep.Restored != 3 || rep.Failed != 0 {
		t.Fatalf("Restore: %+v %v", rep, err)
	}
	for k, want := range objects {
		var head struct{ ContentType string }
		if err := json.Unmarshal(f.srv.AWS(t, "s3api", "head-object", "--bucket", restored, "--key", k), &head); err != nil {
			t.Fatal(err)
		}
		if head.ContentType != types[k] {
			t.Errorf("%s: content type %q, want %q", k, head.ContentType, types[k])
		}
		presigned := strings.TrimSpace(string(f.srv.AWS(t, "s3", "presign", "s3://"+restored+"/"+k, "--expires-in", "300")))
		res, err := http.Get(presigned)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("%s through a presigned URL: %d, %d bytes, want %d", k, res.StatusCode, len(got), len(want))
		}
	}
	if rep, err := Restore(ctx, f.store, "", f.crypt, into); err != nil || rep.Skipped != 3 || rep.Restored != 0 {
		t.Errorf("second Restore: %+v %v", rep, err)
	}

	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := backup.NewCrypt(nil, other.String())
	if err != nil {
		t.Fatal(err)
	}
	again := f.srv.Bucket(t)
	_, err = Restore(ctx, f.store, "", wrong, f.syncer(t, map[string]string{"ATTACHMENTS_BUCKET": again}).Source)
	if !errors.Is(err, backup.ErrWrongKey) || !strings.Contains(err.Error(), "backup-age-identity") {
		t.Errorf("Restore with the wrong key: %v", err)
	}
	if fault.KindOf(err) == fault.Unavailable {
		t.Errorf("a wrong key reported as an outage: %v", err)
	}
}

// Without an access key there is nothing to sync: make run says so.
func TestNotConfigured(t *testing.T) {
	s, err := FromConfig(config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir()})), nil, nil, nil, "", time.Now)
	if s != nil || err != nil {
		t.Errorf("FromConfig without settings: %v %v", s, err)
	}
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"ATTACHMENTS_S3_ACCESS_KEY_ID": "k"}, "ATTACHMENTS_S3_ENDPOINT"},
		{map[string]string{"ATTACHMENTS_S3_ACCESS_KEY_ID": "k", "ATTACHMENTS_S3_ENDPOINT": "http://seaweedfs:8333"}, "attachments-secret-access-key"},
		{map[string]string{"BACKUP_ATTACHMENTS_KEEP_DAYS": "0"}, "BACKUP_ATTACHMENTS_KEEP_DAYS"},
		{map[string]string{"BACKUP_ATTACHMENTS_BUDGET": "soon"}, "BACKUP_ATTACHMENTS_BUDGET"},
	}
	for _, tt := range tests {
		tt.env["SECRETS_DIR"] = t.TempDir()
		if _, err := FromConfig(config.New(config.FromMap(tt.env)), nil, nil, nil, "", time.Now); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

// failingListProxy forwards to the S3 server but refuses every listing page
// after the first, as a bucket that stops answering part way would.
func failingListProxy(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("continuation-token") {
			http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
			return
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A listing that fails part way says nothing about what it did not reach:
// no copy is marked deleted, and the run fails in "list". Mutation tried:
// going on to mark deletions after the listing failed (the four copies of
// the unread pages were marked deleted).
func TestSyncFailedListingDeletesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	for i := range 6 {
		f.put(t, fmt.Sprintf("p%d", i), random(t, 10), "")
	}
	s := f.syncer(t, nil)
	s.Source.pageSize = 2
	if rep, err := s.Run(context.Background()); err != nil || rep.Copied != 6 {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	f.clock.Set(f.clock.Now().Add(time.Hour))
	s = f.syncer(t, map[string]string{"ATTACHMENTS_S3_ENDPOINT": failingListProxy(t, f.srv.Endpoint)})
	s.Source.pageSize = 2
	rep, err := s.Run(context.Background())
	if Stage(err) != "list" || fault.KindOf(err) != fault.Unavailable || rep.Listed != 2 {
		t.Fatalf("run with a failing listing: %+v %v", rep, err)
	}
	if n := dbtest.Count(t, f.d.Pool, "attachment_copies", "deleted_at IS NOT NULL"); n != 0 {
		t.Errorf("%d copies marked deleted by an incomplete listing", n)
	}
	if n := dbtest.Count(t, f.d.Pool, "attachment_syncs", "status = 'failed' AND error LIKE 'list:%'"); n != 1 {
		t.Errorf("failed runs recorded = %d", n)
	}
}

// Into an S3 backup store (R2 in production): a small attachment in one
// request through Direct, a medium one through the store's PutObject, a
// large one through its multipart upload; each with its sha256 in the
// metadata the aws CLI reads, each restored intact. Mutation tried: small
// copies without metadata (the restore refused them: "no sha256").
func TestSyncIntoS3Store(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	dest := f.srv.Bucket(t)
	for k, v := range f.srv.Env(dest) {
		f.env[k] = v
	}
	var err error
	if f.store, err = objstore.NewS3(objstore.S3Options{Endpoint: f.srv.Endpoint, Region: "auto", Bucket: dest,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{"small": random(t, 3000), "medium": random(t, SmallObject+500_000), "large": random(t, 9<<20)}
	for k, b := range objects {
		f.put(t, k, b, "image/jpeg")
	}
	s := f.syncer(t, nil)
	if s.Direct == nil {
		t.Fatal("no direct bucket for small copies into an S3 store")
	}
	rep, err := s.Run(context.Background())
	if err != nil || rep.Copied != 3 || rep.Verified != 3 || rep.Status != StatusComplete {
		t.Fatalf("run: %+v %v", rep, err)
	}
	for k, want := range objects {
		var head struct {
			Metadata map[string]string
		}
		if err := json.Unmarshal(f.srv.AWS(t, "s3api", "head-object", "--bucket", dest, "--key", ObjectsDir+k), &head); err != nil {
			t.Fatal(err)
		}
		if head.Metadata["sha256"] == "" || head.Metadata["size"] != fmt.Sprint(len(want)) || head.Metadata["encryption"] != "age" {
			t.Errorf("%s: metadata %v", k, head.Metadata)
		}
		if got := f.stored(t, ObjectsDir+k); !bytes.Equal(got, want) {
			t.Errorf("%s: copy differs", k)
		}
	}
	restored := f.srv.Bucket(t)
	r, err := Restore(context.Background(), f.store, "", f.crypt, f.syncer(t, map[string]string{"ATTACHMENTS_BUCKET": restored}).Source)
	if err != nil || r.Restored != 3 {
		t.Fatalf("Restore: %+v %v", r, err)
	}
}
