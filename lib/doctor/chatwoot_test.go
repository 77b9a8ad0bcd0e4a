package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
)

func TestChatwoot(t *testing.T) {
	fake := chatwoottest.New(t)
	fake.AddInbox(1, 4)
	fake.KeepPendingOnBotFailure = true
	env := func(change ...string) map[string]string {
		m := map[string]string{"CHATWOOT_URL": fake.URL, "CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4",
			"CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken}
		for i := 0; i+1 < len(change); i += 2 {
			m[change[i]] = change[i+1]
		}
		return m
	}
	type line struct {
		name       string
		state      State
		found, fix string
	}
	for _, tc := range []struct {
		name    string
		version string
		env     map[string]string
		want    []line
	}{
		{"right", "4.14.2", env(), []line{
			{"chatwoot", OK, "Chatwoot 4.14.2 at 127.0.0.1", ""},
			{"chatwoot api token", OK, "the agent bot's token; Chatwoot 4.14.2 lets bots call all 7 actions", ""},
			{"chatwoot contacts token", OK, "an agent's token", ""},
			{"chatwoot account", OK, "account 1 (\"Account 1\"), keep_pending_on_bot_failure on", ""},
			{"chatwoot contact inbox", OK, "inbox 4 (\"Inbox 4\") of account 1", ""},
		}},
		{"older Chatwoot", "4.13.0", env(), []line{
			{"chatwoot", Fail, "Chatwoot 4.13.0", "4.14.2"},
			{"chatwoot api token", Fail, "refuses bots labels#index, labels#create", "CHATWOOT_API_TOKEN"},
		}},
		{"unknown api token", "4.14.2", env("CHATWOOT_API_TOKEN", "cw-nobody-0123456789"), []line{
			{"chatwoot api token", Fail, "does not know this token", "CHATWOOT_API_TOKEN"},
			{"chatwoot contacts token", OK, "an agent's token", ""},
		}},
		{"bot token for contacts", "4.14.2", env("CHATWOOT_CONTACTS_TOKEN", fake.BotToken), []line{
			{"chatwoot contacts token", Fail, "refuses bots the contacts API", "CHATWOOT_CONTACTS_TOKEN"},
			{"chatwoot account", Skip, "no agent's token", ""},
			{"chatwoot contact inbox", Skip, "no agent's token", ""},
		}},
		{"contacts token unset with the bot's", "4.14.2", env("CHATWOOT_CONTACTS_TOKEN", ""), []line{
			{"chatwoot contacts token", Fail, "unset, so contact sync uses CHATWOOT_API_TOKEN, the agent bot's", "CHATWOOT_CONTACTS_TOKEN"},
		}},
		{"an agent's token for both", "4.14.2", env("CHATWOOT_API_TOKEN", fake.UserToken, "CHATWOOT_CONTACTS_TOKEN", ""), []line{
			{"chatwoot api token", OK, "an agent's token", ""},
			{"chatwoot contacts token", OK, "unset, so contact sync uses CHATWOOT_API_TOKEN: an agent's token", ""},
			{"chatwoot account", OK, "account 1", ""},
			{"chatwoot contact inbox", OK, "inbox 4", ""},
		}},
		{"keep pending off", "4.14.2", env(), []line{
			{"chatwoot account", Fail, "keep_pending_on_bot_failure is off", "Account.find(1).update!(keep_pending_on_bot_failure: true)"},
		}},
		{"missing inbox", "4.14.2", env("CHATWOOT_CONTACT_INBOX_ID", "99"), []line{
			{"chatwoot contact inbox", Fail, "account 1 has no inbox 99", "CHATWOOT_CONTACT_INBOX_ID"},
		}},
		{"inbox unset", "4.14.2", env("CHATWOOT_CONTACT_INBOX_ID", ""), []line{
			{"chatwoot contact inbox", Fail, "CHATWOOT_CONTACT_INBOX_ID unset", "CHATWOOT_CONTACT_INBOX_ID"},
		}},
		{"missing account", "4.14.2", env("CHATWOOT_ACCOUNT_ID", "7"), []line{
			{"chatwoot account", Fail, "account 7", "CHATWOOT_ACCOUNT_ID"},
			{"chatwoot contact inbox", Skip, "account 7 cannot be read", ""},
		}},
		{"unreachable", "4.14.2", env("CHATWOOT_URL", "http://127.0.0.1:1"), []line{
			{"chatwoot", Fail, "", "CHATWOOT_URL"},
			{"chatwoot api token", Skip, "Chatwoot did not answer", ""},
			{"chatwoot account", Skip, "Chatwoot did not answer", ""},
			{"chatwoot contact inbox", Skip, "Chatwoot did not answer", ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.SetVersion(tc.version)
			fake.KeepPendingOnBotFailure = tc.name != "keep pending off"
			res := report(t, tc.env, Options{})
			for _, l := range tc.want {
				want(t, res, l.name, l.state, l.found, l.fix)
			}
			for name, r := range res {
				for _, tok := range []string{fake.BotToken, fake.UserToken} {
					if containsStr(r.Found+r.Fix, tok) {
						t.Errorf("%s shows a token", name)
					}
				}
			}
		})
	}
}
