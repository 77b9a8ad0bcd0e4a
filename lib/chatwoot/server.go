package chatwoot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/harborstays/concierge/lib/fault"
)

// What this build needs of a Chatwoot server.
const (
	// MinVersion signs agent-bot webhooks (4.13.0, PR #13892), lets a bot
	// read a conversation and set its labels (4.14.2, PR #14655) and offers
	// SAFE_FETCH_ALLOW_PRIVATE_NETWORK (4.14.1, PR #14548). Older servers
	// refuse the hand-off label with the bot's token.
	MinVersion = "4.14.2"
	// labelsForBots is the release that opened the labels API to bots.
	labelsForBots = "4.14.2"
)

// botEndpoints is AccessTokenAuthHelper::BOT_ACCESSIBLE_ENDPOINTS: the
// controller actions an agent-bot token may call, by the release that
// allowed them. Everything else answers 401 "Access to this endpoint is not
// authorized for bots".
var botEndpoints = []struct {
	action string // controller#action, controller named below the account
	since  string
}{
	{"conversations#toggle_status", "4.13.0"},
	{"conversations#toggle_typing_status", "4.13.0"},
	{"conversations#toggle_priority", "4.13.0"},
	{"conversations#create", "4.13.0"},
	{"conversations#update", "4.13.0"},
	{"conversations#custom_attributes", "4.13.0"},
	{"messages#create", "4.13.0"},
	{"assignments#create", "4.13.0"},
	{"conversations#show", labelsForBots},
	{"labels#index", labelsForBots},
	{"labels#create", labelsForBots},
}

// BotNeeds are the bot-token actions chatwoot-reply calls: the reply, the
// typing indicator, the hand-off status and its label, and for an urgent
// missed call a new conversation marked urgent.
var BotNeeds = []string{"messages#create", "conversations#toggle_typing_status", "conversations#toggle_status", "labels#index", "labels#create",
	"conversations#create", "conversations#toggle_priority"}

// BotMay reports whether an agent-bot token may call action
// ("controller#action") on a server of the given version.
func BotMay(version, action string) bool {
	for _, e := range botEndpoints {
		if e.action == action {
			return VersionAtLeast(version, e.since)
		}
	}
	return false
}

// VersionAtLeast compares dotted release numbers ("4.14.2", "v4.13.0");
// an unreadable version is never at least anything.
func VersionAtLeast(v, min string) bool {
	a, ok1 := parseVersion(v)
	b, ok2 := parseVersion(min)
	if !ok1 || !ok2 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) == 0 || len(parts) > 3 || parts[0] == "" {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// ServerVersion asks Chatwoot's unauthenticated GET /api for its release.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	var out struct {
		Version string `json:"version"`
	}
	if err := c.get(ctx, "/api", &out); err != nil {
		return "", err
	}
	if out.Version == "" {
		return "", fault.New(fault.Permanent, "chatwoot GET /api: no version in the answer (is CHATWOOT_URL Chatwoot's root?)")
	}
	return out.Version, nil
}

// TokenKind says whose the client's token is.
type TokenKind string

// Token kinds.
const (
	UserToken    TokenKind = "user"
	BotToken     TokenKind = "agent_bot"
	UnknownToken TokenKind = "invalid"
)

// errBotNotAllowed is Chatwoot's 401 text for a bot token outside its
// endpoints.
const errBotNotAllowed = "not authorized for bots"

// BotRefused reports whether err is Chatwoot refusing an agent-bot token an
// endpoint (401 "Access to this endpoint is not authorized for bots"), as
// opposed to a token it does not know.
func BotRefused(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && strings.Contains(ae.Message, errBotNotAllowed)
}

// TokenKind reads GET /api/v1/profile, which answers a user token with the
// profile and refuses a bot token with "not authorized for bots" before it
// looks for a user: one read-only call tells the three cases apart.
func (c *Client) TokenKind(ctx context.Context) (TokenKind, error) {
	err := c.get(ctx, "/api/v1/profile", nil)
	var ae *APIError
	switch {
	case err == nil:
		return UserToken, nil
	case BotRefused(err):
		return BotToken, nil
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return UnknownToken, nil
	}
	return "", err
}

// Inbox reads one inbox of the account (user tokens): it exists when err
// is nil, and a 404 is fault.Permanent with StatusOf 404.
func (c *Client) Inbox(ctx context.Context, id int64) (name string, err error) {
	var out struct {
		Name string `json:"name"`
	}
	err = c.do(ctx, request{method: http.MethodGet, route: "inboxes/" + strconv.FormatInt(id, 10), safe: true}, &out)
	return out.Name, err
}

// AccountSettings are the account settings the build depends on.
type AccountSettings struct {
	// KeepPendingOnBotFailure keeps a pending conversation with the bot
	// when a webhook fails, instead of opening it for good (Chatwoot's
	// default). Chatwoot's API does not set it: see docs/deploy.md.
	KeepPendingOnBotFailure bool `json:"keep_pending_on_bot_failure"`
}

// Account reads the client's account (user tokens): it exists when err is
// nil.
func (c *Client) Account(ctx context.Context) (name string, settings AccountSettings, err error) {
	var out struct {
		Name     string          `json:"name"`
		Settings AccountSettings `json:"settings"`
	}
	err = c.do(ctx, request{method: http.MethodGet, route: "", safe: true}, &out)
	return out.Name, out.Settings, err
}

// get reads a path outside the account scope, once.
func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("chatwoot GET %s: %w", path, err)
	}
	req.Header.Set("api_access_token", c.token)
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("chatwoot GET %s: %w", path, scrubURL(err)), "chatwoot unavailable")
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if res.StatusCode/100 != 2 {
		ae := &APIError{Method: http.MethodGet, Route: path, Status: res.StatusCode}
		ae.Message, _ = errorText(b)
		kind := fault.Permanent
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
			kind = fault.Unavailable
		}
		return fault.Wrap(kind, ae, "chatwoot refused the request")
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fault.Wrap(fault.Permanent, fmt.Errorf("chatwoot GET %s: decode response: %w", path, err), "unexpected answer from chatwoot")
	}
	return nil
}

// AgentBot is an agent bot as an account's administrator sees it.
type AgentBot struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	OutgoingURL string `json:"outgoing_url"`
	AccountID   int64  `json:"account_id"`
	// Secret signs the bot's webhooks; Chatwoot shows it only for an
	// account's own bot and only to an administrator.
	Secret string `json:"secret"`
	// SystemBot: created in Super Admin without an account. Chatwoot never
	// shows its secret or its URL.
	SystemBot bool `json:"system_bot"`
}

// AgentBots lists the bots the account may use (its own and the system
// bots); user tokens only.
func (c *Client) AgentBots(ctx context.Context) ([]AgentBot, error) {
	var out []AgentBot
	err := c.do(ctx, request{method: http.MethodGet, route: "agent_bots", safe: true}, &out)
	return out, err
}
