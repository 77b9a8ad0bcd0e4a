package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
)

func TestChatwootSetupCommand(t *testing.T) {
	fake := chatwoottest.New(t)
	secrets := t.TempDir()
	token := fake.AddPlatformApp()
	if err := os.WriteFile(filepath.Join(secrets, "chatwoot-platform-token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CHATWOOT_URL": fake.URL, "SECRETS_DIR": secrets, "CONCIERGE_DOMAIN": "example.com",
		"CHATWOOT_SETUP_FILE": "../../ansible/roles/chatwoot_setup/files/chatwoot.yml"}
	out := filepath.Join(t.TempDir(), "out")

	var first bytes.Buffer
	if err := chatwootSetupCommand(t.Context(), config.FromMap(env), []string{"--out", out}, &first); err != nil {
		t.Fatalf("%v\n%s", err, first.String())
	}
	t.Log(first.String())
	for _, want := range []string{"created      account            Concierge", "created      agent bot          Concierge (posts to gateway.example.com)",
		"skipped      inbox              Email (no e-mail address", "console      account setting    keep_pending_on_bot_failure",
		"secrets and ids written to " + out} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("first run lacks %q:\n%s", want, first.String())
		}
	}
	secret, err := os.ReadFile(filepath.Join(out, "chatwoot-webhook-secret"))
	if err != nil || len(secret) == 0 || strings.Contains(first.String(), string(secret)) {
		t.Errorf("webhook secret %q %v (or printed)", secret, err)
	}

	fake.Reset()
	var second bytes.Buffer
	if err := chatwootSetupCommand(t.Context(), config.FromMap(env), []string{"--out", out}, &second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(second.String(), " 0 created, 0 updated") || len(fake.Writes()) != 0 {
		t.Errorf("second run wrote %d times:\n%s", len(fake.Writes()), second.String())
	}

	// A wrong platform token names its setting and writes nothing.
	if err := os.WriteFile(filepath.Join(secrets, "chatwoot-platform-token"), []byte("cw-expired-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake.Reset()
	var refused bytes.Buffer
	err = chatwootSetupCommand(t.Context(), config.FromMap(env), nil, &refused)
	if err == nil || !strings.Contains(err.Error(), "CHATWOOT_PLATFORM_TOKEN (secret chatwoot-platform-token)") || len(fake.Writes()) != 0 {
		t.Errorf("refused token: %v, %d writes", err, len(fake.Writes()))
	}

	delete(env, "CHATWOOT_URL")
	if err := chatwootSetupCommand(t.Context(), config.FromMap(env), nil, &refused); err == nil || !strings.Contains(err.Error(), "CHATWOOT_URL") {
		t.Errorf("no URL: %v", err)
	}
	if err := chatwootSetupCommand(t.Context(), config.FromMap(env), []string{"-h"}, &refused); err != nil || !strings.Contains(refused.String(), "--account-id") {
		t.Errorf("help: %v", err)
	}
}
