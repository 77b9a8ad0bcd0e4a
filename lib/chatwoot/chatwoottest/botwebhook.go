package chatwoottest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// BotDelivery is one agent-bot webhook event as Chatwoot's
// AgentBots::WebhookJob sends it.
type BotDelivery struct {
	URL     string
	Secret  string // the bot's secret; "" sends unsigned (before 4.13)
	Payload []byte
	// AccountID and ConversationID (display id) name the conversation the
	// event's message belongs to, for what Chatwoot does on failure.
	AccountID, ConversationID int64
}

// BotOutcome is what happened to a delivery.
type BotOutcome struct {
	// Statuses are the HTTP statuses of the attempts; 0 for an attempt
	// that failed without one (timeout, refused connection).
	Statuses []int
	// Delivered: an attempt got a 2xx.
	Delivered bool
	// MovedToOpen: Chatwoot gave up and moved the pending conversation to
	// open, where the bot never answers again.
	MovedToOpen bool
}

// Activity text Chatwoot posts when it opens a conversation after a bot
// failure (conversations.activity.agent_bot.error_moved_to_open).
const ActivityBotErrorMovedToOpen = "Conversation was marked open by system due to an error with the agent bot."

// DeliverToBot plays lib/webhooks/trigger.rb and AgentBots::WebhookJob
// (4.13+): POST the JSON with X-Chatwoot-Delivery (one id for every
// attempt) and, with a secret, X-Chatwoot-Timestamp and
// X-Chatwoot-Signature = sha256=HMAC(secret, "{ts}.{body}"), recomputed per
// attempt; open and read timeouts of WebhookTimeout. Only 429 and 500 are
// retried (3 attempts, BotRetryWait apart). Any other failure, a timeout or
// another 5xx included, and the last retry's failure run handle_failure:
// for message events, a pending conversation is moved to open with an
// activity message unless KeepPendingOnBotFailure.
func (s *Server) DeliverToBot(ctx context.Context, d BotDelivery) BotOutcome {
	var out BotOutcome
	delivery := newUUID()
	client := &http.Client{Timeout: s.WebhookTimeout}
	for attempt := 1; ; attempt++ {
		status := s.sendBot(ctx, client, d, delivery)
		out.Statuses = append(out.Statuses, status)
		if status >= 200 && status < 300 {
			out.Delivered = true
			return out
		}
		if (status == http.StatusTooManyRequests || status == http.StatusInternalServerError) && attempt < 3 {
			select {
			case <-ctx.Done():
				return out
			case <-time.After(s.BotRetryWait):
			}
			if s.BeforeBotRetry != nil {
				s.BeforeBotRetry(attempt + 1)
			}
			continue
		}
		out.MovedToOpen = s.botFailed(d)
		return out
	}
}

func (s *Server) sendBot(ctx context.Context, client *http.Client, d BotDelivery, delivery string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0
	}
	if s.safeFetchRefuses(ctx, req.URL.Hostname()) {
		// SafeFetch raises before connecting: no status, not retried.
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Chatwoot-Delivery", delivery)
	if d.Secret != "" {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(d.Secret))
		mac.Write([]byte(ts + "."))
		mac.Write(d.Payload)
		req.Header.Set("X-Chatwoot-Timestamp", ts)
		req.Header.Set("X-Chatwoot-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	return res.StatusCode
}

// botFailed is Webhooks::Trigger#handle_error for an agent bot.
func (s *Server) botFailed(d BotDelivery) bool {
	var ev struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(d.Payload, &ev)
	if ev.Event != "message_created" && ev.Event != "message_updated" {
		return false
	}
	s.mu.Lock()
	conv := s.conversations[[2]int64{d.AccountID, d.ConversationID}]
	if conv == nil || conv.Status != "pending" || s.KeepPendingOnBotFailure {
		s.mu.Unlock()
		return false
	}
	conv.Status = "open"
	s.statuses = append(s.statuses, StatusChange{AccountID: d.AccountID, ConversationID: d.ConversationID, From: "pending", To: "open"})
	s.mu.Unlock()
	s.AddMessage(Message{AccountID: d.AccountID, ConversationID: d.ConversationID, MessageType: "activity", Content: ActivityBotErrorMovedToOpen})
	return true
}

func newUUID() string {
	b := []byte(randomHex() + randomHex())[:32]
	return fmt.Sprintf("%s-%s-4%s-a%s-%s", b[0:8], b[8:12], b[13:16], b[17:20], b[20:32])
}

// safeFetchRefuses plays SafeFetch (4.14.0+, PR #14155): a host that
// resolves to a private, loopback or link-local address is refused unless
// AllowPrivateNetwork.
func (s *Server) safeFetchRefuses(ctx context.Context, host string) bool {
	s.mu.Lock()
	allow, version := s.AllowPrivateNetwork, s.Version
	s.mu.Unlock()
	if allow || !atLeast(version, 4, 14, 0) {
		return false
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return true
	}
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			return true
		}
	}
	return false
}
