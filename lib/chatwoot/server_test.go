package chatwoot_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
)

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"4.14.2", "4.14.2", true},
		{"v4.15.1", "4.14.2", true},
		{"4.14.1", "4.14.2", false},
		{"4.13.0", "4.14.2", false},
		{"5.0", "4.14.2", true},
		{"4.14.2-ee", "4.14.2", true},
		{"", "4.13.0", false},
		{"dev", "4.13.0", false},
	} {
		if got := chatwoot.VersionAtLeast(c.v, c.min); got != c.want {
			t.Errorf("VersionAtLeast(%q, %q) = %v", c.v, c.min, got)
		}
	}
}

// The bot's allow-list by release, checked against the fake's own list
// (written from Chatwoot's AccessTokenAuthHelper at each tag) through
// real calls: what BotMay allows, the fake lets through, and the reverse.
func TestBotMayMatchesChatwoot(t *testing.T) {
	ctx := context.Background()
	for _, version := range []string{"4.13.0", "4.14.1", "4.14.2", "4.15.1"} {
		fake := chatwoottest.New(t)
		fake.SetVersion(version)
		fake.AddConversation(chatwoottest.Conversation{AccountID: account, ID: convID, InboxID: inbox, Status: "pending"})
		bot, err := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: fake.BotToken, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"labels#index":  func() error { _, err := bot.Labels(ctx, convID); return err },
			"labels#create": func() error { _, err := bot.SetLabels(ctx, convID, []string{"x"}); return err },
			"messages#create": func() error {
				_, err := bot.PostMessage(ctx, convID, chatwoot.NewMessage{Content: "hi"})
				return err
			},
			"conversations#toggle_status": func() error { _, err := bot.ToggleStatus(ctx, convID, chatwoot.StatusOpen); return err },
			"conversations#toggle_typing_status": func() error {
				return bot.ToggleTyping(ctx, convID, chatwoot.Typing{On: true})
			},
			"contacts#search": func() error { _, err := bot.SearchContacts(ctx, "x"); return err },
		}
		for action, call := range calls {
			err := call()
			if refused := chatwoot.BotRefused(err); refused == chatwoot.BotMay(version, action) {
				t.Errorf("%s %s: BotMay %v, Chatwoot refused %v (%v)", version, action, chatwoot.BotMay(version, action), refused, err)
			}
		}
		for _, need := range chatwoot.BotNeeds {
			if got, want := chatwoot.BotMay(version, need), chatwoot.VersionAtLeast(version, chatwoot.MinVersion); need[:6] == "labels" && got != want {
				t.Errorf("%s %s: %v", version, need, got)
			}
		}
	}
}

func TestServerVersionAndTokenKind(t *testing.T) {
	ctx := context.Background()
	fake := chatwoottest.New(t)
	fake.SetVersion("4.14.2")
	for _, c := range []struct {
		token string
		want  chatwoot.TokenKind
	}{
		{fake.UserToken, chatwoot.UserToken},
		{fake.BotToken, chatwoot.BotToken},
		{"expired-or-revoked", chatwoot.UnknownToken},
	} {
		cl, err := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: c.token})
		if err != nil {
			t.Fatal(err)
		}
		v, err := cl.ServerVersion(ctx)
		if err != nil || v != "4.14.2" {
			t.Fatalf("version %q %v", v, err)
		}
		kind, err := cl.TokenKind(ctx)
		if err != nil || kind != c.want {
			t.Errorf("token kind %q %v, want %q", kind, err, c.want)
		}
	}
	user, _ := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: fake.UserToken})
	fake.AddInbox(account, inbox)
	if _, err := user.Inbox(ctx, inbox); err != nil {
		t.Errorf("known inbox: %v", err)
	}
	if _, err := user.Inbox(ctx, 999); chatwoot.StatusOf(err) != http.StatusNotFound {
		t.Errorf("unknown inbox: %v", err)
	}
	if _, st, err := user.Account(ctx); err != nil || st.KeepPendingOnBotFailure {
		t.Errorf("account: %+v %v, want the setting off by default", st, err)
	}
	fake.KeepPendingOnBotFailure = true
	if _, st, err := user.Account(ctx); err != nil || !st.KeepPendingOnBotFailure {
		t.Errorf("account: %+v %v, want the setting on", st, err)
	}
	bot, _ := chatwoot.New(chatwoot.Options{BaseURL: fake.URL, AccountID: account, Token: fake.BotToken})
	if _, _, err := bot.Account(ctx); !chatwoot.BotRefused(err) {
		t.Errorf("a bot read the account: %v", err)
	}
	// Not Chatwoot at all: an answer without a version.
	other, _ := chatwoot.New(chatwoot.Options{BaseURL: fake.URL + "/api/v1/accounts/1", AccountID: account, Token: fake.UserToken})
	if _, err := other.ServerVersion(ctx); err == nil {
		t.Error("a URL that is not Chatwoot's root gave a version")
	}
}
