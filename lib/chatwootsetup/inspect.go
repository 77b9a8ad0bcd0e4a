package chatwootsetup

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	State      *State
	HTTPClient *http.Client
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
	a := &account{api: app, id: o.AccountID, dry: true, rep: &rep, out: Outputs{Inboxes: map[string]int64{}}}
	if o.State != nil {
		a.state = *o.State
		err = a.apply(ctx)
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
// alerts, and the account's bot posting to llm-query and connected to an
// inbox.
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
		var cur struct {
			AgentBot *struct {
				ID int64 `json:"id"`
			} `json:"agent_bot"`
		}
		if err := a.get(ctx, "inboxes/"+strconv.FormatInt(in.id(), 10)+"/agent_bot", &cur); err != nil {
			return fmt.Errorf("read the bot of inbox %q: %w", in.str("name"), err)
		}
		if cur.AgentBot != nil && cur.AgentBot.ID == ours.ID {
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
