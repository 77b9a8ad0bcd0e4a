package chatwoottest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/chatwootsetup"
)

// TestSetAgentBot: InboxesController#set_agent_bot and #agent_bot as
// Chatwoot 4.14.2 has them. fetch_inbox (404, then show?), fetch_agent_bot
// only when params[:agent_bot] is truthy (AgentBot.accessible_to: the
// account's and system bots, 404 otherwise), then InboxPolicy#
// set_agent_bot? (administrators); bots and platform apps are refused
// before (not a BOT_ACCESSIBLE_ENDPOINT). No bot destroys the inbox's
// AgentBotInbox. head :ok.
func TestSetAgentBot(t *testing.T) {
	fake := chatwoottest.New(t)
	platform := fake.AddPlatformApp()
	const agentEmail = "ana@example.com"
	yes := true
	st := chatwootsetup.State{
		Account:     chatwootsetup.Account{Name: "Stays"},
		ServiceUser: chatwootsetup.ServiceUser{Name: "Automation", Email: "automation@example.com"},
		Agents:      []chatwootsetup.Agent{{Name: "Ana", Email: agentEmail}},
		AgentBot:    chatwootsetup.AgentBot{Name: "Concierge", URL: "https://gateway.example.com/function/llm-query"},
		Inboxes: []chatwootsetup.Inbox{
			{Name: "Website", Type: chatwootsetup.WebWidget, WebsiteURL: "https://www.example.com", AgentBot: &yes, Members: []string{agentEmail}},
			{Name: "Urgent calls", Type: chatwootsetup.API, UrgentCalls: true},
		},
	}
	rep, err := chatwootsetup.Run(t.Context(), chatwootsetup.Options{BaseURL: fake.URL, PlatformToken: platform, State: st})
	if err != nil {
		t.Fatal(err)
	}
	out := rep.Outputs
	acct, web, urgent := out.AccountID, out.Inboxes["Website"], out.Inboxes["Urgent calls"]
	var agentToken string
	for _, u := range fake.Users() {
		if u.Email == agentEmail {
			agentToken = u.AccessToken
		}
	}
	system := fake.AddAgentBot(chatwoottest.AgentBot{Name: "System"})
	foreign := fake.AddAgentBot(chatwoottest.AgentBot{Name: "Elsewhere", AccountID: acct + 100, OutgoingURL: "https://other.example.com/hook"})

	call := func(token string, inbox int64, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			fmt.Sprintf("%s/api/v1/accounts/%d/inboxes/%d/set_agent_bot", fake.URL, acct, inbox), strings.NewReader(body))
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
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	shown := func(inbox int64) map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("%s/api/v1/accounts/%d/inboxes/%d/agent_bot", fake.URL, acct, inbox), nil)
		req.Header.Set("api_access_token", out.AdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("agent_bot: %d %v", res.StatusCode, err)
		}
		return m
	}
	if fake.InboxBot(web) != out.AgentBotID || fake.InboxBot(urgent) != 0 {
		t.Fatalf("after the setup: website %d, urgent calls %d", fake.InboxBot(web), fake.InboxBot(urgent))
	}

	for _, tc := range []struct {
		name, token string
		inbox       int64
		body        string
		status      int
		message     string
		bot         int64 // the inbox's bot afterwards
	}{
		{"the bot's own token", out.BotToken, urgent, fmt.Sprintf(`{"agent_bot":%d}`, out.AgentBotID), 401, chatwoottest.ErrBotNotAllowed, 0},
		{"a platform app's token", platform, urgent, fmt.Sprintf(`{"agent_bot":%d}`, out.AgentBotID), 401, chatwoottest.ErrBotNotAllowed, 0},
		{"an agent of the inbox", agentToken, web, `{"agent_bot":null}`, 401, chatwoottest.ErrNotAuthorizedTo, out.AgentBotID},
		{"an agent not of the inbox", agentToken, urgent, fmt.Sprintf(`{"agent_bot":%d}`, out.AgentBotID), 401, chatwoottest.ErrNotAuthorizedTo, 0},
		{"an inbox of no account's", out.AdminToken, urgent + 1000, `{"agent_bot":null}`, 404, chatwoottest.ErrNotFound, 0},
		{"another account's bot", out.AdminToken, urgent, fmt.Sprintf(`{"agent_bot":%d}`, foreign.ID), 404, chatwoottest.ErrNotFound, 0},
		{"an unknown bot", out.AdminToken, urgent, `{"agent_bot":999999}`, 404, chatwoottest.ErrNotFound, 0},
		{"an empty string is truthy in Ruby", out.AdminToken, web, `{"agent_bot":""}`, 404, chatwoottest.ErrNotFound, out.AgentBotID},
		{"the account's bot", out.AdminToken, urgent, fmt.Sprintf(`{"agent_bot":%d}`, out.AgentBotID), 200, "", out.AgentBotID},
		{"null disconnects", out.AdminToken, urgent, `{"agent_bot":null}`, 200, "", 0},
		{"null again: nothing to disconnect", out.AdminToken, urgent, `{"agent_bot":null}`, 200, "", 0},
		{"a system bot", out.AdminToken, urgent, fmt.Sprintf(`{"agent_bot":"%d"}`, system.ID), 200, "", system.ID},
		{"false disconnects", out.AdminToken, urgent, `{"agent_bot":false}`, 200, "", 0},
		{"the account's bot again", out.AdminToken, urgent, fmt.Sprintf(`{"agent_bot":%d}`, out.AgentBotID), 200, "", out.AgentBotID},
		{"no agent_bot disconnects", out.AdminToken, urgent, `{}`, 200, "", 0},
	} {
		status, body := call(tc.token, tc.inbox, tc.body)
		if status != tc.status || !strings.Contains(body, tc.message) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, status, body, tc.status, tc.message)
		}
		inbox := tc.inbox
		if tc.status == 404 && inbox != web {
			inbox = urgent
		}
		if got := fake.InboxBot(inbox); got != tc.bot {
			t.Errorf("%s: inbox %d's bot is %d, want %d", tc.name, inbox, got, tc.bot)
		}
		if tc.status == 200 && body != "" {
			t.Errorf("%s: head :ok has no body, got %q", tc.name, body)
		}
	}
	// agent_bot shows no bot once disconnected, the bot while connected.
	if m := shown(urgent); m["agent_bot"] != nil && len(m["agent_bot"].(map[string]any)) != 0 {
		t.Errorf("urgent calls' bot shown as %v", m)
	}
	if m, _ := shown(web)["agent_bot"].(map[string]any); m == nil || m["id"] != float64(out.AgentBotID) {
		t.Errorf("website's bot shown as %v", m)
	}
}
