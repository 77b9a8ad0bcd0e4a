package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/chatwootsetup"
	"github.com/harborstays/concierge/lib/config"
)

func TestChatwootSetup(t *testing.T) {
	fake := chatwoottest.New(t)
	fake.SetOnboardingPending(true)
	env := map[string]string{"CHATWOOT_URL": fake.URL, "CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4",
		"CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken,
		// What the shipped setup file names.
		"CONCIERGE_DOMAIN": "example.com", "CHATWOOT_INSTALLATION_NAME": "Harbor Stays"}
	check := func(change ...string) Result {
		t.Helper()
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for i := 0; i+1 < len(change); i += 2 {
			m[change[i]] = change[i+1]
		}
		d := New(Options{Lookup: config.FromMap(m)})
		defer d.Close()
		return d.chatwootSetup(t.Context(), config.New(config.FromMap(m)))
	}

	// Account 1 as Chatwoot's onboarding leaves it.
	r := check()
	if r.State != Fail || !strings.Contains(r.Fix, "concierge chatwoot-setup") || !strings.Contains(r.Fix, "Rails runner") {
		t.Fatalf("before setup: %+v", r)
	}
	for _, want := range []string{"missing label ai-handoff", "missing contact attribute guesty_guest_id", "missing contact attribute check_out",
		"missing inbox web widget", "missing inbox operations alerts", "missing inbox urgent calls", "missing agent bot /function/llm-query",
		"account setting keep_pending_on_bot_failure", "installation onboarding (still open"} {
		if !strings.Contains(r.Found, want) {
			t.Errorf("before setup: %q lacks %q", r.Found, want)
		}
	}
	// No administrator's token: not checked rather than wrong.
	if r := check("CHATWOOT_CONTACTS_TOKEN", fake.BotToken); r.State != Skip {
		t.Errorf("bot tokens only: %+v", r)
	}

	// The setup, then what the role's Rails runner sets.
	token := fake.AddPlatformApp()
	fake.PermitAccount(token, 1)
	st, err := chatwootsetup.Load("../../ansible/roles/chatwoot_setup/files/chatwoot.yml", config.FromMap(env))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := chatwootsetup.Run(t.Context(), chatwootsetup.Options{BaseURL: fake.URL, PlatformToken: token, AccountID: 1, State: st})
	if err != nil {
		t.Fatal(err)
	}
	r = check()
	if r.State != Fail || strings.Contains(r.Found, "missing") || !strings.Contains(r.Found, "keep_pending_on_bot_failure") {
		t.Errorf("after setup, before the console: %+v", r)
	}
	fake.KeepPendingOnBotFailure = true
	fake.SetOnboardingPending(false)
	if r := check(); r.State != OK || !strings.Contains(r.Found, "what the code needs") {
		t.Errorf("after setup: %+v", r)
	}

	// URGENT_CALL_INBOX_ID: the setup's inbox passes; an inbox that is not
	// there, or a value that is no id, fails.
	urgent := strconv.FormatInt(rep.Outputs.UrgentInboxID, 10)
	if r := check("URGENT_CALL_INBOX_ID", urgent); r.State != OK || rep.Outputs.UrgentInboxID == 0 {
		t.Errorf("URGENT_CALL_INBOX_ID %s: %+v", urgent, r)
	}
	if r := check("URGENT_CALL_INBOX_ID", "999"); r.State != Fail || !strings.Contains(r.Found, "missing inbox urgent calls (URGENT_CALL_INBOX_ID 999") {
		t.Errorf("URGENT_CALL_INBOX_ID 999: %+v", r)
	}
	if r := check("URGENT_CALL_INBOX_ID", "urgent"); r.State != Fail || !strings.HasPrefix(r.Fix, "URGENT_CALL_INBOX_ID") {
		t.Errorf("URGENT_CALL_INBOX_ID urgent: %+v", r)
	}

	// With the setup file, the branding it declares counts too.
	withFile := []string{"CHATWOOT_SETUP_FILE", "../../ansible/roles/chatwoot_setup/files/chatwoot.yml",
		"CHATWOOT_CONTACTS_TOKEN", rep.Outputs.AdminToken}
	if r := check(withFile...); r.State != Fail || !strings.Contains(r.Found, "installation branding (BRAND_NAME, INSTALLATION_NAME") {
		t.Errorf("branding unset: %+v", r)
	}
	fake.SetInstallationConfig("INSTALLATION_NAME", "Harbor Stays")
	fake.SetInstallationConfig("BRAND_NAME", "Concierge")
	if r := check(withFile...); r.State != OK || !strings.Contains(r.Found, "CHATWOOT_SETUP_FILE") {
		t.Errorf("with the file: %+v", r)
	}

	// The bot connected to the urgent-calls inbox by hand: both checks
	// name it; the setup disconnects it.
	connect := map[string]any{"agent_bot": rep.Outputs.AgentBotID}
	if st := post(t, fake.URL, rep.Outputs.AdminToken, fmt.Sprintf("/api/v1/accounts/1/inboxes/%s/set_agent_bot", urgent), connect); st != http.StatusOK {
		t.Fatalf("set_agent_bot: %d", st)
	}
	for _, env := range [][]string{nil, withFile, {"URGENT_CALL_INBOX_ID", urgent}} {
		if r := check(env...); r.State != Fail || !strings.Contains(r.Found, "differs inbox bot Urgent calls") || !strings.Contains(r.Fix, "concierge chatwoot-setup") {
			t.Errorf("bot on the urgent inbox, %v: %+v", env, r)
		}
	}
	if _, err := chatwootsetup.Run(t.Context(), chatwootsetup.Options{BaseURL: fake.URL, PlatformToken: token, AccountID: 1, State: st}); err != nil {
		t.Fatal(err)
	}
	if r := check(withFile...); r.State != OK {
		t.Errorf("after the setup disconnected the bot: %+v", r)
	}
	if r := check("CHATWOOT_SETUP_FILE", "testdata/nope.yml"); r.State != Fail || !strings.HasPrefix(r.Fix, "CHATWOOT_SETUP_FILE") {
		t.Errorf("missing file: %+v", r)
	}
	if w := fake.Writes(); len(w) == 0 {
		t.Fatal("the setup wrote nothing?")
	}
	fake.Reset()
	check(withFile...)
	check()
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("the doctor wrote: %+v", w)
	}
}

// post sends a JSON body to the fake as token and returns the status.
func post(t *testing.T, base, token, path string, body any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api_access_token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
