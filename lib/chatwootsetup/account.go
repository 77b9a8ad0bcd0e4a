package chatwootsetup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// account reconciles what lives inside one account, through the account
// API with an administrator's token. Dry, it reads and reports only.
type account struct {
	api   *api
	id    int64
	state State
	dry   bool
	// presence: only whether each label and attribute exists (the
	// doctor's built-in minimum), not its fields.
	presence                   bool
	imapPassword, smtpPassword string
	rep                        *Report
	out                        Outputs
	users                      map[string]int64 // e-mail -> user id
	// teamUsers are each team's members (user ids, by lower-case name) as
	// Chatwoot has them after the teams step: an inbox's Teams add them.
	teamUsers map[string][]int64
	botID     int64
	// urgentID is URGENT_CALL_INBOX_ID as Inspect was given it.
	urgentID int64
}

func (a *account) path(rest string) string {
	return "/api/v1/accounts/" + strconv.FormatInt(a.id, 10) + "/" + rest
}

func (a *account) get(ctx context.Context, rest string, out any) error {
	return a.api.call(ctx, http.MethodGet, a.path(rest), nil, out)
}

// write sends a change unless the run is dry.
func (a *account) write(ctx context.Context, method, rest string, body, out any) error {
	if a.dry {
		return nil
	}
	return a.api.call(ctx, method, a.path(rest), body, out)
}

func (a *account) apply(ctx context.Context) error {
	a.out.Inboxes = map[string]int64{}
	for _, step := range []func(context.Context) error{
		a.agents, a.labels, a.attributes, a.teams, a.agentBot, a.inboxes, a.settings, a.installation,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// keys lists a change's field names, sorted.
func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// same compares a value Chatwoot answered (decoded JSON) with the wanted
// one; null is the empty string, false or 0.
func same(cur, want any) bool {
	switch w := want.(type) {
	case string:
		c, _ := cur.(string)
		return c == w
	case bool:
		c, _ := cur.(bool)
		return c == w
	case int:
		c, _ := cur.(float64)
		return int(c) == w
	}
	return false
}

// diff returns the wanted fields cur does not have.
func diff(cur map[string]any, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range want {
		if !same(cur[k], v) {
			out[k] = v
		}
	}
	return out
}

type agent struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// agents makes each person a member with their role (AgentsController:
// create invites a new user by e-mail; update changes the role).
func (a *account) agents(ctx context.Context) error {
	var cur []agent
	if err := a.get(ctx, "agents", &cur); err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	a.users = map[string]int64{}
	byEmail := map[string]agent{}
	for _, x := range cur {
		a.users[strings.ToLower(x.Email)] = x.ID
		byEmail[strings.ToLower(x.Email)] = x
	}
	for _, w := range a.state.Agents {
		email := strings.ToLower(w.Email)
		role := w.Role
		if role == "" {
			role = "agent"
		}
		x, ok := byEmail[email]
		switch {
		case !ok:
			var made agent
			body := map[string]any{"agent": map[string]any{"email": email, "name": w.Name, "role": role}}
			if err := a.write(ctx, http.MethodPost, "agents", body, &made); err != nil {
				return fmt.Errorf("add agent %s: %w", email, err)
			}
			a.users[email] = made.ID
			a.rep.add("agent", email, Created, "%s; Chatwoot e-mails the invitation", role)
		case x.Role != role:
			body := map[string]any{"agent": map[string]any{"role": role}}
			if err := a.write(ctx, http.MethodPatch, "agents/"+strconv.FormatInt(x.ID, 10), body, nil); err != nil {
				return fmt.Errorf("change the role of %s: %w", email, err)
			}
			a.rep.add("agent", email, Updated, "role %s", role)
		default:
			a.rep.add("agent", email, Unchanged, role)
		}
	}
	return nil
}

type label struct {
	ID            int64  `json:"id"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	Color         string `json:"color"`
	ShowOnSidebar bool   `json:"show_on_sidebar"`
}

func (a *account) labels(ctx context.Context) error {
	var cur struct {
		Payload []map[string]any `json:"payload"`
	}
	if err := a.get(ctx, "labels", &cur); err != nil {
		return fmt.Errorf("list labels: %w", err)
	}
	for _, w := range a.state.Labels {
		title := strings.ToLower(w.Title)
		want := map[string]any{"title": title, "description": w.Description, "show_on_sidebar": w.ShowOnSidebar}
		if w.Color != "" {
			want["color"] = w.Color
		}
		i := slices.IndexFunc(cur.Payload, func(m map[string]any) bool { return same(m["title"], title) })
		if i < 0 {
			if err := a.write(ctx, http.MethodPost, "labels", map[string]any{"label": want}, nil); err != nil {
				return fmt.Errorf("create label %s: %w", title, err)
			}
			a.rep.add("label", title, Created, "")
			continue
		}
		d := diff(cur.Payload[i], want)
		if len(d) == 0 || a.presence {
			a.rep.add("label", title, Unchanged, "")
			continue
		}
		id := int64(cur.Payload[i]["id"].(float64))
		if err := a.write(ctx, http.MethodPatch, "labels/"+strconv.FormatInt(id, 10), map[string]any{"label": d}, nil); err != nil {
			return fmt.Errorf("update label %s: %w", title, err)
		}
		a.rep.add("label", title, Updated, keys(d))
	}
	return nil
}

// attributes keeps the contact attribute definitions: the keys contact
// sync writes, with a name and type agents see.
func (a *account) attributes(ctx context.Context) error {
	var cur []map[string]any
	if err := a.get(ctx, "custom_attribute_definitions?attribute_model=contact_attribute", &cur); err != nil {
		return fmt.Errorf("list contact attributes: %w", err)
	}
	for _, w := range a.state.ContactAttributes {
		want := map[string]any{"attribute_display_name": w.Name, "attribute_display_type": w.Type, "attribute_description": w.Description}
		i := slices.IndexFunc(cur, func(m map[string]any) bool {
			return same(m["attribute_key"], w.Key) && same(m["attribute_model"], "contact_attribute")
		})
		if i < 0 {
			body := map[string]any{"attribute_key": w.Key, "attribute_model": "contact_attribute"}
			for k, v := range want {
				body[k] = v
			}
			if err := a.write(ctx, http.MethodPost, "custom_attribute_definitions", map[string]any{"custom_attribute_definition": body}, nil); err != nil {
				return fmt.Errorf("create contact attribute %s: %w", w.Key, err)
			}
			a.rep.add("contact attribute", w.Key, Created, w.Type)
			continue
		}
		d := diff(cur[i], want)
		if len(d) == 0 || a.presence {
			a.rep.add("contact attribute", w.Key, Unchanged, w.Type)
			continue
		}
		id := int64(cur[i]["id"].(float64))
		if err := a.write(ctx, http.MethodPatch, "custom_attribute_definitions/"+strconv.FormatInt(id, 10),
			map[string]any{"custom_attribute_definition": d}, nil); err != nil {
			return fmt.Errorf("update contact attribute %s: %w", w.Key, err)
		}
		a.rep.add("contact attribute", w.Key, Updated, keys(d))
	}
	return nil
}

// memberIDs maps e-mails to the account's user ids; unknown ones (an
// agent a dry run would invite) are left out.
func (a *account) memberIDs(emails []string) []int64 {
	var out []int64
	for _, e := range emails {
		if id, ok := a.users[strings.ToLower(e)]; ok {
			out = append(out, id)
		}
	}
	return out
}

// missingIDs returns want's ids not in have.
func missingIDs(want []int64, have []agent) []int64 {
	var out []int64
	for _, id := range want {
		if !slices.ContainsFunc(have, func(x agent) bool { return x.ID == id }) {
			out = append(out, id)
		}
	}
	return out
}

func (a *account) teams(ctx context.Context) error {
	var cur []map[string]any
	if len(a.state.Teams) == 0 {
		return nil
	}
	if err := a.get(ctx, "teams", &cur); err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	a.teamUsers = map[string][]int64{}
	for _, w := range a.state.Teams {
		name := strings.ToLower(strings.TrimSpace(w.Name))
		want := map[string]any{"name": name, "description": w.Description}
		if w.AllowAutoAssign != nil {
			want["allow_auto_assign"] = *w.AllowAutoAssign
		}
		var id int64
		i := slices.IndexFunc(cur, func(m map[string]any) bool { return same(m["name"], name) })
		added := Updated // members added to a team that was there
		switch {
		case i < 0:
			var made struct {
				ID int64 `json:"id"`
			}
			if err := a.write(ctx, http.MethodPost, "teams", map[string]any{"team": want}, &made); err != nil {
				return fmt.Errorf("create team %s: %w", name, err)
			}
			id, added = made.ID, Created
			a.rep.add("team", name, Created, "")
		default:
			id = int64(cur[i]["id"].(float64))
			if d := diff(cur[i], want); len(d) > 0 {
				if err := a.write(ctx, http.MethodPatch, "teams/"+strconv.FormatInt(id, 10), map[string]any{"team": d}, nil); err != nil {
					return fmt.Errorf("update team %s: %w", name, err)
				}
				a.rep.add("team", name, Updated, keys(d))
			} else {
				a.rep.add("team", name, Unchanged, "")
			}
		}
		var have []agent
		if id != 0 {
			if err := a.get(ctx, "teams/"+strconv.FormatInt(id, 10)+"/team_members", &have); err != nil {
				return fmt.Errorf("list the members of team %s: %w", name, err)
			}
		}
		add := missingIDs(a.memberIDs(w.Members), have)
		for _, x := range have {
			a.teamUsers[name] = append(a.teamUsers[name], x.ID)
		}
		a.teamUsers[name] = append(a.teamUsers[name], add...)
		if len(w.Members) == 0 {
			continue
		}
		if id == 0 {
			a.rep.add("team members", name, Created, "%d", len(w.Members))
			continue
		}
		if len(add) == 0 {
			a.rep.add("team members", name, Unchanged, "%d", len(have))
			continue
		}
		if err := a.write(ctx, http.MethodPost, "teams/"+strconv.FormatInt(id, 10)+"/team_members", map[string]any{"user_ids": add}, nil); err != nil {
			return fmt.Errorf("add members to team %s: %w", name, err)
		}
		a.rep.add("team members", name, added, "%d added", len(add))
	}
	return nil
}

// bot is an agent bot as the account API shows it to an administrator.
type bot struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	OutgoingURL string          `json:"outgoing_url"`
	AccountID   *int64          `json:"account_id"`
	SystemBot   bool            `json:"system_bot"`
	Secret      string          `json:"secret"`
	AccessToken json.RawMessage `json:"access_token"`
}

// token reads access_token: a string through AgentBotPresenter (index,
// show, create), the AccessToken record elsewhere.
func (b bot) token() string {
	var s string
	if json.Unmarshal(b.AccessToken, &s) == nil {
		return s
	}
	var rec struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(b.AccessToken, &rec)
	return rec.Token
}

// agentBot keeps the account's own bot (AgentBotsController: created in
// the account, so Chatwoot shows its secret to administrators; a system
// bot's never) and reads back its secret and access token.
func (a *account) agentBot(ctx context.Context) error {
	w := a.state.AgentBot
	if w.Name == "" {
		return nil
	}
	var all []bot
	if err := a.get(ctx, "agent_bots", &all); err != nil {
		return fmt.Errorf("list agent bots: %w", err)
	}
	var cur *bot
	for i, b := range all {
		switch {
		case b.SystemBot:
			if b.Name == w.Name {
				a.rep.add("agent bot", b.Name, Skipped, "id %d is a system bot (Super Admin, no account): Chatwoot never shows its secret, so it cannot sign for llm-query; remove it in Super Admin > Agent Bots", b.ID)
			}
		case b.AccountID != nil && *b.AccountID == a.id && cur == nil && (b.Name == w.Name || b.OutgoingURL == w.URL):
			cur = &all[i]
		}
	}
	want := map[string]any{"name": w.Name, "description": w.Description, "outgoing_url": w.URL}
	var got bot
	switch {
	case cur == nil:
		body := map[string]any{"bot_type": "webhook"}
		for k, v := range want {
			body[k] = v
		}
		if err := a.write(ctx, http.MethodPost, "agent_bots", body, &got); err != nil {
			return fmt.Errorf("create agent bot %s: %w", w.Name, err)
		}
		a.rep.add("agent bot", w.Name, Created, "posts to %s", hostOf(w.URL))
	default:
		// show is the view meant for one bot (the list's bots may be
		// rendered for the list); compare and read the secret there.
		if err := a.get(ctx, "agent_bots/"+strconv.FormatInt(cur.ID, 10), &got); err != nil {
			return fmt.Errorf("read agent bot %s: %w", w.Name, err)
		}
		m := map[string]any{"name": got.Name, "description": got.Description, "outgoing_url": got.OutgoingURL}
		d := diff(m, want)
		if len(d) == 0 {
			a.rep.add("agent bot", w.Name, Unchanged, "id %d, posts to %s", cur.ID, hostOf(w.URL))
			break
		}
		if err := a.write(ctx, http.MethodPatch, "agent_bots/"+strconv.FormatInt(cur.ID, 10), d, &got); err != nil {
			return fmt.Errorf("update agent bot %s: %w", w.Name, err)
		}
		a.rep.add("agent bot", w.Name, Updated, "id %d: %s", cur.ID, keys(d))
	}
	if a.dry {
		if cur != nil {
			a.botID = cur.ID
		}
		return nil
	}
	a.botID = got.ID
	a.out.AgentBotID, a.out.WebhookSecret, a.out.BotToken = got.ID, got.Secret, got.token()
	if got.Secret == "" || a.out.BotToken == "" {
		return fmt.Errorf("agent bot %s: Chatwoot did not show its secret and access token (they are shown to the account's administrators, for the account's own bot)", w.Name)
	}
	return nil
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// channel is what the setup manages of an inbox's channel, by type; the
// e-mail servers are sent whole when any of their fields differs, so
// Chatwoot checks the login (InboxesController#update tries IMAP and SMTP
// when imap_enabled or smtp_enabled is sent).
func (a *account) channel(w Inbox) (fields map[string]any, groups [][]string) {
	f := map[string]any{}
	set := func(k string, v any, when bool) {
		if when {
			f[k] = v
		}
	}
	switch w.Type {
	case WebWidget:
		f["website_url"] = w.WebsiteURL
		f["hmac_mandatory"] = w.IdentityValidation
		set("widget_color", w.WidgetColor, w.WidgetColor != "")
		set("welcome_title", w.WelcomeTitle, w.WelcomeTitle != "")
		set("welcome_tagline", w.WelcomeTagline, w.WelcomeTagline != "")
	case API:
		f["webhook_url"] = w.WebhookURL
		f["hmac_mandatory"] = w.IdentityValidation
	case Email:
		f["email"] = w.Email
		if m := w.IMAP; m != nil {
			f["imap_enabled"], f["imap_address"], f["imap_port"], f["imap_login"] = true, m.Address, m.Port, m.Login
			f["imap_enable_ssl"] = m.SSL == nil || *m.SSL
			set("imap_authentication", m.Authentication, m.Authentication != "")
			set("imap_password", a.imapPassword, a.imapPassword != "")
		}
		if m := w.SMTP; m != nil {
			f["smtp_enabled"], f["smtp_address"], f["smtp_port"], f["smtp_login"] = true, m.Address, m.Port, m.Login
			f["smtp_enable_starttls_auto"] = m.StartTLS == nil || *m.StartTLS
			f["smtp_enable_ssl_tls"] = m.SSL != nil && *m.SSL
			set("smtp_domain", m.Domain, m.Domain != "")
			set("smtp_authentication", m.Authentication, m.Authentication != "")
			set("smtp_password", a.smtpPassword, a.smtpPassword != "")
		}
		for _, prefix := range []string{"imap_", "smtp_"} {
			var g []string
			for k := range f {
				if strings.HasPrefix(k, prefix) {
					g = append(g, k)
				}
			}
			groups = append(groups, g)
		}
	}
	return f, groups
}

// inbox is an inbox as an administrator sees it.
type inbox map[string]any

func (in inbox) id() int64 {
	f, _ := in["id"].(float64)
	return int64(f)
}

func (in inbox) str(k string) string {
	s, _ := in[k].(string)
	return s
}

func (a *account) inboxes(ctx context.Context) error {
	var cur struct {
		Payload []inbox `json:"payload"`
	}
	if len(a.state.Inboxes) == 0 {
		return nil
	}
	if err := a.get(ctx, "inboxes", &cur); err != nil {
		return fmt.Errorf("list inboxes: %w", err)
	}
	for _, w := range a.state.Inboxes {
		if err := a.inbox(ctx, w, cur.Payload); err != nil {
			return err
		}
	}
	return nil
}

func (a *account) inbox(ctx context.Context, w Inbox, cur []inbox) error {
	if w.Type == Email && w.Email == "" {
		a.rep.add("inbox", w.Name, Skipped, "no e-mail address in the setup file")
		return nil
	}
	if w.Type == Email && !a.dry && ((w.IMAP != nil && a.imapPassword == "") || (w.SMTP != nil && a.smtpPassword == "")) {
		return fmt.Errorf("inbox %q: set %s and %s (secrets %s, %s)", w.Name, SettingIMAPPassword.Name, SettingSMTPPassword.Name,
			SettingIMAPPassword.Secret, SettingSMTPPassword.Secret)
	}
	ct := channelTypes[w.Type]
	fields, groups := a.channel(w)
	var found inbox
	for _, in := range cur {
		if in.str("name") == w.Name {
			found = in
			break
		}
	}
	var id int64
	created := found == nil
	switch {
	case created:
		body := map[string]any{"type": w.Type}
		for k, v := range fields {
			body[k] = v
		}
		var made inbox
		if err := a.write(ctx, http.MethodPost, "inboxes", map[string]any{"name": w.Name, "channel": body}, &made); err != nil {
			return fmt.Errorf("create inbox %q: %w", w.Name, err)
		}
		found, id = made, made.id()
		a.rep.add("inbox", w.Name, Created, "%s%s", w.Type, identityNote(w))
	case found.str("channel_type") != ct:
		return fmt.Errorf("inbox %q exists as %s, the setup file wants %s: rename one of them", w.Name, found.str("channel_type"), ct)
	default:
		id = found.id()
		d := diff(found, fields)
		for _, g := range groups {
			if slices.ContainsFunc(g, func(k string) bool { _, ok := d[k]; return ok }) {
				for _, k := range g {
					d[k] = fields[k]
				}
			}
		}
		if len(d) == 0 {
			a.rep.add("inbox", w.Name, Unchanged, "%s%s", w.Type, identityNote(w))
			break
		}
		if err := a.write(ctx, http.MethodPatch, "inboxes/"+strconv.FormatInt(id, 10), map[string]any{"channel": d}, &found); err != nil {
			return fmt.Errorf("update inbox %q: %w", w.Name, err)
		}
		a.rep.add("inbox", w.Name, Updated, "%s", keys(d))
	}
	if id == 0 { // dry run of a missing inbox
		return nil
	}
	a.out.Inboxes[w.Name] = id
	if w.ContactSync {
		a.out.ContactInboxID = id
	}
	if w.Alerts {
		a.out.OpsInboxIdentifier = found.str("inbox_identifier")
	}
	if w.UrgentCalls {
		a.out.UrgentInboxID = id
	}
	if w.Type == WebWidget && w.IdentityValidation && a.out.WidgetHMACToken == "" {
		a.out.WidgetHMACToken = found.str("hmac_token")
	}
	if err := a.inboxMembers(ctx, w, id, created); err != nil {
		return err
	}
	return a.inboxBot(ctx, w, id)
}

func identityNote(w Inbox) string {
	if w.Type != Email && w.IdentityValidation {
		return ", identity validation on"
	}
	return ""
}

// inboxMembers adds the inbox's people and its teams' members; created
// says the inbox is new.
func (a *account) inboxMembers(ctx context.Context, w Inbox, id int64, created bool) error {
	want := a.memberIDs(w.Members)
	for _, t := range w.Teams {
		for _, uid := range a.teamUsers[strings.ToLower(strings.TrimSpace(t))] {
			if !slices.Contains(want, uid) {
				want = append(want, uid)
			}
		}
	}
	if len(w.Members) == 0 && len(w.Teams) == 0 {
		return nil
	}
	var have struct {
		Payload []agent `json:"payload"`
	}
	if err := a.get(ctx, "inbox_members/"+strconv.FormatInt(id, 10), &have); err != nil {
		return fmt.Errorf("list the members of inbox %q: %w", w.Name, err)
	}
	add := missingIDs(want, have.Payload)
	if len(add) == 0 {
		a.rep.add("inbox members", w.Name, Unchanged, "%d", len(have.Payload))
		return nil
	}
	body := map[string]any{"inbox_id": id, "user_ids": add}
	if err := a.write(ctx, http.MethodPost, "inbox_members", body, nil); err != nil {
		return fmt.Errorf("add members to inbox %q: %w", w.Name, err)
	}
	action := Updated
	if created {
		action = Created
	}
	a.rep.add("inbox members", w.Name, action, "%d added", len(add))
	return nil
}

// inboxBot connects the account's bot to the inbox, or disconnects any
// bot from it (set_agent_bot; InboxesController#agent_bot reads it).
func (a *account) inboxBot(ctx context.Context, w Inbox, id int64) error {
	want, managed := w.bot()
	if !managed {
		return nil
	}
	cur, err := a.readBot(ctx, id, w.Name)
	if err != nil {
		return err
	}
	if !want {
		return a.inboxNoBot(ctx, w, id, cur)
	}
	if cur.id() == a.botID && a.botID != 0 {
		a.rep.add("inbox bot", w.Name, Unchanged, a.state.AgentBot.Name)
		return nil
	}
	action := Created
	if cur.id() != 0 {
		action = Updated
	}
	if err := a.write(ctx, http.MethodPost, "inboxes/"+strconv.FormatInt(id, 10)+"/set_agent_bot", map[string]any{"agent_bot": a.botID}, nil); err != nil {
		return fmt.Errorf("connect the bot to inbox %q: %w", w.Name, err)
	}
	a.rep.add("inbox bot", w.Name, action, a.state.AgentBot.Name)
	return nil
}

// inboxNoBot disconnects the bot an inbox has: set_agent_bot without a
// bot (agent_bot null) destroys the inbox's AgentBotInbox.
func (a *account) inboxNoBot(ctx context.Context, w Inbox, id int64, cur connectedBot) error {
	if cur.id() == 0 {
		a.rep.add("inbox bot", w.Name, Unchanged, "none")
		return nil
	}
	if err := a.write(ctx, http.MethodPost, "inboxes/"+strconv.FormatInt(id, 10)+"/set_agent_bot", map[string]any{"agent_bot": nil}, nil); err != nil {
		return fmt.Errorf("disconnect the bot from inbox %q: %w", w.Name, err)
	}
	why := "the inbox must have none"
	if w.UrgentCalls {
		why = "with a bot, chatwoot-reply would hand each urgent conversation over at once"
	}
	a.rep.add("inbox bot", w.Name, Updated, "%s (id %d) disconnected: %s", cur.AgentBot.Name, cur.id(), why)
	return nil
}

// connectedBot is InboxesController#agent_bot's answer: the inbox's bot,
// or a blank or null agent_bot when it has none.
type connectedBot struct {
	AgentBot *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"agent_bot"`
}

// id is the connected bot's id, 0 for none.
func (c connectedBot) id() int64 {
	if c.AgentBot == nil {
		return 0
	}
	return c.AgentBot.ID
}

// readBot reads the bot connected to inbox id.
func (a *account) readBot(ctx context.Context, id int64, name string) (connectedBot, error) {
	var cur connectedBot
	if err := a.get(ctx, "inboxes/"+strconv.FormatInt(id, 10)+"/agent_bot", &cur); err != nil {
		return cur, fmt.Errorf("read the bot of inbox %q: %w", name, err)
	}
	return cur, nil
}

// settings reads what only the Rails console sets: the account setting
// keep_pending_on_bot_failure (Api::V1::AccountsController#update does
// not permit it; the Platform API's account update neither).
func (a *account) settings(ctx context.Context) error {
	var acct struct {
		Settings struct {
			KeepPending bool `json:"keep_pending_on_bot_failure"`
		} `json:"settings"`
	}
	if err := a.get(ctx, "", &acct); err != nil {
		return fmt.Errorf("read account %d: %w", a.id, err)
	}
	if acct.Settings.KeepPending {
		a.rep.add("account setting", "keep_pending_on_bot_failure", Unchanged, "on")
		return nil
	}
	a.rep.add("account setting", "keep_pending_on_bot_failure", Console,
		"off: no API sets it; the chatwoot_setup role does (Account.find(%d).update!(keep_pending_on_bot_failure: true))", a.id)
	return nil
}

// installation reads the dashboard page (DashboardController#index): it
// redirects to the onboarding while nobody has claimed the installation,
// and its window.globalConfig carries the branding configs.
func (a *account) installation(ctx context.Context) error {
	status, loc, body, err := a.api.page(ctx, "/app/login")
	if err != nil {
		return err
	}
	switch {
	case status >= 300 && status < 400 && strings.Contains(loc, "/installation/onboarding"):
		a.rep.add("installation", "onboarding", Console, "still open: whoever opens Chatwoot first becomes its super admin; the chatwoot_setup role closes it")
		return nil
	case status != http.StatusOK:
		a.rep.add("installation", "branding", Skipped, "the dashboard answered %d%s: read it through Chatwoot's internal URL", status, map[bool]string{true: " to " + hostOf(loc)}[loc != ""])
		return nil
	}
	a.rep.add("installation", "onboarding", Unchanged, "closed")
	if len(a.state.Branding) == 0 {
		return nil
	}
	cfg, ok := globalConfig(body)
	if !ok {
		a.rep.add("installation", "branding", Skipped, "window.globalConfig not found in the dashboard page")
		return nil
	}
	var differ []string
	for k, v := range a.state.Branding {
		if fmt.Sprint(cfg[k]) != v {
			differ = append(differ, k)
		}
	}
	sort.Strings(differ)
	if len(differ) == 0 {
		a.rep.add("installation", "branding", Unchanged, "%d settings", len(a.state.Branding))
		return nil
	}
	a.rep.add("installation", "branding", Console, "%s: no API sets installation configs; the chatwoot_setup role does (and keeps them only with the enterprise code off, see docs/chatwoot-setup.md)", strings.Join(differ, ", "))
	return nil
}

// globalConfig finds `window.globalConfig = {...}` in the vueapp layout.
func globalConfig(page []byte) (map[string]any, bool) {
	const marker = "window.globalConfig = "
	i := strings.Index(string(page), marker)
	if i < 0 {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(string(page[i+len(marker):])))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}
