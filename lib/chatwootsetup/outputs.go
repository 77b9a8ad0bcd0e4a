package chatwootsetup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Output files, named like the secrets they become.
const (
	FileWebhookSecret      = "chatwoot-webhook-secret"       // llm-query's CHATWOOT_WEBHOOK_SECRET
	FileBotToken           = "chatwoot-api-token"            // chatwoot-reply's, stt's and purge's CHATWOOT_API_TOKEN
	FileAdminToken         = "chatwoot-contacts-token"       // CHATWOOT_CONTACTS_TOKEN
	FileWidgetHMACToken    = "chatwoot-widget-hmac-token"    // the website signs identifiers with it
	FileOpsInboxIdentifier = "chatwoot-ops-inbox-identifier" // alert-bridge's openfaas_chatwoot_ops_inbox
	FileIDs                = "chatwoot-setup.json"           // account, inbox and bot ids (not secret)
)

// WriteOutputs writes each secret to its own file in dir (0600, the
// directory 0700) and the ids to FileIDs. A secret that is empty (no
// alerts inbox, no identity-validated widget) is not written, and a stale
// file of it is removed.
func WriteOutputs(dir string, o Outputs) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	ids, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name  string
		value []byte
	}{
		{FileWebhookSecret, []byte(o.WebhookSecret)},
		{FileBotToken, []byte(o.BotToken)},
		{FileAdminToken, []byte(o.AdminToken)},
		{FileWidgetHMACToken, []byte(o.WidgetHMACToken)},
		{FileOpsInboxIdentifier, []byte(o.OpsInboxIdentifier)},
		{FileIDs, append(ids, '\n')},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if len(f.value) == 0 {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("outputs: %w", err)
			}
			continue
		}
		if err := writeFile(path, f.value); err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
	}
	return nil
}

// writeFile replaces path atomically: a reader sees the old or the new
// value, never a part.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
