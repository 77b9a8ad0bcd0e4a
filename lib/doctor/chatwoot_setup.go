package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwootsetup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/urgentcall"
)

// chatwootSetup reports what is missing from the account's setup
// (lib/chatwootsetup, read-only): with CHATWOOT_SETUP_FILE, everything the
// file declares; without, what the code needs — the hand-off label, the
// contact attributes contact sync writes, a web widget with identity
// validation, an API inbox for alerts, the urgent-calls inbox without a
// bot (URGENT_CALL_INBOX_ID's, else the one named "Urgent calls"), the
// account's bot on an inbox — and what only the Rails console sets
// (keep_pending_on_bot_failure, the first-run onboarding closed, the
// branding).
func (d *Doctor) chatwootSetup(ctx context.Context, cfg *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	// An administrator's token: agents see neither every inbox nor the
	// secrets the setup compares.
	token := ""
	switch contacts := cfg.String(chatwoot.SettingContactsToken); {
	case ci.contactsErr == nil && ci.contactsKind == chatwoot.UserToken && contacts != "":
		token = contacts
	case ci.apiErr == nil && ci.apiKind == chatwoot.UserToken:
		token = cfg.String(chatwoot.SettingToken)
	}
	if token == "" {
		return Skipped("not checked: no agent's token to read account %d with (see the token lines)", ci.account)
	}
	var urgent int64
	if raw := cfg.String(urgentcall.SettingInboxID); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return Failed(fmt.Sprintf("URGENT_CALL_INBOX_ID %q is not an inbox id", raw),
				"URGENT_CALL_INBOX_ID: the urgent-calls inbox's id (chatwoot-setup.json's urgent_inbox_id), or unset")
		}
		urgent = n
	}
	var state *chatwootsetup.State
	if path := cfg.String(chatwootsetup.SettingFile); path != "" {
		st, err := chatwootsetup.Load(path, d.o.Lookup)
		if err != nil {
			return Failed(err.Error(), "CHATWOOT_SETUP_FILE: the setup file concierge chatwoot-setup applies, with the environment it names")
		}
		state = &st
	}
	rep, err := chatwootsetup.Inspect(ctx, chatwootsetup.InspectOptions{BaseURL: ci.base, AccountID: ci.account, Token: token,
		State: state, UrgentInboxID: urgent, HTTPClient: d.o.HTTPClient})
	switch status := chatwoot.StatusOf(err); {
	case status == http.StatusUnauthorized || status == http.StatusNotFound:
		return Skipped("not checked: account %d cannot be read with an administrator's token (see chatwoot account): %v", ci.account, err)
	case err != nil:
		return Failed(err.Error(), "CHATWOOT_URL: check that Chatwoot answers from here")
	}
	pending := rep.Pending()
	if len(pending) == 0 {
		what := "what the code needs"
		if state != nil {
			what = "CHATWOOT_SETUP_FILE"
		}
		return Pass("account %d is set up as %s (%d objects)", ci.account, what, rep.Count(chatwootsetup.Unchanged))
	}
	var missing, console []string
	for _, c := range pending {
		item := c.Kind + " " + c.Name
		if c.Detail != "" {
			item += " (" + c.Detail + ")"
		}
		switch c.Action {
		case chatwootsetup.Created:
			missing = append(missing, "missing "+item)
		case chatwootsetup.Updated:
			missing = append(missing, "differs "+item)
		default:
			console = append(console, item)
		}
	}
	var fix []string
	if len(missing) > 0 {
		fix = append(fix, "run concierge chatwoot-setup (the chatwoot_setup Ansible role runs it)")
	}
	if len(console) > 0 {
		fix = append(fix, "let the chatwoot_setup role's Rails runner set what no API sets (docs/chatwoot-setup.md)")
	}
	return Failed(fmt.Sprintf("account %d: %s", ci.account, strings.Join(append(missing, console...), "; ")), strings.Join(fix, "; "))
}
