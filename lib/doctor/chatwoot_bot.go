package doctor

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
)

// botPath is where the agent bot must post: llm-query's synchronous route.
const botPath = "/function/llm-query"

// chatwootBot finds the account's agent bot that posts to llm-query and
// checks what Chatwoot does not tell anyone until events stop arriving: a
// system bot (its secret is never shown, so every event gets 401), a URL
// SafeFetch refuses (4.14.0+: private addresses), a secret that differs
// from CHATWOOT_WEBHOOK_SECRET.
func (d *Doctor) chatwootBot(ctx context.Context, cfg *config.Config) Result {
	ci := d.chatwootState(ctx)
	if r := d.chatwootPrecheck(ci, false); r != nil {
		return *r
	}
	user := ci.agentClient()
	if user == nil {
		return Skipped("not checked: no agent's token to list the agent bots with (see the token lines)")
	}
	bots, err := user.AgentBots(ctx)
	if err != nil {
		return Failed(err.Error(), "CHATWOOT_CONTACTS_TOKEN: an administrator's token of account "+fmt.Sprint(ci.account))
	}
	var ours []chatwoot.AgentBot
	system := 0
	for _, b := range bots {
		if b.SystemBot {
			system++
			continue
		}
		if u, err := url.Parse(b.OutgoingURL); err == nil && strings.TrimSuffix(u.Path, "/") == botPath {
			ours = append(ours, b)
		}
	}
	createFix := "create the bot in the account (Settings > Agent Bots) with the webhook URL https://gateway.<domain>" + botPath +
		", assign it to the inboxes, and put its secret in CHATWOOT_WEBHOOK_SECRET (docs/deploy.md, Chatwoot)"
	switch {
	case len(ours) == 0 && system > 0:
		return Failed(fmt.Sprintf("no bot of account %d posts to %s; %d system bot(s) (created in Super Admin without an account) may: Chatwoot never shows a system bot's secret, so llm-query would refuse every event", ci.account, botPath, system), createFix)
	case len(ours) == 0:
		return Failed(fmt.Sprintf("no agent bot of account %d posts to %s", ci.account, botPath), createFix)
	case len(ours) > 1:
		return Failed(fmt.Sprintf("%d bots of account %d post to %s: each guest message would be answered once per bot", len(ours), ci.account, botPath), "keep one agent bot")
	}
	b := ours[0]
	u, _ := url.Parse(b.OutgoingURL)
	if chatwoot.VersionAtLeast(ci.version, "4.14.0") && privateHost(ctx, u.Hostname()) {
		return Failed(fmt.Sprintf("bot %q posts to %s, a private address: Chatwoot %s sends webhooks through SafeFetch, which refuses it", b.Name, u.Host, ci.version),
			"set the bot's webhook URL to https://gateway.<domain>"+botPath+" (docs/deploy.md keeps SAFE_FETCH_ALLOW_PRIVATE_NETWORK off)")
	}
	secrets := cfg.List(chatwoot.SettingWebhookSecret)
	switch {
	case b.Secret == "":
		return Pass("bot %q (id %d) posts to %s; its secret is not shown to this token (not an administrator): not compared", b.Name, b.ID, u.Host)
	case len(secrets) == 0:
		return Failed(fmt.Sprintf("bot %q signs its webhooks but CHATWOOT_WEBHOOK_SECRET is unset", b.Name), "CHATWOOT_WEBHOOK_SECRET (secret chatwoot-webhook-secret): the bot's secret")
	}
	for _, s := range secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(b.Secret)) == 1 {
			return Pass("bot %q (id %d) posts to %s, signed with CHATWOOT_WEBHOOK_SECRET", b.Name, b.ID, u.Host)
		}
	}
	return Failed(fmt.Sprintf("bot %q's secret is not CHATWOOT_WEBHOOK_SECRET: llm-query would answer 401 to every event", b.Name),
		"CHATWOOT_WEBHOOK_SECRET (secret chatwoot-webhook-secret): copy the bot's secret from Settings > Agent Bots")
}

// privateHost: an address SafeFetch refuses, or a name that is one (a
// single-label service name such as "gateway", or one that resolves to a
// private address from here).
func privateHost(ctx context.Context, host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return isPrivate(a)
	}
	if !strings.Contains(host, ".") || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if isPrivate(a) {
			return true
		}
	}
	return false
}

func isPrivate(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified()
}
