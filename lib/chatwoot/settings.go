package chatwoot

import (
	"fmt"
	"time"

	"github.com/harborstays/concierge/lib/config"
)

// Settings of the Chatwoot API and webhooks.
var (
	SettingURL = config.Register(config.Setting{Name: "CHATWOOT_URL",
		Help: "Chatwoot's base URL, e.g. http://chatwoot_web:3000 (empty: replies go to the local outbox, GET /outbox of make run, and contact sync is skipped)", Used: "chatwoot-reply"})
	SettingToken = config.Register(config.Setting{Name: "CHATWOOT_API_TOKEN", Secret: "chatwoot-api-token",
		Help: "access token that posts replies: the agent bot's (so replies show as the bot's), or an agent's", Used: "chatwoot-reply"})
	SettingContactsToken = config.Register(config.Setting{Name: "CHATWOOT_CONTACTS_TOKEN", Secret: "chatwoot-contacts-token",
		Help: "agent or administrator access token for contact sync (bot tokens may not call the contacts API); empty: CHATWOOT_API_TOKEN", Used: "chatwoot-reply"})
	SettingAccountID = config.Register(config.Setting{Name: "CHATWOOT_ACCOUNT_ID", Default: "1",
		Help: "Chatwoot account whose contacts are kept in step with Guesty guests", Used: "chatwoot-reply"})
	SettingTimeout = config.Register(config.Setting{Name: "CHATWOOT_TIMEOUT", Default: "10s",
		Help: "bound of one Chatwoot API request", Used: "chatwoot-reply"})
	SettingWebhookSecret = config.Register(config.Setting{Name: "CHATWOOT_WEBHOOK_SECRET", Secret: "chatwoot-webhook-secret",
		Help: "secret that signs Chatwoot webhooks (X-Chatwoot-Signature); several comma-separated allow rotation", Used: "llm-query"})
	SettingSignature = config.Register(config.Setting{Name: "CHATWOOT_SIGNATURE", Default: "required",
		Help: "required, or off for Chatwoot versions that do not sign webhooks (not recommended)", Used: "llm-query"})
)

// Clients are the API clients of a function: Replies posts messages and
// notes, Contacts calls the contacts API. Both are nil when CHATWOOT_URL is
// not set (the local embedded default), and the same client when one token
// serves both.
type Clients struct {
	Replies  *Client
	Contacts *Client
}

// FromConfig builds the clients from the settings. Missing or malformed
// settings are recorded in cfg (see cfg.Err); the error is for values that
// parse but make no sense.
func FromConfig(cfg *config.Config) (Clients, error) {
	base := cfg.URL(SettingURL)
	account := cfg.Int(SettingAccountID)
	timeout := cfg.Duration(SettingTimeout)
	if base == "" {
		return Clients{}, nil
	}
	token := cfg.Require(SettingToken)
	contacts := cfg.String(SettingContactsToken)
	if contacts == "" {
		contacts = token
	}
	if token == "" {
		return Clients{}, nil
	}
	if account <= 0 {
		return Clients{}, fmt.Errorf("configuration: %s: must be a positive account id, got %d", SettingAccountID.Name, account)
	}
	o := Options{BaseURL: base, AccountID: int64(account), Token: token, Timeout: timeout}
	replies, err := New(o)
	if err != nil {
		return Clients{}, fmt.Errorf("configuration: %s: %w", SettingURL.Name, err)
	}
	if contacts == token {
		return Clients{Replies: replies, Contacts: replies}, nil
	}
	o.Token = contacts
	people, err := New(o)
	if err != nil {
		return Clients{}, fmt.Errorf("configuration: %s: %w", SettingContactsToken.Name, err)
	}
	return Clients{Replies: replies, Contacts: people}, nil
}

// VerifierFromConfig returns the webhook verifier CHATWOOT_SIGNATURE and
// CHATWOOT_WEBHOOK_SECRET describe; errors are recorded in cfg.
func VerifierFromConfig(cfg *config.Config, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	if cfg.Enum(SettingSignature, "required", "off") == "off" {
		v := Unverified()
		v.Now = now
		return v
	}
	secrets := cfg.List(SettingWebhookSecret)
	v, err := NewVerifier(secrets...)
	if err != nil {
		cfg.Require(SettingWebhookSecret)
		return nil
	}
	v.Now = now
	return v
}
