package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/contactsync"
)

const noChatwoot = "replies go to the local outbox and contact sync is off (CHATWOOT_URL unset)"

// chatwootInfo is what the Chatwoot checks share: the server's version
// and each token's kind, asked once.
type chatwootInfo struct {
	unset   bool
	setting *Result // settings that do not parse
	base    string
	account int64
	inbox   int64

	version    string
	versionErr error

	api, contacts         *chatwoot.Client
	apiKind, contactsKind chatwoot.TokenKind
	apiErr, contactsErr   error
	contactsSet           bool // CHATWOOT_CONTACTS_TOKEN has its own value
}

func (d *Doctor) chatwootState(ctx context.Context) chatwootInfo {
	return d.chatwoot.get(func() chatwootInfo {
		cfg := config.New(d.o.Lookup)
		base := cfg.URL(chatwoot.SettingURL)
		account := cfg.Int(chatwoot.SettingAccountID)
		token := cfg.String(chatwoot.SettingToken)
		contacts := cfg.String(chatwoot.SettingContactsToken)
		inbox := cfg.Int(contactsync.SettingInboxID)
		if err := cfg.Err(); err != nil {
			r := settingsFailed(err)
			return chatwootInfo{setting: &r}
		}
		if base == "" {
			return chatwootInfo{unset: true}
		}
		ci := chatwootInfo{base: base, account: int64(account), inbox: int64(inbox), contactsSet: contacts != "" && contacts != token}
		if account <= 0 {
			r := Failed(fmt.Sprintf("CHATWOOT_ACCOUNT_ID is %d", account), "CHATWOOT_ACCOUNT_ID: the account's id (the number after /app/accounts/ in Chatwoot's URL)")
			ci.setting = &r
			return ci
		}
		client := func(tok string) *chatwoot.Client {
			if tok == "" {
				return nil
			}
			c, err := chatwoot.New(chatwoot.Options{BaseURL: base, AccountID: int64(account), Token: tok, HTTPClient: d.o.HTTPClient, MaxAttempts: 1})
			if err != nil {
				return nil
			}
			return c
		}
		// GET /api needs no token; any client asks it.
		probe, err := chatwoot.New(chatwoot.Options{BaseURL: base, Token: "-", HTTPClient: d.o.HTTPClient, MaxAttempts: 1})
		if err != nil {
			r := Failed(err.Error(), "CHATWOOT_URL: Chatwoot's base URL, e.g. http://chatwoot_web:3000")
			ci.setting = &r
			return ci
		}
		ci.version, ci.versionErr = probe.ServerVersion(ctx)
		if ci.versionErr != nil {
			return ci
		}
		if ci.api = client(token); ci.api != nil {
			ci.apiKind, ci.apiErr = ci.api.TokenKind(ctx)
		}
		if contacts == "" {
			contacts = token
		}
		if ci.contacts = client(contacts); ci.contacts != nil {
			if contacts == token {
				ci.contactsKind, ci.contactsErr = ci.apiKind, ci.apiErr
			} else {
				ci.contactsKind, ci.contactsErr = ci.contacts.TokenKind(ctx)
			}
		}
		return ci
	})
}

// chatwootPrecheck returns the result of a Chatwoot check that cannot go
// on: not configured, settings wrong, server unreachable.
func (d *Doctor) chatwootPrecheck(ci chatwootInfo, server bool) *Result {
	var r Result
	switch {
	case ci.unset && server:
		r = LocalDefault(noChatwoot)
	case ci.unset:
		r = Skipped("not checked: CHATWOOT_URL unset")
	case ci.setting != nil && server:
		r = *ci.setting
	case ci.setting != nil:
		r = Skipped("not checked: see chatwoot")
	case ci.versionErr != nil && server:
		r = Failed(ci.versionErr.Error(), fmt.Sprintf("CHATWOOT_URL: Chatwoot's base URL, reachable from here (GET %s/api answers its version)", ci.base))
	case ci.versionErr != nil:
		r = Skipped("not checked: Chatwoot did not answer (see chatwoot)")
	default:
		return nil
	}
	return &r
}

func (d *Doctor) chatwootServer(ctx context.Context, _ *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, true); r != nil {
		return *r
	}
	if !chatwoot.VersionAtLeast(ci.version, chatwoot.MinVersion) {
		return Failed(fmt.Sprintf("Chatwoot %s at %s; this build needs %s or later", ci.version, hostOf(ci.base), chatwoot.MinVersion),
			fmt.Sprintf("upgrade Chatwoot to %s or later (the chatwoot stack's image in ansible)", chatwoot.MinVersion))
	}
	return Pass("Chatwoot %s at %s", ci.version, hostOf(ci.base))
}

// kindError is the result of a token whose kind could not be read.
func kindError(setting, secret string, err error) Result {
	if chatwoot.StatusOf(err) == http.StatusUnauthorized {
		return Failed(err.Error(), fmt.Sprintf("%s (secret %s)", setting, secret))
	}
	return Failed(err.Error(), "CHATWOOT_URL: check that Chatwoot answers from here")
}

func (d *Doctor) chatwootAPIToken(ctx context.Context, _ *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	const fix = "CHATWOOT_API_TOKEN (secret chatwoot-api-token): the agent bot's access token (Settings > Agent Bots > the account's Concierge bot, never a system bot), or an agent's"
	switch {
	case ci.api == nil:
		return Failed("CHATWOOT_API_TOKEN unset: chatwoot-reply cannot post replies", fix)
	case ci.apiErr != nil:
		return kindError(chatwoot.SettingToken.Name, "chatwoot-api-token", ci.apiErr)
	case ci.apiKind == chatwoot.UnknownToken:
		return Failed("Chatwoot does not know this token (401 Invalid Access Token)", fix)
	case ci.apiKind == chatwoot.UserToken:
		return Pass("an agent's token: replies show as that agent rather than the bot")
	}
	var refused []string
	for _, action := range chatwoot.BotNeeds {
		if !chatwoot.BotMay(ci.version, action) {
			refused = append(refused, action)
		}
	}
	if len(refused) > 0 {
		return Failed(fmt.Sprintf("the agent bot's token; Chatwoot %s refuses bots %s", ci.version, strings.Join(refused, ", ")),
			fmt.Sprintf("upgrade Chatwoot to %s or later (bots may set labels from 4.14.2), or set CHATWOOT_API_TOKEN to an agent's token", chatwoot.MinVersion))
	}
	return Pass("the agent bot's token; Chatwoot %s lets bots call all %d actions chatwoot-reply needs", ci.version, len(chatwoot.BotNeeds))
}

func (d *Doctor) chatwootContactsToken(ctx context.Context, _ *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	const fix = "CHATWOOT_CONTACTS_TOKEN (secret chatwoot-contacts-token): an agent's or administrator's access token (Profile settings > Access token)"
	whose := "CHATWOOT_CONTACTS_TOKEN"
	if !ci.contactsSet {
		whose = "unset, so contact sync uses CHATWOOT_API_TOKEN"
	}
	switch {
	case ci.contacts == nil:
		return Failed("no token: contact sync cannot run", fix)
	case ci.contactsErr != nil && ci.contactsSet:
		return kindError(chatwoot.SettingContactsToken.Name, "chatwoot-contacts-token", ci.contactsErr)
	case ci.contactsErr != nil:
		return Skipped("not checked: see chatwoot api token")
	case ci.contactsKind == chatwoot.UnknownToken && !ci.contactsSet:
		return Skipped("%s, which Chatwoot does not know (see chatwoot api token)", whose)
	case ci.contactsKind == chatwoot.UnknownToken:
		return Failed("Chatwoot does not know this token (401 Invalid Access Token)", fix)
	case ci.contactsKind == chatwoot.BotToken:
		return Failed(whose+", the agent bot's: Chatwoot refuses bots the contacts API, so every contact-sync job would fail", fix)
	}
	return Pass("%s: an agent's token, allowed the contacts API", whose)
}

// agentClient is a client with an agent's token, for what bots may not
// read (the account, its inboxes): the contacts token first.
func (ci chatwootInfo) agentClient() *chatwoot.Client {
	switch {
	case ci.contacts != nil && ci.contactsErr == nil && ci.contactsKind == chatwoot.UserToken:
		return ci.contacts
	case ci.api != nil && ci.apiErr == nil && ci.apiKind == chatwoot.UserToken:
		return ci.api
	}
	return nil
}

func (d *Doctor) chatwootAccount(ctx context.Context, _ *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	user := ci.agentClient()
	if user == nil {
		return Skipped("not checked: no agent's token to read account %d with (see the token lines)", ci.account)
	}
	name, settings, err := user.Account(ctx)
	switch status := chatwoot.StatusOf(err); {
	case status == http.StatusUnauthorized || status == http.StatusNotFound:
		return Failed(fmt.Sprintf("account %d: %v", ci.account, err),
			"CHATWOOT_ACCOUNT_ID: an account the token's agent belongs to (the number after /app/accounts/ in Chatwoot's URL)")
	case err != nil:
		return Failed(err.Error(), "CHATWOOT_URL: check that Chatwoot answers from here")
	case !settings.KeepPendingOnBotFailure:
		return Failed(fmt.Sprintf("account %d (%q): keep_pending_on_bot_failure is off, so a failed bot webhook opens a pending conversation and the bot loses it", ci.account, name),
			fmt.Sprintf("turn on the account setting keep_pending_on_bot_failure in the Rails console: Account.find(%d).update!(keep_pending_on_bot_failure: true) (docs/deploy.md, Chatwoot)", ci.account))
	}
	return Pass("account %d (%q), keep_pending_on_bot_failure on", ci.account, name)
}

func (d *Doctor) chatwootInbox(ctx context.Context, _ *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	if ci.inbox <= 0 {
		return Failed("CHATWOOT_CONTACT_INBOX_ID unset: contact sync has no inbox to create contacts in",
			"CHATWOOT_CONTACT_INBOX_ID: the inbox's id (Settings > Inboxes, the number in its URL)")
	}
	// Inboxes are read with an agent's token: bots may not.
	user := ci.agentClient()
	if user == nil {
		return Skipped("not checked: no agent's token to read inbox %d with (see the token lines)", ci.inbox)
	}
	name, err := user.Inbox(ctx, ci.inbox)
	switch status := chatwoot.StatusOf(err); {
	case err == nil:
		return Pass("inbox %d (%q) of account %d", ci.inbox, name, ci.account)
	case status == http.StatusUnauthorized:
		return Skipped("not checked: account %d cannot be read (see chatwoot account)", ci.account)
	case status == http.StatusNotFound:
		return Failed(fmt.Sprintf("account %d has no inbox %d", ci.account, ci.inbox),
			"CHATWOOT_CONTACT_INBOX_ID: an inbox of the account (Settings > Inboxes, the number in its URL)")
	}
	return Failed(err.Error(), "CHATWOOT_URL: check that Chatwoot answers from here")
}
