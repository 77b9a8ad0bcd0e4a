package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/seed"
)

const (
	sampleJordan = "66a1f0c2e4b0a1b2c3d4e5f6"
	sampleSam    = "66a1f0c2e4b0a1b2c3d4e5a7"
)

// forgetEnv is make run's sample guests in a database of their own, with
// an erasure log key in the secrets folder as make run writes it.
func forgetEnv(t *testing.T, extra map[string]string) (*dbtest.DB, config.LookupFunc) {
	t.Helper()
	d := dbtest.New(t)
	if err := seed.Load(context.Background(), d.Pool, &fntest.Recorder{}, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "erasure-log-key"), []byte(localSecrets["erasure-log-key"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"DATABASE_URL": d.URL, "SECRETS_DIR": secrets, "LOG_LEVEL": "warn", "KNOWLEDGE_DIR": t.TempDir()}
	for k, v := range extra {
		m[k] = v
	}
	return d, config.FromMap(m)
}

func TestForgetGuestCommand(t *testing.T) {
	ctx := context.Background()
	cw := chatwoottest.New(t)
	cw.AddContact(chatwoottest.Contact{AccountID: 1, ID: 57, Name: "Jordan Avery"})
	cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 4, ContactID: 57})
	d, env := forgetEnv(t, map[string]string{"CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_CONTACTS_TOKEN": cw.UserToken})
	if _, err := d.Pool.Exec(ctx, `INSERT INTO contact_links (guest_id, account_id, contact_id, synced_hash) VALUES ($1, 1, 57, 'h')`, sampleJordan); err != nil {
		t.Fatal(err)
	}
	before := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", sampleJordan)

	var out bytes.Buffer
	if err := forgetGuest(ctx, []string{"--phone", "+15555550142", "--dry-run", "--chatwoot"}, env, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"guest: " + sampleJordan, "jordan.avery@example.com", "calls: 1843377012", "would remove:", "reservations", "would delete 1 Chatwoot contact", "dry run: nothing changed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", sampleJordan); n != before || n == 0 {
		t.Fatalf("the dry run removed reservations: %d of %d", n, before)
	}

	out.Reset()
	if err := forgetGuest(ctx, []string{"--guesty-id", sampleJordan, "--chatwoot"}, env, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "removed:") || !strings.Contains(out.String(), "deleted Chatwoot contact 57") {
		t.Errorf("output:\n%s", out.String())
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", sampleJordan); n != 0 {
		t.Errorf("%d reservations left", n)
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "guest_id = $1", sampleSam); n != 1 {
		t.Errorf("Sam's reservations: %d", n)
	}
	if len(cw.Contacts(1)) != 0 {
		t.Errorf("Chatwoot still has the contact")
	}
	if _, ok := cw.Conversation(1, 1287); ok {
		t.Errorf("Chatwoot still has the conversation")
	}
	if n := dbtest.Count(t, d.Pool, "erasure_log", "source = 'cli'"); n != 1 {
		t.Errorf("%d erasures logged", n)
	}

	out.Reset()
	if err := forgetGuest(ctx, []string{"--email", "jordan.avery@example.com"}, env, &out); err != nil || !strings.Contains(out.String(), "nothing held") {
		t.Errorf("second erasure: %v\n%s", err, out.String())
	}

	// The log travels as JSON lines and replays into a restored copy.
	logFile := filepath.Join(t.TempDir(), "erasures.jsonl")
	out.Reset()
	if err := forgetGuest(ctx, []string{"--export-log", logFile}, env, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	restored, renv := forgetEnv(t, nil)
	// The restored copy has to use the same key: the one make run keeps.
	out.Reset()
	if err := forgetGuest(ctx, []string{"--replay-log", "--log", logFile}, renv, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "erased again") {
		t.Errorf("replay output:\n%s", out.String())
	}
	if n := dbtest.Count(t, restored.Pool, "reservations", "guest_id = $1", sampleJordan); n != 0 {
		t.Errorf("the replay left %d of Jordan's reservations", n)
	}
	if n := dbtest.Count(t, restored.Pool, "reservations", "guest_id = $1", sampleSam); n != 1 {
		t.Errorf("the replay touched Sam: %d", n)
	}

	for _, bad := range [][]string{{}, {"--phone", "555-0142"}, {"--phone", "+15555550142", "--email", "a@b.c"}, {"--replay-log", "--phone", "+15555550142"}, {"stray"}} {
		if err := forgetGuest(ctx, bad, env, &out); err == nil || !strings.Contains(err.Error(), "usage:") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestForgetGuestNeedsTheKey(t *testing.T) {
	d := dbtest.New(t)
	env := config.FromMap(map[string]string{"DATABASE_URL": d.URL, "SECRETS_DIR": t.TempDir(), "LOG_LEVEL": "warn"})
	err := forgetGuest(context.Background(), []string{"--guesty-id", sampleJordan}, env, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "ERASURE_LOG_KEY") {
		t.Errorf("%v", err)
	}
}

func TestExportGuestCommand(t *testing.T) {
	_, env := forgetEnv(t, nil)
	dir := t.TempDir()
	var out bytes.Buffer
	if err := exportGuest(context.Background(), []string{"--email", "Jordan.Avery@example.com", "--out", dir}, env, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "guest-export-*"))
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v", f, st.Mode().Perm())
		}
		if strings.Contains(filepath.Base(f), "jordan") {
			t.Errorf("the file name holds the selector: %s", f)
		}
		if !strings.Contains(string(b), "Jordan Avery") || strings.Contains(string(b), "Sam Rivera") {
			t.Errorf("%s: Jordan's name %v, Sam's %v", f, strings.Contains(string(b), "Jordan Avery"), strings.Contains(string(b), "Sam Rivera"))
		}
		if strings.HasSuffix(f, ".json") {
			var v struct {
				Sections []struct {
					Name string
					Rows []map[string]any
				}
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, s := range v.Sections {
				got[s.Name] = len(s.Rows)
			}
			if got["guests"] != 1 || got["reservations"] != 1 || got["calls"] == 0 || got["webhook_events"] == 0 || got["indexed_chunks"] != 0 && got["documents"] == 0 {
				t.Errorf("sections %v", got)
			}
		}
	}
	out.Reset()
	if err := exportGuest(context.Background(), []string{"--phone", "+15550000000", "--out", dir}, env, &out); err != nil || !strings.Contains(out.String(), "nothing held") {
		t.Errorf("unknown guest: %v %s", err, out.String())
	}
}
