package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/aircall/aircalltest"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/chatwootsetup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/llm/llmtest"
	"github.com/harborstays/concierge/lib/objstore/s3test"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
	"github.com/harborstays/concierge/lib/speech/azuretest"
	"github.com/harborstays/concierge/lib/testenv"
)

// doctorChecks are the report's lines, in order.
var doctorChecks = []string{
	"postgres", "postgres migrations", "postgres createdb", "postgres connections",
	"embeddings", "qdrant collection", "qdrant payload indexes",
	"azure speech key", "azure speech voices", "backup bucket", "llm model",
	"chatwoot", "chatwoot api token", "chatwoot contacts token", "chatwoot account", "chatwoot contact inbox", "chatwoot agent bot", "chatwoot setup",
	"aircall api", "guesty api",
}

// reportLines splits the text report into mark and rest per check name,
// failing the test unless it has exactly one line per check, in order.
func reportLines(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(doctorChecks) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(doctorChecks), out)
	}
	got := map[string]string{}
	for i, name := range doctorChecks {
		mark, rest, _ := strings.Cut(lines[i], " ")
		if !strings.HasPrefix(rest, name+"  ") {
			t.Fatalf("line %d is %q, want check %q", i+1, lines[i], name)
		}
		got[name] = mark + " " + strings.TrimSpace(strings.TrimPrefix(rest, name))
	}
	return got
}

// embeddingsAPI serves 8-dimension vectors for any model (POST /v1/embeddings).
func embeddingsAPI(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Input []string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		data := []map[string]any{}
		for i := range req.Input {
			data = append(data, map[string]any{"index": i, "embedding": []float32{1, 0, 0, 0, 0, 0, 0, float32(i)}})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// TestDoctorAllConfigured points every provider at its local fake, set up
// as production should be: every line is ✓ but Guesty's, and the command
// succeeds. Secrets come from files under SECRETS_DIR, as in production.
func TestDoctorAllConfigured(t *testing.T) {
	d := dbtest.New(t)
	s3 := s3test.Start(t)
	bucket := s3.Bucket(t)
	azure := azuretest.New(t, "westeurope", azuretest.NeuralVoice("en-US-AvaMultilingualNeural"), azuretest.NeuralVoice("fr-FR-DeniseNeural"))
	model := llmtest.New(t, "gsk_doctor_0123456789")
	model.AddModel("openai/gpt-oss-120b")
	cw := chatwoottest.New(t)
	cw.AddInbox(1, 4)
	cw.KeepPendingOnBotFailure = true
	cw.AddAgentBot(chatwoottest.AgentBot{Name: "Concierge", AccountID: 1, OutgoingURL: "https://gateway.concierge.example/function/llm-query", Secret: "bot-secret-0123456789"})
	// The account as concierge chatwoot-setup leaves it, from the desired
	// state Ansible applies.
	ptok := cw.AddPlatformApp()
	cw.PermitAccount(ptok, 1)
	st, err := chatwootsetup.Load("../../ansible/roles/chatwoot_setup/files/chatwoot.yml", config.FromMap(map[string]string{"CONCIERGE_DOMAIN": "concierge.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chatwootsetup.Run(t.Context(), chatwootsetup.Options{BaseURL: cw.URL, PlatformToken: ptok, AccountID: 1, State: st}); err != nil {
		t.Fatal(err)
	}
	ac := aircalltest.New(t)
	qd := qdranttest.StartServer(t)
	emb := embeddingsAPI(t)
	client, err := qdrant.Dial("http://"+qd.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := embed.New(embed.Options{BaseURL: emb, Model: "nomic-embed-text"})
	if _, err := qdrant.New(t.Context(), client, e, "chunks"); err != nil {
		t.Fatal(err)
	}
	_ = client.Close()

	secrets := t.TempDir()
	for name, value := range map[string]string{
		"database-url": d.URL, "azure-speech-key": azure.Key("westeurope"), "groq-api-key": model.Key,
		"chatwoot-api-token": cw.BotToken, "chatwoot-contacts-token": cw.UserToken, "aircall-api-token": ac.Token,
		"chatwoot-webhook-secret": "bot-secret-0123456789",
		"r2-access-key-id":        s3test.AccessKey, "r2-secret-access-key": s3test.SecretKey,
	} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"SECRETS_DIR":         secrets,
		"EMBEDDINGS_URL":      emb,
		"EMBEDDINGS_MODEL":    "nomic-embed-text",
		"QDRANT_URL":          "http://" + qd.Addr,
		"QDRANT_COLLECTION":   "chunks",
		"AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_ENDPOINT": azure.URL,
		"AZURE_SPEECH_VOICES": "en=en-US-AvaMultilingualNeural,fr=fr-FR-DeniseNeural",
		"BACKUP_S3_ENDPOINT":  s3.Endpoint, "BACKUP_S3_BUCKET": bucket,
		"LLM_BASE_URL": model.URL(), "LLM_MODEL": "openai/gpt-oss-120b",
		"CHATWOOT_URL": cw.URL, "CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4",
		"AIRCALL_API_URL": ac.URL, "AIRCALL_API_ID": ac.ID,
	}
	var out bytes.Buffer
	if err := doctorCommand(t.Context(), config.FromMap(env), []string{"--stack", "../../stack.yml"}, &out); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out.String())
	}
	lines := reportLines(t, out.String())
	for name, line := range lines {
		if name == "guesty api" {
			if !strings.HasPrefix(line, "– local default in use: no Guesty API") {
				t.Errorf("guesty: %q", line)
			}
			continue
		}
		if !strings.HasPrefix(line, "✓ ") {
			t.Errorf("%s: %q", name, line)
		}
	}
	t.Logf("report:\n%s", out.String())
	for _, secret := range []string{d.URL, model.Key, cw.BotToken, cw.UserToken, s3test.SecretKey, azure.Key("westeurope")} {
		if strings.Contains(out.String(), secret) {
			t.Fatal("the report shows a secret")
		}
	}
}

// TestDoctorFailuresAndSkips: a database, a model and Azure Speech
// configured wrongly, the rest not at all.
func TestDoctorFailuresAndSkips(t *testing.T) {
	d := dbtest.New(t)
	azure := azuretest.New(t, "westeurope", azuretest.NeuralVoice("en-US-AvaMultilingualNeural"))
	model := llmtest.New(t, "gsk_doctor_0123456789")
	model.AddModel("openai/gpt-oss-120b")
	model.Decommission("llama-3.3-70b-versatile")
	env := map[string]string{
		"SECRETS_DIR":  t.TempDir(),
		"DATABASE_URL": d.URL,
		// A key of no resource the endpoint knows.
		"AZURE_SPEECH_KEY": "00000000000000000000000000000000", "AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_ENDPOINT": azure.URL,
		"GROQ_API_KEY": model.Key, "LLM_BASE_URL": model.URL(), "LLM_MODEL": "llama-3.3-70b-versatile",
	}
	var out bytes.Buffer
	err := doctorCommand(t.Context(), config.FromMap(env), []string{"--stack", "../../stack.yml"}, &out)
	var failed errChecksFailed
	if !errors.As(err, &failed) || failed != 2 || err.Error() != "2 checks failed" {
		t.Fatalf("err %v, want 2 checks failed\n%s", err, out.String())
	}
	t.Logf("report:\n%s", out.String())
	lines := reportLines(t, out.String())
	for name, prefix := range map[string]string{
		"postgres":            "✓ PostgreSQL ",
		"postgres migrations": "✓ all ",
		"azure speech key":    "✗ ",
		"azure speech voices": "– not checked",
		"llm model":           "✗ LLM_MODEL",
		"backup bucket":       "– local default in use: folder BACKUP_DIR=.data/backups",
		"qdrant collection":   "– local default in use: the PostgreSQL full-text index",
		"chatwoot":            "– local default in use: replies go to the local outbox",
		"chatwoot account":    "– not checked: CHATWOOT_URL unset",
		"aircall api":         "– local default in use",
	} {
		if !strings.HasPrefix(lines[name], prefix) {
			t.Errorf("%s: %q, want it to start %q", name, lines[name], prefix)
		}
	}
	if !strings.Contains(lines["azure speech key"], "— fix: AZURE_SPEECH_KEY") {
		t.Errorf("azure fix: %q", lines["azure speech key"])
	}
	if !strings.Contains(lines["llm model"], "— fix: LLM_MODEL: a model the endpoint lists, by its full id (e.g. openai/gpt-oss-120b)") {
		t.Errorf("llm fix: %q", lines["llm model"])
	}

	out.Reset()
	_ = doctorCommand(t.Context(), config.FromMap(env), []string{"--json", "--stack", "../../stack.yml"}, &out)
	var doc struct {
		OK       bool `json:"ok"`
		Failures int  `json:"failures"`
		Checks   []struct{ Name, State, Found, Fix string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	if doc.OK || doc.Failures != 2 || len(doc.Checks) != len(doctorChecks) || doc.Checks[10].Name != "llm model" ||
		doc.Checks[10].State != "fail" || !strings.HasPrefix(doc.Checks[10].Fix, "LLM_MODEL") {
		t.Fatalf("json report %+v", doc)
	}
}

func TestDoctorArguments(t *testing.T) {
	var out bytes.Buffer
	if err := doctorCommand(t.Context(), config.FromMap(nil), []string{"--nope"}, &out); err == nil || !strings.Contains(err.Error(), "usage: concierge doctor") {
		t.Fatalf("bad flag: %v", err)
	}
	if err := doctorCommand(t.Context(), config.FromMap(nil), []string{"-h"}, &out); err != nil || !strings.Contains(out.String(), "--stack") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}

// TestDoctorExitStatus runs `concierge doctor` as a process (this test
// binary re-entering main): status 0 when nothing fails, 1 with the count
// on stderr when a check fails.
func TestDoctorExitStatus(t *testing.T) {
	if os.Getenv("CONCIERGE_DOCTOR_CHILD") == "1" {
		os.Args = []string{"concierge", "doctor", "--stack", "../../stack.yml"}
		main()
		return
	}
	admin := os.Getenv("CONCIERGE_TEST_DATABASE_URL")
	if c := dbtest.Cluster(); c != nil {
		admin = c.URL("postgres")
	}
	if admin == "" {
		testenv.Skip(t, "no test database (PostgreSQL server binaries or CONCIERGE_TEST_DATABASE_URL)")
	}
	run := func(vars ...string) (int, string, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDoctorExitStatus$", "-test.count=1")
		// The child runs one test that logs nothing: no log guard there.
		cmd.Env = append(os.Environ(), "CONCIERGE_DOCTOR_CHILD=1", "CONCIERGE_TEST_DATABASE_URL="+admin, "SECRETS_DIR="+t.TempDir(),
			"CONCIERGE_TEST_EXPECT_LOGS=")
		for _, v := range []string{"DATABASE_URL", "QDRANT_URL", "AZURE_SPEECH_KEY", "BACKUP_S3_ACCESS_KEY_ID", "GROQ_API_KEY", "CHATWOOT_URL", "AIRCALL_API_ID", "AIRCALL_API_TOKEN"} {
			cmd.Env = append(cmd.Env, v+"=")
		}
		cmd.Env = append(cmd.Env, vars...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	code, stdout, stderr := run()
	if code != 0 || !strings.Contains(stdout, "– postgres  ") || !strings.Contains(stdout, "– guesty api  ") {
		t.Fatalf("nothing configured: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = run("DATABASE_URL=postgres://concierge@127.0.0.1:1/concierge?sslmode=disable&connect_timeout=2")
	if code != 1 || !strings.Contains(stdout, "✗ postgres  ") || !strings.Contains(stderr, "concierge: 1 check failed") {
		t.Fatalf("database unreachable: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
