package chatwootsetup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/chatwootsetup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/replies"
)

// shippedFile is the desired state the Ansible role ships.
const shippedFile = "../../ansible/roles/chatwoot_setup/files/chatwoot.yml"

// env is what the role exports for the shipped file.
var env = map[string]string{
	"CONCIERGE_DOMAIN":            "example.com",
	"CHATWOOT_ACCOUNT_NAME":       "Harbor Stays",
	"CHATWOOT_EMAIL_ADDRESS":      "support@example.com",
	"CHATWOOT_EMAIL_IMAP_ADDRESS": "imap.example.com",
	"CHATWOOT_EMAIL_IMAP_LOGIN":   "support@example.com",
	"CHATWOOT_EMAIL_SMTP_ADDRESS": "smtp.example.com",
	"CHATWOOT_EMAIL_SMTP_LOGIN":   "support@example.com",
	"CHATWOOT_INSTALLATION_NAME":  "Harbor Stays",
}

const (
	agentEmail = "ana@example.com"
	adminEmail = "lead@example.com"
)

// fullState is the shipped file with two people in the team and inbox.
func fullState(t *testing.T) chatwootsetup.State {
	t.Helper()
	st, err := chatwootsetup.Load(shippedFile, config.FromMap(env))
	if err != nil {
		t.Fatal(err)
	}
	st.Agents = []chatwootsetup.Agent{{Name: "Ana", Email: agentEmail}, {Name: "Lee", Email: adminEmail, Role: "administrator"}}
	st.Teams[0].Members = []string{agentEmail, adminEmail}
	st.Inboxes[0].Members = []string{agentEmail}
	return st
}

func options(fake *chatwoottest.Server, token string, st chatwootsetup.State) chatwootsetup.Options {
	return chatwootsetup.Options{BaseURL: fake.URL, PlatformToken: token, State: st, IMAPPassword: "imap-pw-1", SMTPPassword: "smtp-pw-1"}
}

func run(t *testing.T, o chatwootsetup.Options) chatwootsetup.Report {
	t.Helper()
	rep, err := chatwootsetup.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

// changes indexes a report by "kind name".
func changes(rep chatwootsetup.Report) map[string]chatwootsetup.Change {
	out := map[string]chatwootsetup.Change{}
	for _, c := range rep.Changes {
		out[c.Kind+" "+c.Name] = c
	}
	return out
}

func wantAction(t *testing.T, rep chatwootsetup.Report, key string, a chatwootsetup.Action, detail string) {
	t.Helper()
	c, ok := changes(rep)[key]
	if !ok {
		t.Errorf("no change %q in %+v", key, rep.Changes)
		return
	}
	if c.Action != a || !strings.Contains(c.Detail, detail) {
		t.Errorf("%s: %s (%s), want %s (…%s…)", key, c.Action, c.Detail, a, detail)
	}
}

func TestFirstRunCreatesEverythingSecondChangesNothing(t *testing.T) {
	fake := chatwoottest.New(t)
	token := fake.AddPlatformApp()
	st := fullState(t)

	rep := run(t, options(fake, token, st))
	out := rep.Outputs
	if out.AccountID == 1 || fake.AccountName(out.AccountID) != "Harbor Stays" {
		t.Fatalf("account %d %q: want a new account named Harbor Stays", out.AccountID, fake.AccountName(out.AccountID))
	}
	for _, key := range []string{"account Harbor Stays", "service user concierge-automation@example.com", "agent " + agentEmail,
		"label ai-handoff", "contact attribute check_in", "team guest support", "team members guest support",
		"agent bot Concierge", "inbox Website", "inbox Email", "inbox Operations", "inbox Urgent calls", "inbox members Website",
		"inbox members Urgent calls", "inbox bot Website", "inbox bot Email"} {
		wantAction(t, rep, key, chatwootsetup.Created, "")
	}
	// The urgent-calls inbox is made without the bot: nothing to undo.
	wantAction(t, rep, "inbox bot Urgent calls", chatwootsetup.Unchanged, "none")
	// What no API sets is reported, not written.
	wantAction(t, rep, "account setting keep_pending_on_bot_failure", chatwootsetup.Console, "Account.find(")
	wantAction(t, rep, "installation branding", chatwootsetup.Console, "BRAND_NAME, INSTALLATION_NAME")

	// The service user administers the account; the people have their roles.
	users := map[string]int64{}
	for _, u := range fake.Users() {
		users[u.Email] = u.ID
	}
	roles := map[int64]string{}
	for _, m := range fake.AccountUsers(out.AccountID) {
		roles[m.UserID] = m.Role
	}
	if roles[users["concierge-automation@example.com"]] != "administrator" || roles[users[agentEmail]] != "agent" || roles[users[adminEmail]] != "administrator" {
		t.Errorf("memberships %v of users %v", roles, users)
	}

	// Inboxes, as Chatwoot stores them.
	inboxes := map[string]chatwoottest.Inbox{}
	for _, in := range fake.Inboxes(out.AccountID) {
		inboxes[in.Name] = in
	}
	web, mail, ops, urgent := inboxes["Website"], inboxes["Email"], inboxes["Operations"], inboxes["Urgent calls"]
	if web.ChannelType != "Channel::WebWidget" || web.Channel["hmac_mandatory"] != true || web.Channel["website_url"] != "https://www.example.com" {
		t.Errorf("website inbox %+v", web)
	}
	if mail.ChannelType != "Channel::Email" || mail.Channel["email"] != "support@example.com" || mail.Channel["imap_enabled"] != true ||
		mail.Channel["imap_port"] != int64(993) || mail.Channel["imap_password"] != "imap-pw-1" || mail.Channel["smtp_enabled"] != true ||
		mail.Channel["smtp_port"] != int64(587) || mail.Channel["smtp_password"] != "smtp-pw-1" || mail.Channel["smtp_enable_starttls_auto"] != true {
		t.Errorf("email inbox %+v", mail)
	}
	if ops.ChannelType != "Channel::Api" {
		t.Errorf("operations inbox %+v", ops)
	}
	// Urgent calls: an API inbox, no webhook, the team's members as its
	// agents (the team's, not the file's inbox members), no bot.
	if urgent.ChannelType != "Channel::Api" || urgent.Channel["webhook_url"] != "" || out.UrgentInboxID != urgent.ID || urgent.ID == 0 {
		t.Errorf("urgent inbox %+v, output %d", urgent, out.UrgentInboxID)
	}
	if m := fake.InboxMembers(urgent.ID); !sameIDs(m, []int64{users[agentEmail], users[adminEmail]}) {
		t.Errorf("urgent inbox members %v, want the team's %d and %d", m, users[agentEmail], users[adminEmail])
	}
	if !slices.Equal(fake.InboxMembers(web.ID), []int64{users[agentEmail]}) {
		t.Errorf("website members %v", fake.InboxMembers(web.ID))
	}

	// Labels and the contact attributes contact sync writes.
	if ls := fake.Labels(out.AccountID); len(ls) != 1 || ls[0].Title != replies.HandoffLabel || !ls[0].ShowOnSidebar {
		t.Errorf("labels %+v", ls)
	}
	types := map[string]string{}
	for _, a := range fake.AttributeDefinitions(out.AccountID) {
		if a.Model != "contact_attribute" {
			t.Errorf("attribute %s is a %s", a.Key, a.Model)
		}
		types[a.Key] = a.DisplayType
	}
	for _, k := range []string{contactsync.AttrGuestID, contactsync.AttrReservationID, contactsync.AttrConfirmationCode,
		contactsync.AttrListing, contactsync.AttrReservationStatus} {
		if types[k] != "text" {
			t.Errorf("attribute %s: %q", k, types[k])
		}
	}
	if types[contactsync.AttrCheckIn] != "date" || types[contactsync.AttrCheckOut] != "date" || len(types) != 7 {
		t.Errorf("attributes %v", types)
	}

	// The team and its members.
	teams := fake.Teams(out.AccountID)
	if len(teams) != 1 || teams[0].Name != "guest support" || len(fake.TeamMembers(teams[0].ID)) != 2 {
		t.Errorf("teams %+v", teams)
	}

	// The bot: the account's own, posting to llm-query's public route,
	// on the widget and e-mail inboxes, its secret and token read back.
	var b chatwoottest.AgentBot
	for _, x := range fake.AgentBots() {
		if x.ID == out.AgentBotID {
			b = x
		}
	}
	if b.AccountID != out.AccountID || b.OutgoingURL != "https://gateway.example.com/function/llm-query" {
		t.Errorf("bot %+v", b)
	}
	if fake.InboxBot(web.ID) != b.ID || fake.InboxBot(mail.ID) != b.ID || fake.InboxBot(ops.ID) != 0 || fake.InboxBot(urgent.ID) != 0 {
		t.Errorf("bot on inboxes: website %d, email %d, operations %d, urgent calls %d", fake.InboxBot(web.ID), fake.InboxBot(mail.ID),
			fake.InboxBot(ops.ID), fake.InboxBot(urgent.ID))
	}
	if out.WebhookSecret != b.Secret || out.BotToken != fake.AgentBotToken(b.ID) || out.BotToken == "" {
		t.Errorf("bot secret/token not read back")
	}
	if out.WidgetHMACToken != web.Channel["hmac_token"] || out.OpsInboxIdentifier != ops.Channel["identifier"] || out.ContactInboxID != web.ID {
		t.Errorf("outputs %+v", out)
	}
	// The outputs work: the bot's token may post a reply (a bot), the
	// admin token reads the contacts (a user).
	for tok, want := range map[string]chatwoot.TokenKind{out.BotToken: chatwoot.BotToken, out.AdminToken: chatwoot.UserToken} {
		c, err := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: out.AccountID, Token: tok, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if kind, err := c.TokenKind(context.Background()); err != nil || kind != want {
			t.Errorf("token kind %v %v, want %v", kind, err, want)
		}
	}

	dir := filepath.Join(t.TempDir(), "out")
	if err := chatwootsetup.WriteOutputs(dir, out); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{chatwootsetup.FileWebhookSecret: b.Secret, chatwootsetup.FileBotToken: out.BotToken,
		chatwootsetup.FileAdminToken: out.AdminToken, chatwootsetup.FileWidgetHMACToken: out.WidgetHMACToken,
		chatwootsetup.FileOpsInboxIdentifier: out.OpsInboxIdentifier} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		fi, _ := os.Stat(filepath.Join(dir, name))
		if err != nil || string(got) != want || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", name, err, fi.Mode())
		}
	}
	ids, _ := os.ReadFile(filepath.Join(dir, chatwootsetup.FileIDs))
	var idsJSON map[string]any
	if err := json.Unmarshal(ids, &idsJSON); err != nil || strings.Contains(string(ids), out.AdminToken) || idsJSON["contact_inbox_id"] != float64(web.ID) ||
		idsJSON["urgent_inbox_id"] != float64(urgent.ID) {
		t.Errorf("ids file %s (%v)", ids, err)
	}

	// Second run: nothing to do, and not one write.
	fake.Reset()
	again := run(t, options(fake, token, st))
	if w := fake.Writes(); len(w) != 0 {
		t.Fatalf("second run wrote %d times: %+v", len(w), w)
	}
	if again.Count(chatwootsetup.Created)+again.Count(chatwootsetup.Updated) != 0 {
		t.Errorf("second run: %+v", again.Changes)
	}
	if again.Outputs.WebhookSecret != out.WebhookSecret || again.Outputs.BotToken != out.BotToken || again.Outputs.AdminToken != out.AdminToken ||
		again.Outputs.AccountID != out.AccountID || again.Outputs.ContactInboxID != out.ContactInboxID || again.Outputs.UrgentInboxID != out.UrgentInboxID {
		t.Errorf("second run's outputs differ: %+v", again.Outputs)
	}

	// The console settings, once set (the role's Rails runner), are
	// unchanged too.
	fake.KeepPendingOnBotFailure = true
	fake.SetInstallationConfig("INSTALLATION_NAME", "Harbor Stays")
	fake.SetInstallationConfig("BRAND_NAME", "Concierge")
	third := run(t, options(fake, token, st))
	if p := third.Pending(); len(p) != 0 {
		t.Errorf("pending after the console settings: %+v", p)
	}
	var text strings.Builder
	if err := third.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{out.WebhookSecret, out.BotToken, out.AdminToken, out.WidgetHMACToken, "imap-pw-1", token} {
		if strings.Contains(text.String(), secret) {
			t.Errorf("the plan shows a secret:\n%s", text.String())
		}
	}
	if !strings.Contains(text.String(), "0 created, 0 updated") {
		t.Errorf("plan:\n%s", text.String())
	}
}

func TestCompletesPartlySetUpAccount(t *testing.T) {
	fake := chatwoottest.New(t)
	token := fake.AddPlatformApp()
	full := fullState(t)

	// An earlier setup that stopped half-way: the widget without identity
	// validation, some attributes, no labels, no team, no bot.
	partial := full
	web := full.Inboxes[0]
	web.IdentityValidation, web.AgentBot, web.Members = false, nil, nil
	partial.Inboxes = []chatwootsetup.Inbox{web}
	partial.Labels = nil
	partial.ContactAttributes = full.ContactAttributes[:3]
	partial.Teams, partial.Agents, partial.AgentBot = nil, full.Agents[:1], chatwootsetup.AgentBot{}
	first := run(t, options(fake, token, partial))
	acct := first.Outputs.AccountID

	// Someone made a bot in Super Admin (a system bot) and one in the
	// account pointing at the internal gateway, which SafeFetch refuses.
	system := fake.AddAgentBot(chatwoottest.AgentBot{Name: "Concierge", OutgoingURL: "https://gateway.example.com/function/llm-query"})
	stale := fake.AddAgentBot(chatwoottest.AgentBot{Name: "Concierge", AccountID: acct, OutgoingURL: "http://gateway:8080/function/llm-query", Secret: "old-secret"})

	fake.Reset()
	rep := run(t, options(fake, token, full))
	wantAction(t, rep, "account Harbor Stays", chatwootsetup.Unchanged, "")
	wantAction(t, rep, "inbox Website", chatwootsetup.Updated, "hmac_mandatory")
	wantAction(t, rep, "inbox Email", chatwootsetup.Created, "")
	wantAction(t, rep, "inbox Operations", chatwootsetup.Created, "")
	wantAction(t, rep, "inbox Urgent calls", chatwootsetup.Created, "api")
	wantAction(t, rep, "label ai-handoff", chatwootsetup.Created, "")
	wantAction(t, rep, "contact attribute guesty_guest_id", chatwootsetup.Unchanged, "")
	wantAction(t, rep, "contact attribute check_in", chatwootsetup.Created, "")
	wantAction(t, rep, "agent "+agentEmail, chatwootsetup.Unchanged, "")
	wantAction(t, rep, "agent "+adminEmail, chatwootsetup.Created, "")
	wantAction(t, rep, "agent bot Concierge", chatwootsetup.Updated, "outgoing_url")
	wantAction(t, rep, "inbox bot Website", chatwootsetup.Created, "")
	if c := changes(rep)["agent bot Concierge"]; c.Action == chatwootsetup.Skipped {
		t.Errorf("the system bot hid the account's: %+v", rep.Changes)
	}
	var skipped bool
	for _, c := range rep.Changes {
		skipped = skipped || (c.Kind == "agent bot" && c.Action == chatwootsetup.Skipped && strings.Contains(c.Detail, "system bot"))
	}
	if !skipped {
		t.Errorf("the system bot is not reported: %+v", rep.Changes)
	}
	if rep.Outputs.AgentBotID != stale.ID || rep.Outputs.AgentBotID == system.ID || rep.Outputs.WebhookSecret != "old-secret" {
		t.Errorf("bot %d (secret kept: %v), want the account's %d", rep.Outputs.AgentBotID, rep.Outputs.WebhookSecret == "old-secret", stale.ID)
	}
	for _, b := range fake.AgentBots() {
		if b.ID == stale.ID && b.OutgoingURL != "https://gateway.example.com/function/llm-query" {
			t.Errorf("bot URL %s", b.OutgoingURL)
		}
	}
	if len(fake.AttributeDefinitions(acct)) != 7 || len(fake.Inboxes(acct)) != 4 || rep.Outputs.UrgentInboxID == 0 {
		t.Errorf("attributes %d, inboxes %d", len(fake.AttributeDefinitions(acct)), len(fake.Inboxes(acct)))
	}
	for _, in := range fake.Inboxes(acct) {
		if in.Name == "Website" && in.Channel["hmac_mandatory"] != true {
			t.Errorf("identity validation still off")
		}
	}

	// Completed: the next run writes nothing.
	fake.Reset()
	run(t, options(fake, token, full))
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("third run wrote %d times: %+v", len(w), w)
	}

	// A changed password is sent with its server's other fields, so
	// Chatwoot checks the login.
	fake.Reset()
	o := options(fake, token, full)
	o.SMTPPassword = "smtp-pw-2"
	rep = run(t, o)
	wantAction(t, rep, "inbox Email", chatwootsetup.Updated, "smtp_address, smtp_domain")
	if w := fake.Writes(); len(w) != 1 || !strings.Contains(string(w[0].Body), `"smtp_enabled":true`) || strings.Contains(string(w[0].Body), "imap_") {
		t.Errorf("writes %+v", w)
	}
}

// sameIDs compares two sets of ids.
func sameIDs(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// api calls the fake's account API as token and decodes the answer into
// out; it returns the status.
func api(t *testing.T, fake *chatwoottest.Server, token, method string, acct int64, path string, body, out any) int {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, fmt.Sprintf("%s/api/v1/accounts/%d/%s", fake.URL, acct, path), in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api_access_token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode < 300 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

// urgentInbox is the shipped file's urgent-calls inbox.
func urgentInbox(t *testing.T, st chatwootsetup.State) chatwootsetup.Inbox {
	t.Helper()
	i := slices.IndexFunc(st.Inboxes, func(in chatwootsetup.Inbox) bool { return in.UrgentCalls })
	if i < 0 {
		t.Fatalf("no urgent_calls inbox in %+v", st.Inboxes)
	}
	return st.Inboxes[i]
}

func TestUrgentCallsInbox(t *testing.T) {
	fake := chatwoottest.New(t)
	token := fake.AddPlatformApp()
	full := fullState(t)
	if in := urgentInbox(t, full); in.Name != chatwootsetup.DefaultUrgentInboxName || in.Type != chatwootsetup.API ||
		in.WebhookURL != "" || in.AgentBot == nil || *in.AgentBot || !slices.Equal(in.Teams, []string{"guest support"}) {
		t.Fatalf("shipped urgent inbox %+v", in)
	}

	// Set up before the inbox was in the file; then someone made it by
	// hand with the bot on it and one agent of the team.
	partial := full
	partial.Inboxes = slices.DeleteFunc(slices.Clone(full.Inboxes), func(in chatwootsetup.Inbox) bool { return in.UrgentCalls })
	first := run(t, options(fake, token, partial))
	acct, admin := first.Outputs.AccountID, first.Outputs.AdminToken
	if first.Outputs.UrgentInboxID != 0 {
		t.Fatalf("urgent inbox id %d without the inbox", first.Outputs.UrgentInboxID)
	}
	users := map[string]int64{}
	for _, u := range fake.Users() {
		users[u.Email] = u.ID
	}
	var made struct {
		ID int64 `json:"id"`
	}
	if st := api(t, fake, admin, http.MethodPost, acct, "inboxes", map[string]any{"name": "Urgent calls", "channel": map[string]any{"type": "api"}}, &made); st != http.StatusOK {
		t.Fatalf("create inbox: %d", st)
	}
	if st := api(t, fake, admin, http.MethodPost, acct, fmt.Sprintf("inboxes/%d/set_agent_bot", made.ID), map[string]any{"agent_bot": first.Outputs.AgentBotID}, nil); st != http.StatusOK ||
		fake.InboxBot(made.ID) != first.Outputs.AgentBotID {
		t.Fatalf("connect the bot by hand: %d, bot %d", st, fake.InboxBot(made.ID))
	}
	if st := api(t, fake, admin, http.MethodPost, acct, "inbox_members", map[string]any{"inbox_id": made.ID, "user_ids": []int64{users[agentEmail]}}, nil); st != http.StatusOK {
		t.Fatalf("add a member by hand: %d", st)
	}

	fake.Reset()
	rep := run(t, options(fake, token, full))
	wantAction(t, rep, "inbox Urgent calls", chatwootsetup.Unchanged, "api")
	wantAction(t, rep, "inbox bot Urgent calls", chatwootsetup.Updated, "Concierge (id ")
	wantAction(t, rep, "inbox members Urgent calls", chatwootsetup.Updated, "1 added")
	if rep.Outputs.UrgentInboxID != made.ID {
		t.Errorf("urgent inbox id %d, want the existing %d", rep.Outputs.UrgentInboxID, made.ID)
	}
	if fake.InboxBot(made.ID) != 0 || fake.InboxBot(rep.Outputs.ContactInboxID) != rep.Outputs.AgentBotID {
		t.Errorf("bots: urgent calls %d, website %d", fake.InboxBot(made.ID), fake.InboxBot(rep.Outputs.ContactInboxID))
	}
	if m := fake.InboxMembers(made.ID); !sameIDs(m, []int64{users[agentEmail], users[adminEmail]}) {
		t.Errorf("urgent inbox members %v", m)
	}
	// Two writes: the members, and set_agent_bot without a bot.
	w := fake.Writes()
	detach := slices.IndexFunc(w, func(r chatwoottest.Request) bool {
		return r.Path == fmt.Sprintf("/api/v1/accounts/%d/inboxes/%d/set_agent_bot", acct, made.ID) && string(r.Body) == `{"agent_bot":null}` && r.Status == http.StatusOK
	})
	if len(w) != 2 || detach < 0 {
		t.Errorf("writes %+v", w)
	}

	// Completed: the next run writes nothing and says so.
	fake.Reset()
	again := run(t, options(fake, token, full))
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("run after completing wrote %+v", w)
	}
	wantAction(t, again, "inbox bot Urgent calls", chatwootsetup.Unchanged, "none")
	if again.Outputs.UrgentInboxID != made.ID {
		t.Errorf("urgent inbox id %d", again.Outputs.UrgentInboxID)
	}

	// urgent_calls alone (agent_bot left out) keeps the inbox without a bot.
	if st := api(t, fake, admin, http.MethodPost, acct, fmt.Sprintf("inboxes/%d/set_agent_bot", made.ID), map[string]any{"agent_bot": first.Outputs.AgentBotID}, nil); st != http.StatusOK {
		t.Fatalf("connect the bot by hand: %d", st)
	}
	implicit := full
	implicit.Inboxes = slices.Clone(full.Inboxes)
	for i := range implicit.Inboxes {
		if implicit.Inboxes[i].UrgentCalls {
			implicit.Inboxes[i].AgentBot = nil
		}
	}
	wantAction(t, run(t, options(fake, token, implicit)), "inbox bot Urgent calls", chatwootsetup.Updated, "disconnected")
	if fake.InboxBot(made.ID) != 0 {
		t.Errorf("urgent inbox kept bot %d", fake.InboxBot(made.ID))
	}

	// Why no bot: what the bot's token opens in its own inbox starts
	// pending (the bot's), in the urgent-calls inbox open (a person's).
	guest := fake.AddContact(chatwoottest.Contact{AccountID: acct, Name: "Guest"})
	for inbox, want := range map[int64]string{made.ID: "open", rep.Outputs.ContactInboxID: "pending"} {
		var conv struct {
			Status string `json:"status"`
		}
		st := api(t, fake, rep.Outputs.BotToken, http.MethodPost, acct, "conversations", map[string]any{"inbox_id": inbox, "contact_id": guest.ID}, &conv)
		if st != http.StatusOK || conv.Status != want {
			t.Errorf("conversation in inbox %d: %d %q, want %q", inbox, st, conv.Status, want)
		}
	}

	// The name is the setup's to choose.
	renamed := map[string]string{"CHATWOOT_URGENT_INBOX_NAME": "Missed calls"}
	for k, v := range env {
		renamed[k] = v
	}
	st, err := chatwootsetup.Load(shippedFile, config.FromMap(renamed))
	if err != nil {
		t.Fatal(err)
	}
	if in := urgentInbox(t, st); in.Name != "Missed calls" {
		t.Errorf("renamed: %q", in.Name)
	}
	st.Teams[0].Members = []string{agentEmail}
	st.Agents = []chatwootsetup.Agent{{Name: "Ana", Email: agentEmail}}
	other := chatwoottest.New(t)
	out := run(t, options(other, other.AddPlatformApp(), st)).Outputs
	if out.UrgentInboxID == 0 || out.Inboxes["Missed calls"] != out.UrgentInboxID {
		t.Errorf("renamed inbox: %+v", out)
	}
}

func TestPlatformTokenRefusedNamesTheSetting(t *testing.T) {
	fake := chatwoottest.New(t)
	st := fullState(t)
	for name, tok := range map[string]string{"unknown": "cw-nope-0123456789", "a user's": fake.UserToken, "a bot's": fake.BotToken} {
		_, err := chatwootsetup.Run(context.Background(), options(fake, tok, st))
		if !errors.Is(err, chatwootsetup.ErrPlatformToken) || !strings.Contains(err.Error(), "CHATWOOT_PLATFORM_TOKEN") ||
			!strings.Contains(err.Error(), "Invalid access_token") {
			t.Errorf("%s token: %v", name, err)
		}
		if strings.Contains(err.Error(), tok) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("writes with a refused token: %+v", w)
	}
	_, err := chatwootsetup.Run(context.Background(), options(fake, "", st))
	if err == nil || !strings.Contains(err.Error(), "CHATWOOT_PLATFORM_TOKEN") {
		t.Errorf("no token: %v", err)
	}
}

func TestAccountOfAnotherOwner(t *testing.T) {
	fake := chatwoottest.New(t)
	token := fake.AddPlatformApp()
	o := options(fake, token, fullState(t))
	o.AccountID = 1 // made by the onboarding, not by the platform app
	_, err := chatwootsetup.Run(context.Background(), o)
	if !errors.Is(err, chatwootsetup.ErrNotPermitted) || !strings.Contains(err.Error(), "PlatformAppPermissible") {
		t.Fatalf("account 1: %v", err)
	}
	o.AccountID = 99
	if _, err := chatwootsetup.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("account 99: %v", err)
	}
	// Granted (the role's adopt step), it is set up and renamed.
	fake.PermitAccount(token, 1)
	o.AccountID = 1
	rep := run(t, o)
	wantAction(t, rep, "account Harbor Stays", chatwootsetup.Updated, "name")
	if rep.Outputs.AccountID != 1 || fake.AccountName(1) != "Harbor Stays" {
		t.Errorf("account %d %q", rep.Outputs.AccountID, fake.AccountName(1))
	}
}

func TestOlderChatwootRefused(t *testing.T) {
	fake := chatwoottest.New(t)
	fake.SetVersion("4.13.0")
	_, err := chatwootsetup.Run(context.Background(), options(fake, fake.AddPlatformApp(), fullState(t)))
	if !errors.Is(err, chatwootsetup.ErrVersion) || !strings.Contains(err.Error(), "4.14.2") {
		t.Fatalf("4.13.0: %v", err)
	}
	if len(fake.Writes()) != 0 {
		t.Errorf("wrote to an old Chatwoot")
	}
}

func TestInspect(t *testing.T) {
	fake := chatwoottest.New(t)
	fake.SetOnboardingPending(true)
	inspect := func(st *chatwootsetup.State, tok string, acct int64) chatwootsetup.Report {
		t.Helper()
		rep, err := chatwootsetup.Inspect(context.Background(), chatwootsetup.InspectOptions{BaseURL: fake.URL, AccountID: acct, Token: tok, State: st})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// Account 1 as the onboarding leaves it: everything is missing.
	rep := inspect(nil, fake.UserToken, 1)
	var missing []string
	for _, c := range rep.Pending() {
		missing = append(missing, c.Kind+" "+c.Name)
	}
	for _, want := range []string{"label ai-handoff", "contact attribute check_in", "inbox web widget", "inbox operations alerts",
		"inbox urgent calls", "agent bot /function/llm-query", "account setting keep_pending_on_bot_failure", "installation onboarding"} {
		if !slices.Contains(missing, want) {
			t.Errorf("missing %v, want %q among them", missing, want)
		}
	}
	st := fullState(t)
	if p := inspect(&st, fake.UserToken, 1).Pending(); len(p) < 10 {
		t.Errorf("whole state: %d pending", len(p))
	}
	if w := fake.Writes(); len(w) != 0 {
		t.Fatalf("inspect wrote: %+v", w)
	}

	token := fake.AddPlatformApp()
	fake.PermitAccount(token, 1)
	o := options(fake, token, st)
	o.AccountID = 1
	out := run(t, o).Outputs
	fake.KeepPendingOnBotFailure = true
	fake.SetOnboardingPending(false)
	fake.SetInstallationConfig("INSTALLATION_NAME", "Harbor Stays")
	fake.SetInstallationConfig("BRAND_NAME", "Concierge")
	fake.Reset()
	if p := inspect(nil, out.AdminToken, 1).Pending(); len(p) != 0 {
		t.Errorf("minimum after setup: %+v", p)
	}
	if p := inspect(&st, out.AdminToken, 1).Pending(); len(p) != 0 {
		t.Errorf("whole state after setup: %+v", p)
	}
	if w := fake.Writes(); len(w) != 0 {
		t.Fatalf("inspect wrote: %+v", w)
	}

	// URGENT_CALL_INBOX_ID: the setup's inbox passes; another id is
	// reported, as is an id the file's inbox does not have.
	urgent := out.UrgentInboxID
	inspectUrgent := func(st *chatwootsetup.State, id int64) []chatwootsetup.Change {
		t.Helper()
		rep, err := chatwootsetup.Inspect(context.Background(), chatwootsetup.InspectOptions{BaseURL: fake.URL, AccountID: 1, Token: out.AdminToken, State: st, UrgentInboxID: id})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Pending()
	}
	if p := inspectUrgent(nil, urgent); len(p) != 0 {
		t.Errorf("minimum with URGENT_CALL_INBOX_ID %d: %+v", urgent, p)
	}
	if p := inspectUrgent(nil, 999); len(p) != 1 || p[0].Kind+" "+p[0].Name != "inbox urgent calls" || !strings.Contains(p[0].Detail, "URGENT_CALL_INBOX_ID 999") {
		t.Errorf("minimum with an unknown inbox: %+v", p)
	}
	if p := inspectUrgent(&st, out.ContactInboxID); len(p) != 1 || p[0].Name != "URGENT_CALL_INBOX_ID" || p[0].Action != chatwootsetup.Updated {
		t.Errorf("whole state with another inbox's id: %+v", p)
	}
	// The bot connected to it by hand: both views report it.
	if st := api(t, fake, out.AdminToken, http.MethodPost, 1, fmt.Sprintf("inboxes/%d/set_agent_bot", urgent), map[string]any{"agent_bot": out.AgentBotID}, nil); st != http.StatusOK {
		t.Fatalf("set_agent_bot: %d", st)
	}
	fake.Reset()
	for name, s := range map[string]*chatwootsetup.State{"minimum": nil, "whole state": &st} {
		p := inspectUrgent(s, 0)
		if len(p) != 1 || p[0].Kind+" "+p[0].Name != "inbox bot Urgent calls" || p[0].Action != chatwootsetup.Updated {
			t.Errorf("%s with the bot on the urgent inbox: %+v", name, p)
		}
	}
	if w := fake.Writes(); len(w) != 0 {
		t.Fatalf("inspect wrote: %+v", w)
	}
}

func TestParse(t *testing.T) {
	lookup := config.FromMap(map[string]string{"DOMAIN": "example.org", "PORT": "2525", "ZIP": "0123"})
	st, err := chatwootsetup.Parse([]byte(`
account: {name: "${NAME:-Stays ${DOMAIN}}"}
service_user: {name: Bot, email: "ops@${DOMAIN}"}
inboxes:
  - {name: Web, type: web_widget, website_url: "${SITE:-https://www.${DOMAIN}}", welcome_title: "${ZIP}"}
  - name: Mail
    type: email
    email: ${MAIL:-}
    imap: {address: "imap.${DOMAIN}", port: "${IMAPPORT:-993}"}
    smtp: {address: "smtp.${DOMAIN}", port: "${PORT}"}
`), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if st.Account.Name != "Stays example.org" || st.Inboxes[0].WebsiteURL != "https://www.example.org" || st.Inboxes[0].WelcomeTitle != "0123" {
		t.Errorf("expanded %+v", st)
	}
	if st.Inboxes[1].Email != "" || st.Inboxes[1].IMAP.Port != 993 || st.Inboxes[1].SMTP.Port != 2525 {
		t.Errorf("mail %+v %+v %+v", st.Inboxes[1], st.Inboxes[1].IMAP, st.Inboxes[1].SMTP)
	}
	// What the code needs is there even though the file leaves it out.
	if len(st.Labels) != 1 || st.Labels[0].Title != "ai-handoff" || len(st.ContactAttributes) != 7 {
		t.Errorf("required: %+v %+v", st.Labels, st.ContactAttributes)
	}

	for _, tc := range []struct{ name, yaml, want string }{
		{"unset", "account: {name: '${ACCOUNT}'}\nservice_user: {name: a, email: '${EMAIL}'}", "unset: ACCOUNT, EMAIL"},
		{"unknown field", "account: {name: a, colour: red}", "field colour not found"},
		{"custom role", "account: {name: a}\nservice_user: {name: a, email: a@b}\nagents: [{email: x@b, role: supervisor}]", "custom roles are Enterprise"},
		{"bot on a private URL", "account: {name: a}\nservice_user: {name: a, email: a@b}\nagent_bot: {name: b, url: 'http://gateway:8080/function/llm-query'}\ninboxes: [{name: w, type: web_widget, website_url: 'https://a.b', agent_bot: true}]", "public https route"},
		{"bot elsewhere", "account: {name: a}\nservice_user: {name: a, email: a@b}\nagent_bot: {name: b, url: 'https://a.b/function/other'}\ninboxes: [{name: w, type: web_widget, website_url: 'https://a.b', agent_bot: true}]", "does not end in /function/llm-query"},
		{"contact sync in e-mail", "account: {name: a}\nservice_user: {name: a, email: a@b}\ninboxes: [{name: m, type: email, contact_sync: true}]", "contact sync needs a web widget or API inbox"},
		{"member unknown", "account: {name: a}\nservice_user: {name: a, email: a@b}\nteams: [{name: t, members: [z@b]}]", "z@b is not the service user"},
		{"bad label", "account: {name: a}\nservice_user: {name: a, email: a@b}\nlabels: [{title: 'two words'}]", "letters, digits"},
		{"urgent calls with the bot", "account: {name: a}\nservice_user: {name: a, email: a@b}\nagent_bot: {name: b, url: 'https://a.b/function/llm-query'}\ninboxes: [{name: u, type: api, urgent_calls: true, agent_bot: true}]", "must not have the agent bot"},
		{"urgent calls in a widget", "account: {name: a}\nservice_user: {name: a, email: a@b}\ninboxes: [{name: u, type: web_widget, website_url: 'https://a.b', urgent_calls: true}]", "urgent calls go to an API inbox"},
		{"two urgent inboxes", "account: {name: a}\nservice_user: {name: a, email: a@b}\ninboxes: [{name: u, type: api, urgent_calls: true}, {name: v, type: api, urgent_calls: true}]", "one urgent_calls"},
		{"inbox of an unknown team", "account: {name: a}\nservice_user: {name: a, email: a@b}\nteams: [{name: support}]\ninboxes: [{name: u, type: api, teams: [sales]}]", `team "sales" is not one of teams`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chatwootsetup.Parse([]byte(tc.yaml), config.FromMap(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
