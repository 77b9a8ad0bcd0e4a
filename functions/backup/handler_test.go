package function

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/objstore/s3test"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func start(t *testing.T, d *dbtest.DB, env map[string]string) *faastest.Harness {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": d.URL}
	for k, v := range env {
		vars[k] = v
	}
	h := faastest.StartWith(t, d, Name, New, vars)
	h.Clock.Set(time.Date(2026, 3, 2, 3, 17, 0, 0, time.UTC))
	return h
}

func seed(t *testing.T, d *dbtest.DB) {
	t.Helper()
	if _, err := d.Pool.Exec(context.Background(), `INSERT INTO listings (id, title) SELECT 'l' || i, 'Listing ' || i FROM generate_series(1, 200) i`); err != nil {
		t.Fatal(err)
	}
}

// result is the answer, with the first database's report at hand.
type result struct {
	Answer
	Key    string
	SHA256 string
}

func run(t *testing.T, h *faastest.Harness) (int, result) {
	t.Helper()
	return runBody(t, h, nil)
}

// runBody makes the scheduled call, which must queue a job and invoke it
// (a minute later when this minute's slot already ran), then runs that job
// as the queue-worker would, and returns the job's status and the run's
// report.
func runBody(t *testing.T, h *faastest.Harness, body []byte) (int, result) {
	t.Helper()
	before := len(h.Invoked.Calls())
	code, out := h.Post(t, body, nil)
	if code == http.StatusOK && strings.Contains(out, `"already queued"`) {
		h.Clock.Set(h.Clock.Now().Add(time.Minute))
		code, out = h.Post(t, body, nil)
	}
	var r result
	if code != http.StatusAccepted {
		if err := json.Unmarshal([]byte(out), &r.Answer); err != nil {
			t.Fatalf("%d %s: %v", code, out, err)
		}
		return code, r
	}
	var queued struct{ Status, JobID, Subject string }
	if err := json.Unmarshal([]byte(out), &queued); err != nil || queued.Status != "queued" {
		t.Fatalf("scheduled call: %d %s", code, out)
	}
	calls := h.Invoked.Calls()
	if len(calls) != before+1 || calls[len(calls)-1].Function != Name {
		t.Fatalf("the scheduled call invoked %+v, want one %s job", calls[before:], Name)
	}
	var msg jobs.Message
	if err := json.Unmarshal(calls[len(calls)-1].Body, &msg); err != nil || msg.Kind != jobs.Backup.Name {
		t.Fatalf("invocation body %s: %v", calls[len(calls)-1].Body, err)
	}
	code, out = h.RunJob(t, jobs.Job{ID: msg.JobID, Kind: msg.Kind, Function: Name, Subject: msg.Subject})
	var done struct {
		Result Answer `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &done); err != nil {
		t.Fatalf("%d %s: %v", code, out, err)
	}
	r.Answer = done.Result
	if r.Databases != nil && len(r.Databases.Databases) > 0 && r.Databases.Databases[0].Report != nil {
		r.Key, r.SHA256 = r.Databases.Databases[0].Report.Key, r.Databases.Databases[0].Report.SHA256
	}
	return code, r
}

// The scheduled call: cron-connector POSTs with an empty body.
func TestRunStoresVerifiedBackupInBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	d := dbtest.New(t)
	seed(t, d)
	h := start(t, d, srv.Env(bucket))
	code, r := run(t, h)
	if code != http.StatusOK || r.Status != backup.StatusVerified {
		t.Fatalf("got %d %+v", code, r)
	}
	if want := d.Name + "/" + d.Name + "-20260302T031700Z.dump.zst"; r.Key != want {
		t.Errorf("key %s, want %s", r.Key, want)
	}
	var list struct {
		Contents []struct {
			Key  string
			Size int64
		}
	}
	if err := json.Unmarshal(srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket), &list); err != nil {
		t.Fatal(err)
	}
	// The dump and, beside it, the roles and globals.
	if len(list.Contents) != 2 || list.Contents[1].Key != r.Key || !strings.HasPrefix(list.Contents[0].Key, backup.GlobalsName+"/") ||
		list.Contents[0].Size+list.Contents[1].Size != r.Bytes {
		t.Fatalf("bucket holds %+v, answer %+v", list.Contents, r.Answer)
	}
	file := filepath.Join(t.TempDir(), "b")
	srv.AWS(t, "s3", "cp", "--only-show-errors", "s3://"+bucket+"/"+r.Key, file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != r.SHA256 {
		t.Errorf("fetched object sha256 %x, reported %s", sum, r.SHA256)
	}
	if n := dbtest.Count(t, d.Pool, "backups", "status = 'verified' AND sha256 = $1 AND verified_at = $2", r.SHA256, h.Clock.Now()); n != 1 {
		t.Errorf("verified rows = %d, want 1", n)
	}
	if n := dbtest.Count(t, d.Pool, "backups", "(row_counts->>'public.listings')::int = 200"); n != 1 {
		t.Error("row counts not recorded")
	}
}

// Without S3 settings the function writes to the local folder.
func TestLocalFolderByDefault(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	dir := t.TempDir()
	h := start(t, d, map[string]string{"BACKUP_DIR": dir})
	code, r := run(t, h)
	if code != http.StatusOK || r.Status != backup.StatusVerified {
		t.Fatalf("got %d %+v", code, r)
	}
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(r.Key))); err != nil || st.Size() != r.Databases.Databases[0].Report.Bytes || st.Mode().Perm() != 0o600 {
		t.Errorf("local object: %v %v", st, err)
	}
	// make run has no attachment bucket: skipped, and said so.
	if r.Attachments != nil || !strings.Contains(r.Skipped, "ATTACHMENTS_S3_ACCESS_KEY_ID") {
		t.Errorf("attachments: %+v skipped %q", r.Attachments, r.Skipped)
	}
	if code, body := h.Post(t, []byte(`{"what":"attachments"}`), nil); code != http.StatusBadRequest || !strings.Contains(body, "ATTACHMENTS_S3_ACCESS_KEY_ID") {
		t.Errorf("attachments asked for without settings: %d %s", code, body)
	}
}

// corruptingProxy forwards to the S3 server and flips a byte in every
// object it returns, as a failing disk or network would.
func corruptingProxy(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(res *http.Response) error {
		r := res.Request
		// GetObject: GET /bucket/key (aws-sdk-go-v2 adds ?x-id=GetObject).
		getObject := r.Method == http.MethodGet && strings.Contains(strings.Trim(r.URL.Path, "/"), "/") &&
			(r.URL.RawQuery == "" || r.URL.RawQuery == "x-id=GetObject")
		if getObject && res.StatusCode == http.StatusOK {
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x10
			res.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCorruptedObjectFailsRun(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	d := dbtest.New(t)
	seed(t, d)
	env := srv.Env(bucket)
	env["BACKUP_S3_ENDPOINT"] = corruptingProxy(t, srv.Endpoint)
	h := start(t, d, env)
	code, r := run(t, h)
	if code != http.StatusInternalServerError || r.Status != "failed" || r.Stage != "verify" {
		t.Fatalf("got %d %+v, want 500 failing in verify", code, r)
	}
	if n := dbtest.Count(t, d.Pool, "backups", "database_name = $1 AND status = 'failed' AND verified_at IS NULL AND error LIKE 'verify: backup object is corrupt%'", d.Name); n != 1 {
		t.Errorf("failed rows = %d, want 1", n)
	}
	logs := fntest.Logs()
	if !strings.Contains(logs, `"backup_failed":true`) || !strings.Contains(logs, `"stage":"verify"`) || !strings.Contains(logs, `"level":"error"`) {
		t.Errorf("no error log line for the failed verification:\n%s", logs)
	}
}

func TestStorageUnreachable(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	h := start(t, d, map[string]string{
		"BACKUP_S3_ENDPOINT": endpoint, "BACKUP_S3_BUCKET": "backups",
		"BACKUP_S3_ACCESS_KEY_ID": "id-for-test", "BACKUP_S3_SECRET_ACCESS_KEY": "secret-for-test",
	})
	code, r := run(t, h)
	if code != http.StatusServiceUnavailable || r.Stage != "store" || !strings.Contains(r.Error, "unreachable") {
		t.Fatalf("got %d %+v, want 503 naming the unreachable store", code, r)
	}
	if n := dbtest.Count(t, d.Pool, "backups", ""); n != 0 {
		t.Errorf("%d backups rows after a run that could not start", n)
	}
}

func TestOverlappingRunRefused(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	h := start(t, d, map[string]string{"BACKUP_DIR": t.TempDir()})
	conn, err := d.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_lock($1)", backup.LockKey); err != nil {
		t.Fatal(err)
	}
	code, r := run(t, h)
	if code != http.StatusServiceUnavailable || !strings.Contains(r.Error, "another backup") {
		t.Fatalf("got %d %+v while another run holds the lock", code, r)
	}
	_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", backup.LockKey)
	if code, r := run(t, h); code != http.StatusOK {
		t.Fatalf("after the other run: %d %+v", code, r)
	}
}

func TestMethod(t *testing.T) {
	t.Parallel()
	h := start(t, dbtest.New(t), map[string]string{"BACKUP_DIR": t.TempDir()})
	if code, body := h.Do(t, http.MethodGet, nil, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s", code, body)
	}
}

func TestConfigurationErrorsNamed(t *testing.T) {
	d := dbtest.New(t)
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "id-for-test"}, "BACKUP_S3_ENDPOINT"},
		{map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "id-for-test", "BACKUP_S3_ENDPOINT": "https://acct.r2.cloudflarestorage.com"}, "r2-secret-access-key"},
		{map[string]string{"BACKUP_S3_ACCESS_KEY_ID": "id-for-test", "BACKUP_S3_ENDPOINT": "${R2_ENDPOINT}", "BACKUP_S3_SECRET_ACCESS_KEY": "secret-for-test"}, "BACKUP_S3_ENDPOINT"},
		{map[string]string{"BACKUP_KEEP_DAILY": "-1"}, "BACKUP_KEEP_DAILY"},
		{map[string]string{"BACKUP_KEEP_WEEKLY": "four"}, "BACKUP_KEEP_WEEKLY"},
		{map[string]string{"DATABASE_URL": "host=db user=app"}, "postgres:// URL"},
	}
	for _, tt := range tests {
		vars := map[string]string{"DATABASE_URL": d.URL, "SECRETS_DIR": t.TempDir()}
		for k, v := range tt.env {
			vars[k] = v
		}
		_, _, err := faas.Build(context.Background(), faas.Options{Name: Name, Lookup: config.FromMap(vars), LogOutput: io.Discard, DB: d.Pool}, New)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

// Several databases in one run: one that does not exist fails the run
// visibly — a non-2xx answer naming it, an error log line, a failed row
// that redrive's metrics export — and the others are backed up and
// verified all the same. Mutation tried: answering 200 when only some
// databases failed (killed: "got 200").
func TestSeveralDatabasesOneFailing(t *testing.T) {
	t.Parallel()
	d, other := dbtest.New(t), dbtest.New(t)
	seed(t, d)
	seed(t, other)
	missing := d.Name + "_gone"
	h := start(t, d, map[string]string{"BACKUP_DIR": t.TempDir(), "BACKUP_DATABASES": d.Name + "," + missing + "," + other.Name})
	code, r := run(t, h)
	if code != http.StatusInternalServerError || r.Status != backup.StatusFailed || len(r.Failed) != 1 || r.Failed[0] != missing || r.Stage != "connect" {
		t.Fatalf("got %d %+v, want 500 naming %s", code, r.Answer, missing)
	}
	verified := map[string]bool{}
	for _, o := range r.Databases.Databases {
		verified[o.Database] = o.Status == backup.StatusVerified
	}
	if !verified[d.Name] || !verified[other.Name] || verified[missing] || r.Databases.Globals.Status != backup.StatusVerified {
		t.Errorf("parts: %+v", r.Databases)
	}
	if n := dbtest.Count(t, d.Pool, "backups", "status = 'verified' AND database_name IN ($1, $2)", d.Name, other.Name); n != 2 {
		t.Errorf("verified rows = %d, want 2", n)
	}
	var found bool
	for _, line := range strings.Split(fntest.Logs(), "\n") {
		if strings.Contains(line, `"level":"error"`) && strings.Contains(line, `"backup_failed":true`) &&
			strings.Contains(line, `"database":"`+missing+`"`) && strings.Contains(line, `"stage":"connect"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no error line naming the failed database:\n%s", fntest.Logs())
	}
	var metrics bytes.Buffer
	if err := backup.WritePrometheus(context.Background(), d.Pool, &metrics); err != nil {
		t.Fatal(err)
	}
	if want := backup.MetricLastFailed + `{database="` + missing + `"} 1`; !strings.Contains(metrics.String(), want) {
		t.Errorf("metrics lack %s:\n%s", want, metrics.String())
	}
}

// With an attachment bucket configured, the scheduled run (empty body)
// backs up the databases and then the attachments, encrypted; the body
// {"what":"attachments"} copies only what changed since.
func TestAttachmentsInTheSameRun(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	source := srv.Bucket(t)
	d := dbtest.New(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "backup-age-identity"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		file := filepath.Join(t.TempDir(), "a")
		if err := os.WriteFile(file, []byte(strings.Repeat("attachment ", 100+i)), 0o600); err != nil {
			t.Fatal(err)
		}
		srv.AWS(t, "s3api", "put-object", "--bucket", source, "--key", "key"+string(rune('a'+i)), "--body", file, "--content-type", "image/png")
	}
	dir := t.TempDir()
	h := start(t, d, map[string]string{
		"BACKUP_DIR": dir, "SECRETS_DIR": secrets, "BACKUP_AGE_RECIPIENTS": id.Recipient().String(),
		"ATTACHMENTS_S3_ENDPOINT": srv.Endpoint, "ATTACHMENTS_BUCKET": source, "ATTACHMENTS_S3_REGION": "auto",
		"ATTACHMENTS_S3_ACCESS_KEY_ID": s3test.AccessKey, "ATTACHMENTS_S3_SECRET_ACCESS_KEY": s3test.SecretKey,
	})
	code, r := run(t, h)
	if code != http.StatusOK || r.Status != backup.StatusVerified || r.Attachments == nil || r.Databases == nil {
		t.Fatalf("got %d %+v", code, r.Answer)
	}
	if a := r.Attachments; a.Status != attachments.StatusComplete || a.Copied != 3 || a.Verified != 3 || !a.Encrypted {
		t.Errorf("attachments: %+v", a)
	}
	if !strings.HasSuffix(r.Key, ".dump.zst.age") {
		t.Errorf("dump key %s is not encrypted", r.Key)
	}
	code, r = runBody(t, h, []byte(`{"what":"attachments"}`))
	if code != http.StatusOK || r.Databases != nil || r.Attachments == nil || r.Attachments.Copied != 0 || r.Attachments.Unchanged != 3 {
		t.Fatalf("attachments only: %d %+v %+v", code, r.Answer, r.Attachments)
	}
	if code, body := h.Post(t, []byte(`{"what":"everything"}`), nil); code != http.StatusBadRequest {
		t.Errorf("unknown what: %d %s", code, body)
	}
}
