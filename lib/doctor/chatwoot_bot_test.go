package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
)

func TestChatwootAgentBot(t *testing.T) {
	const public = "https://gateway.concierge.example/function/llm-query"
	for _, tc := range []struct {
		name       string
		version    string
		bots       []chatwoottest.AgentBot
		secret     string
		state      State
		found, fix string
	}{
		{"right", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: public, Secret: "bot-secret"}},
			"old-secret,bot-secret", OK, "signed with CHATWOOT_WEBHOOK_SECRET", ""},
		{"internal URL on 4.14", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: "http://gateway:8080/function/llm-query", Secret: "bot-secret"}},
			"bot-secret", Fail, "SafeFetch", "https://gateway.<domain>/function/llm-query"},
		{"private address on 4.14", "4.15.1", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: "http://10.0.1.5:8080/function/llm-query", Secret: "bot-secret"}},
			"bot-secret", Fail, "private address", "SAFE_FETCH_ALLOW_PRIVATE_NETWORK"},
		{"internal URL before SafeFetch", "4.13.0", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: "http://gateway:8080/function/llm-query", Secret: "bot-secret"}},
			"bot-secret", OK, "signed with CHATWOOT_WEBHOOK_SECRET", ""},
		{"system bot", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", OutgoingURL: public, Secret: "never-shown"}},
			"bot-secret", Fail, "system bot", "Settings > Agent Bots"},
		{"no bot", "4.14.2", nil, "bot-secret", Fail, "no agent bot of account 1", "Settings > Agent Bots"},
		{"another account's bot", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 2, OutgoingURL: public, Secret: "bot-secret"}},
			"bot-secret", Fail, "no agent bot of account 1", ""},
		{"secret differs", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: public, Secret: "rotated"}},
			"bot-secret", Fail, "is not CHATWOOT_WEBHOOK_SECRET", "chatwoot-webhook-secret"},
		{"secret unset", "4.14.2", []chatwoottest.AgentBot{{Name: "Concierge", AccountID: 1, OutgoingURL: public, Secret: "bot-secret"}},
			"", Fail, "CHATWOOT_WEBHOOK_SECRET is unset", "CHATWOOT_WEBHOOK_SECRET"},
		{"two bots", "4.14.2", []chatwoottest.AgentBot{{Name: "A", AccountID: 1, OutgoingURL: public}, {Name: "B", AccountID: 1, OutgoingURL: public + "/"}},
			"bot-secret", Fail, "2 bots", "keep one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := chatwoottest.New(t)
			fake.AddInbox(1, 4)
			fake.SetVersion(tc.version)
			for _, b := range tc.bots {
				fake.AddAgentBot(b)
			}
			env := map[string]string{"CHATWOOT_URL": fake.URL, "CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4",
				"CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken, "CHATWOOT_WEBHOOK_SECRET": tc.secret}
			res := report(t, env, Options{})
			want(t, res, "chatwoot agent bot", tc.state, tc.found, tc.fix)
			r := res["chatwoot agent bot"]
			for _, b := range tc.bots {
				if b.Secret != "" && containsStr(r.Found+r.Fix, b.Secret) {
					t.Errorf("the report shows the bot's secret: %+v", r)
				}
			}
		})
	}
}
