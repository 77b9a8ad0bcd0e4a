package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/objstore/s3test"
)

// make run with BACKUP_DATABASES naming two databases backs up and
// verifies both; without it, the runner's own database only — not the
// production list in stack.yml, whose chatwoot and keycloak do not exist
// here. Then `make restore` (concierge backups) shows the last proven
// restore of each. Mutation tried: dropping the runner's BACKUP_DATABASES
// default (the first case then answered 500 for chatwoot and keycloak).
func TestRunnerBacksUpEveryDatabase(t *testing.T) {
	tests := []struct {
		name  string
		other bool
	}{
		{"default: the runner's database", false},
		{"BACKUP_DATABASES naming two", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dbtest.New(t)
			dir := t.TempDir()
			vars := map[string]string{"DATABASE_URL": d.URL, "BACKUP_DIR": dir}
			want := []string{d.Name}
			if tt.other {
				other := dbtest.New(t)
				vars["BACKUP_DATABASES"] = d.Name + "," + other.Name
				want = append(want, other.Name)
			}
			sys := startSystem(t, vars)
			// The scheduled call queues the run; the runner's queue runs it.
			res, body := call(t, "POST", sys.URL+"/function/backup", nil, nil)
			var queued struct {
				Status string `json:"status"`
				JobID  string `json:"job_id"`
			}
			if err := json.Unmarshal([]byte(body), &queued); err != nil || res.StatusCode != 202 || queued.Status != "queued" {
				t.Fatalf("backup: %d %s", res.StatusCode, body)
			}
			deadline := time.Now().Add(3 * time.Minute)
			for dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'done'", queued.JobID) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("backup job %s not done: %d failed", queued.JobID, dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status IN ('failed', 'retrying')", queued.JobID))
				}
				time.Sleep(200 * time.Millisecond)
			}
			for _, name := range append(want, backup.GlobalsName) {
				if n := dbtest.Count(t, d.Pool, "backups", "database_name = $1 AND status = 'verified'", name); n != 1 {
					t.Errorf("%d verified backups of %s, want 1", n, name)
				}
			}
			if n := dbtest.Count(t, d.Pool, "backups", ""); n != len(want)+1 {
				t.Errorf("%d backups rows, want %d (the runner backed up %d databases and the roles)", n, len(want)+1, len(want))
			}

			var out bytes.Buffer
			env := config.FromMap(map[string]string{"DATABASE_URL": d.URL, "BACKUP_DIR": dir, "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn"})
			if err := backupsCommand(context.Background(), env, nil, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Last proven restore") {
				t.Fatalf("no proven restores:\n%s", out.String())
			}
			for _, name := range append(want, backup.GlobalsName) {
				if !lineWith(out.String(), name, time.Now().UTC().Format("2006-01-02"), "verified") {
					t.Errorf("no proven restore of %s today:\n%s", name, out.String())
				}
			}
			if !strings.Contains(out.String(), "attachments: no backup run recorded") {
				t.Errorf("attachments not mentioned:\n%s", out.String())
			}
		})
	}
}

// lineWith reports whether one line of s holds every part.
func lineWith(s string, parts ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// The recovery commands of docs/recovery.md: an encrypted dump written out
// as a plain archive, the globals as SQL, the attachment bucket put back
// from the store, and the last proven restore of the attachments shown.
func TestRecoveryCommands(t *testing.T) {
	srv := s3test.Start(t)
	source, restored := srv.Bucket(t), srv.Bucket(t)
	d := dbtest.New(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "backup-age-identity"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"DATABASE_URL": d.URL, "BACKUP_DIR": t.TempDir(), "SECRETS_DIR": secrets, "LOG_LEVEL": "warn",
		"BACKUP_AGE_RECIPIENTS":   id.Recipient().String(),
		"ATTACHMENTS_S3_ENDPOINT": srv.Endpoint, "ATTACHMENTS_BUCKET": source, "ATTACHMENTS_S3_REGION": "auto",
		"ATTACHMENTS_S3_ACCESS_KEY_ID": s3test.AccessKey, "ATTACHMENTS_S3_SECRET_ACCESS_KEY": s3test.SecretKey,
	}
	env := config.FromMap(vars)
	ctx := context.Background()
	cfg := config.New(env)
	svc, err := backup.FromConfig(cfg, d.Pool, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := svc.RunAll(ctx)
	if err != nil || rr.Status != backup.StatusVerified {
		t.Fatalf("RunAll: %+v %v", rr, err)
	}
	file := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(file, []byte("a guest's photo"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.AWS(t, "s3api", "put-object", "--bucket", source, "--key", "photo-key", "--body", file, "--content-type", "image/jpeg")
	syncer, err := attachments.FromConfig(cfg, d.Pool, svc.Store, svc.Crypt, svc.Prefix, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := syncer.Run(ctx); err != nil || rep.Status != attachments.StatusComplete {
		t.Fatalf("sync: %+v %v", rep, err)
	}

	var out bytes.Buffer
	dump := filepath.Join(t.TempDir(), "concierge.dump")
	if err := restoreCommand(ctx, env, []string{"-backup", rr.Databases[0].Report.Key, "-out", dump}, &out); err != nil {
		t.Fatalf("restore -out: %v\n%s", err, out.String())
	}
	if b, err := os.ReadFile(dump); err != nil || !bytes.HasPrefix(b, []byte("PGDMP")) {
		t.Errorf("written archive: %v, starts % x", err, b[:min(5, len(b))])
	}
	if err := restoreCommand(ctx, env, []string{"-backup", rr.Databases[0].Report.Key, "-out", dump}, &out); err == nil || !strings.Contains(err.Error(), "nothing was overwritten") {
		t.Errorf("restore -out over an existing file: %v", err)
	}
	// Onto an empty server: no DATABASE_URL, only the store and the identity.
	bare := config.FromMap(map[string]string{"BACKUP_DIR": vars["BACKUP_DIR"], "SECRETS_DIR": secrets, "DATA_DIR": t.TempDir()})
	if err := restoreCommand(ctx, bare, []string{"-backup", rr.Globals.Report.Key, "-out", filepath.Join(t.TempDir(), "g.sql")}, &out); err != nil {
		t.Errorf("restore -out without a database: %v", err)
	}
	globals := filepath.Join(t.TempDir(), "globals.sql")
	if err := restoreCommand(ctx, env, []string{"-globals", "-backup", "latest", "-out", globals}, &out); err != nil {
		t.Fatalf("restore -globals: %v\n%s", err, out.String())
	}
	if b, _ := os.ReadFile(globals); !strings.Contains(string(b), "CREATE ROLE postgres;") {
		t.Errorf("globals SQL:\n%.300s", b)
	}
	if err := restoreCommand(ctx, env, []string{"-globals", "-backup", "latest"}, &out); err == nil || !strings.Contains(err.Error(), "-out") {
		t.Errorf("restore -globals without -out: %v", err)
	}

	out.Reset()
	if err := restoreCommand(ctx, env, []string{"-attachments", "-bucket", restored}, &out); err != nil {
		t.Fatalf("restore -attachments: %v\n%s", err, out.String())
	}
	got := filepath.Join(t.TempDir(), "photo")
	srv.AWS(t, "s3", "cp", "--only-show-errors", "s3://"+restored+"/photo-key", got)
	if b, _ := os.ReadFile(got); string(b) != "a guest's photo" || !strings.Contains(out.String(), "1 restored") {
		t.Errorf("restored attachment %q:\n%s", b, out.String())
	}
	noAtt := config.FromMap(map[string]string{"DATABASE_URL": d.URL, "BACKUP_DIR": vars["BACKUP_DIR"], "SECRETS_DIR": t.TempDir()})
	if err := restoreCommand(ctx, noAtt, []string{"-attachments"}, &out); err == nil || !strings.Contains(err.Error(), "ATTACHMENTS_S3_ACCESS_KEY_ID") {
		t.Errorf("restore -attachments without settings: %v", err)
	}

	out.Reset()
	if err := backupsCommand(ctx, env, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !lineWith(out.String(), "attachments (bucket "+source+")", "last complete", "1 copies read back intact") {
		t.Errorf("no proven attachment backup:\n%s", out.String())
	}
	if _, ok := svc.Store.(*objstore.Dir); !ok {
		t.Fatalf("store %T", svc.Store)
	}
}
