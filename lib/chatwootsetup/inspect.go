package chatwootsetup

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// InspectOptions configure a read-only look at an account.
type InspectOptions struct {
	BaseURL   string
	AccountID int64
	// Token is an administrator's (CHATWOOT_CONTACTS_TOKEN): agents see
	// neither the bot's secret nor every inbox.
	Token string
	// State, when set, is compared whole (the account-level part: the
	// account and the service user are the Platform API's); nil checks
	// what the code needs (Minimum).
	State *State
	// UrgentInboxID is chatwoot-reply's URGENT_CALL_INBOX_ID (0: unset):
	// the inbox must exist and have no bot; unset, the minimum looks for
	// the inbox named DefaultUrgentInboxName.
	UrgentInboxID int64
	HTTPClient    *http.Client
}

// Inspect reports what a run would change, without writing. Pending() on
// the report lists what is missing or different.
func Inspect(ctx context.Context, o InspectOptions) (Report, error) {
	rep := Report{URL: o.BaseURL, DryRun: true}
	app, err := newAPI(o.BaseURL, o.Token, o.HTTPClient)
	if err != nil {
		return rep, err
	}
	if rep.Version, err = version(ctx, app); err != nil {
		return rep, err
	}
	a := &account{api: app, id: o.AccountID, dry: true, rep: &rep, out: Outputs{Inboxes: map[string]int64{}}, urgentID: o.UrgentInboxID}
	if o.State != nil {
		a.state = *o.State
		if err = a.apply(ctx); err == nil && a.urgentID > 0 && a.out.UrgentInboxID != 0 && a.urgentID != a.out.UrgentInboxID {
			rep.add("setting", "URGENT_CALL_INBOX_ID", Updated, "is %d; the setup file's urgent-calls inbox is %d (the chatwoot_setup role passes it to the openfaas role)",
				a.urgentID, a.out.UrgentInboxID)
		}
	} else {
		err = a.minimum(ctx)
	}
	if app.writes != 0 {
		// A programming error, never an outcome: Inspect must not write.
		panic(fmt.Sprintf("chatwootsetup: Inspect made %d writes", app.writes))
	}
	return rep, err
}

// minimum checks what the code relies on: the labels it sets, the contact
// attributes contact sync writes, a web widget with identity validation
// (or no widget visitor is ever a proven guest), an API inbox for the
// alerts, the urgent-calls inbox without a bot, and the account's bot
// posting to llm-query and connected to an inbox.
func (a *account) minimum(ctx context.Context) error {
	a.presence = true
	a.state = State{Labels: RequiredLabels(), ContactAttributes: RequiredAttributes()}
	a.users = map[string]int64{}
	for _, step := range []func(context.Context) error{a.labels, a.attributes, a.settings, a.installation} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	var inboxes struct {
		Payload []inbox `json:"payload"`
	}
	if err := a.get(ctx, "inboxes", &inboxes); err != nil {
		return fmt.Errorf("list inboxes: %w", err)
	}
	var widget, apiInbox string
	for _, in := range inboxes.Payload {
		switch ct := in.str("channel_type"); {
		case ct == channelTypes[WebWidget] && widget == "":
			if h, _ := in["hmac_mandatory"].(bool); h {
				widget = in.str("name")
			}
		case ct == channelTypes[API] && apiInbox == "":
			apiInbox = in.str("name")
		}
	}
	if widget == "" {
		a.rep.add("inbox", "web widget", Created, "no web widget inbox with identity validation (hmac_mandatory): every widget visitor stays a stranger")
	} else {
		a.rep.add("inbox", widget, Unchanged, "web widget, identity validation on")
	}
	if apiInbox == "" {
		a.rep.add("inbox", "operations alerts", Created, "no API inbox for alert-bridge")
	} else {
		a.rep.add("inbox", apiInbox, Unchanged, "api")
	}
	if err := a.urgentInbox(ctx, inboxes.Payload); err != nil {
		return err
	}
	var bots []bot
	if err := a.get(ctx, "agent_bots", &bots); err != nil {
		return fmt.Errorf("list agent bots: %w", err)
	}
	var ours *bot
	for i, b := range bots {
		if u, err := url.Parse(b.OutgoingURL); err == nil && !b.SystemBot && strings.TrimSuffix(u.Path, "/") == BotPath {
			ours = &bots[i]
			break
		}
	}
	if ours == nil {
		a.rep.add("agent bot", BotPath, Created, "no bot of the account posts to "+BotPath)
		return nil
	}
	var on []string
	for _, in := range inboxes.Payload {
		cur, err := a.readBot(ctx, in.id(), in.str("name"))
		if err != nil {
			return err
		}
		if cur.id() == ours.ID {
			on = append(on, in.str("name"))
		}
	}
	if len(on) == 0 {
		a.rep.add("inbox bot", ours.Name, Created, "connected to no inbox: no guest message reaches llm-query")
	} else {
		a.rep.add("inbox bot", ours.Name, Unchanged, strings.Join(on, ", "))
	}
	return nil
}

// urgentInbox checks the inbox urgent missed calls open in
// (URGENT_CALL_INBOX_ID's, else the one named DefaultUrgentInboxName): it
// is there, and no bot is connected to it.
func (a *account) urgentInbox(ctx context.Context, all []inbox) error {
	var found inbox
	for _, in := range all {
		if (a.urgentID > 0 && in.id() == a.urgentID) || (a.urgentID == 0 && in.str("name") == DefaultUrgentInboxName) {
			found = in
			break
		}
	}
	switch {
	case found == nil && a.urgentID > 0:
		a.rep.add("inbox", "urgent calls", Created, "URGENT_CALL_INBOX_ID %d is no inbox of account %d", a.urgentID, a.id)
		return nil
	case found == nil:
		a.rep.add("inbox", "urgent calls", Created, "no inbox %q and URGENT_CALL_INBOX_ID unset: urgent missed calls open in the contact inbox", DefaultUrgentInboxName)
		return nil
	}
	name := found.str("name")
	cur, err := a.readBot(ctx, found.id(), name)
	if err != nil {
		return err
	}
	if cur.id() != 0 {
		a.rep.add("inbox bot", name, Updated, "%s (id %d) is connected to the urgent-calls inbox: chatwoot-reply would hand each urgent conversation over at once", cur.AgentBot.Name, cur.id())
		return nil
	}
	a.rep.add("inbox", name, Unchanged, "urgent calls (id %d), no bot", found.id())
	return nil
}
