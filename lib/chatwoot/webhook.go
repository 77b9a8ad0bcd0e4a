package chatwoot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// Webhook headers (Chatwoot PR #13573 / #13892; absent on older servers).
const (
	SignatureHeader = "X-Chatwoot-Signature"
	TimestampHeader = "X-Chatwoot-Timestamp"
	DeliveryHeader  = "X-Chatwoot-Delivery"
)

// Event names.
const (
	EventMessageCreated            = "message_created"
	EventMessageUpdated            = "message_updated"
	EventConversationCreated       = "conversation_created"
	EventConversationStatusChanged = "conversation_status_changed"
	EventConversationUpdated       = "conversation_updated"
	EventConversationOpened        = "conversation_opened"
	EventConversationResolved      = "conversation_resolved"
	EventWebwidgetTriggered        = "webwidget_triggered"
)

const (
	signaturePrefix = "sha256="
	// signatureTolerance rejects replays and badly wrong clocks, both ways.
	signatureTolerance = 5 * time.Minute
	// maxDeliveryIDLength bounds a header value used as a key (a UUID is 36).
	maxDeliveryIDLength = 128
)

// EventName returns the "event" field of a webhook body.
func EventName(body []byte) (string, error) {
	var e struct {
		Event string `json:"event"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return "", fault.Wrap(fault.Invalid, err, "malformed JSON")
	}
	if e.Event == "" {
		return "", fault.Field("event", "is required")
	}
	return e.Event, nil
}

// MessageEvent is message_created or message_updated: the message with its
// inbox, account and conversation.
type MessageEvent struct {
	Event string `json:"event"`
	Message
	AdditionalAttributes map[string]any `json:"additional_attributes"`
	Inbox                *Ref           `json:"inbox"`
	Account              *Ref           `json:"account"`
	Conversation         *Conversation  `json:"conversation"`
}

// ParseMessageEvent decodes a message_created or message_updated body.
func ParseMessageEvent(body []byte) (MessageEvent, error) {
	var e MessageEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fault.Wrap(fault.Invalid, err, "malformed message event")
	}
	if e.Event != EventMessageCreated && e.Event != EventMessageUpdated {
		return e, fault.Field("event", "is %q, not a message event", e.Event)
	}
	if e.ID == 0 {
		return e, fault.Field("id", "is required")
	}
	if e.ConversationID() == 0 {
		return e, fault.Field("conversation.id", "is required")
	}
	if e.MessageType != "" && !knownMessageType(e.MessageType) {
		return e, fault.Field("message_type", "must be one of incoming, outgoing, activity, template (or 0-3)")
	}
	if e.Conversation != nil && e.Conversation.Status != "" && !Status(e.Conversation.Status).valid() {
		return e, fault.Field("conversation.status", "%s", statusEnum)
	}
	return e, nil
}

// statusEnum is the message of a status outside Chatwoot's enum.
const statusEnum = "must be one of open, resolved, pending, snoozed"

// knownMessageType reports whether t is one of Chatwoot's message types;
// anything else is not a Chatwoot event and is refused, not stored.
func knownMessageType(t MessageType) bool {
	for _, k := range messageTypes {
		if t == k {
			return true
		}
	}
	return false
}

// FromGuest reports whether the bot should answer: a new, public,
// incoming message. Everything else (our own replies, agents' messages,
// private notes, activity) reaches bots too and must be ignored.
func (e MessageEvent) FromGuest() bool {
	return e.Event == EventMessageCreated && e.MessageType == Incoming && !e.Private
}

// AccountID is account.id, else the account of the conversation's last
// message; 0 when the payload names none (use configuration).
func (e MessageEvent) AccountID() int64 {
	if e.Account != nil && e.Account.ID != 0 {
		return e.Account.ID
	}
	if e.Message.AccountID != 0 {
		return e.Message.AccountID
	}
	if e.Conversation != nil {
		return e.Conversation.accountID()
	}
	return 0
}

// ConversationID is the conversation's display id.
func (e MessageEvent) ConversationID() int64 {
	if e.Conversation != nil && e.Conversation.ID != 0 {
		return e.Conversation.ID
	}
	return e.Message.ConversationID
}

// Contact is the conversation's contact: the sender of an incoming
// message, else conversation.meta.sender.
func (e MessageEvent) Contact() *Sender {
	if e.MessageType == Incoming && e.Sender != nil {
		return e.Sender
	}
	if e.Conversation != nil {
		return e.Conversation.Meta.Sender
	}
	return nil
}

// AttachmentsOf returns the attachments of the given file type (e.g.
// "audio").
func (e MessageEvent) AttachmentsOf(fileType string) []Attachment {
	var out []Attachment
	for _, a := range e.Attachments {
		if a.FileType == fileType {
			out = append(out, a)
		}
	}
	return out
}

func (c *Conversation) accountID() int64 {
	if c.AccountID != 0 {
		return c.AccountID
	}
	for _, m := range c.Messages {
		if m.AccountID != 0 {
			return m.AccountID
		}
	}
	return 0
}

// Change is one entry of changed_attributes.
type Change struct {
	PreviousValue json.RawMessage `json:"previous_value"`
	CurrentValue  json.RawMessage `json:"current_value"`
}

// ConversationEvent is a conversation_* event: the conversation at the top
// level, with changed_attributes on status changes and updates.
type ConversationEvent struct {
	Event string `json:"event"`
	Conversation
	Account           *Ref                `json:"account"`
	ChangedAttributes []map[string]Change `json:"changed_attributes"`
}

// ParseConversationEvent decodes a conversation_* body.
func ParseConversationEvent(body []byte) (ConversationEvent, error) {
	var e ConversationEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fault.Wrap(fault.Invalid, err, "malformed conversation event")
	}
	if !strings.HasPrefix(e.Event, "conversation_") {
		return e, fault.Field("event", "is %q, not a conversation event", e.Event)
	}
	if e.ID == 0 {
		return e, fault.Field("id", "is required")
	}
	if e.Status != "" && !Status(e.Status).valid() {
		return e, fault.Field("status", "%s", statusEnum)
	}
	if _, cur, ok := e.StatusChange(); ok && cur != "" && !cur.valid() {
		return e, fault.Field("changed_attributes.status.current_value", "%s", statusEnum)
	}
	return e, nil
}

// AccountID is account.id when the version sends it, else the account of
// messages[0]; 0 when neither is there (use configuration).
func (e ConversationEvent) AccountID() int64 {
	if e.Account != nil && e.Account.ID != 0 {
		return e.Account.ID
	}
	return e.Conversation.accountID()
}

// Changed returns the change of attr, if the event reports one.
func (e ConversationEvent) Changed(attr string) (Change, bool) {
	for _, m := range e.ChangedAttributes {
		if c, ok := m[attr]; ok {
			return c, true
		}
	}
	return Change{}, false
}

// StatusChange returns the previous and current status of a status change.
func (e ConversationEvent) StatusChange() (prev, cur Status, ok bool) {
	c, ok := e.Changed("status")
	if !ok {
		return "", "", false
	}
	var p, n string
	_ = json.Unmarshal(c.PreviousValue, &p)
	_ = json.Unmarshal(c.CurrentValue, &n)
	return Status(p), Status(n), true
}

// Verifier checks X-Chatwoot-Signature: "sha256=" + hex(HMAC-SHA256(secret,
// timestamp + "." + raw body)), the key being the secret string as shown in
// Chatwoot's settings. Several secrets allow rotation. Mode off accepts
// everything, for servers older than signed webhooks (and issue #13809,
// where the secret shown does not sign).
type Verifier struct {
	secrets [][]byte
	off     bool
	// Now is the clock for the tolerance window.
	Now func() time.Time
}

// NewVerifier returns a Verifier that requires a valid signature with one
// of secrets.
func NewVerifier(secrets ...string) (*Verifier, error) {
	v := &Verifier{Now: time.Now}
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			v.secrets = append(v.secrets, []byte(s))
		}
	}
	if len(v.secrets) == 0 {
		return nil, errors.New("chatwoot: signature verification required but no webhook secret")
	}
	return v, nil
}

// Unverified returns a Verifier in mode off.
func Unverified() *Verifier { return &Verifier{off: true, Now: time.Now} }

// Required reports whether signatures are checked.
func (v *Verifier) Required() bool { return !v.off }

// Verify checks the signature of body. Failures are fault.Unauthorized.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if v.off {
		return nil
	}
	sig, ts := strings.TrimSpace(h.Get(SignatureHeader)), strings.TrimSpace(h.Get(TimestampHeader))
	if sig == "" || ts == "" {
		return fault.New(fault.Unauthorized, "missing %s or %s header", SignatureHeader, TimestampHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fault.New(fault.Unauthorized, "%s is not a Unix time", TimestampHeader)
	}
	if d := v.Now().Sub(time.Unix(sec, 0)); d > signatureTolerance || d < -signatureTolerance {
		return fault.New(fault.Unauthorized, "%s outside the %s tolerance", TimestampHeader, signatureTolerance)
	}
	hexSig, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return fault.New(fault.Unauthorized, "%s is not sha256=<hex>", SignatureHeader)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fault.New(fault.Unauthorized, "%s is not sha256=<hex>", SignatureHeader)
	}
	for _, key := range v.secrets {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if hmac.Equal(got, mac.Sum(nil)) {
			return nil
		}
	}
	return fault.New(fault.Unauthorized, "%s does not match", SignatureHeader)
}

// Sign returns the signature header value for body at timestamp ts, as
// Chatwoot computes it (for tests and the local try-it).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

var deliveryRe = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// DedupeKey names a delivery so a retried one is recognised:
//   - message events: event, account and message id. Stable across
//     Chatwoot's retries, across servers too old to send
//     X-Chatwoot-Delivery, and across two webhooks delivering one message
//     (account webhook and agent bot);
//   - other events: X-Chatwoot-Delivery, which is stable across retries;
//   - else a digest of the body (Chatwoot resends the same bytes).
func DedupeKey(h http.Header, body []byte) string {
	var e struct {
		Event   string `json:"event"`
		ID      int64  `json:"id"`
		Account *Ref   `json:"account"`
		// account fallbacks of message events
		AccountID    int64 `json:"account_id"`
		Conversation *struct {
			Messages []struct {
				AccountID int64 `json:"account_id"`
			} `json:"messages"`
		} `json:"conversation"`
	}
	if json.Unmarshal(body, &e) == nil && e.ID != 0 && (e.Event == EventMessageCreated || e.Event == EventMessageUpdated) {
		acct := e.AccountID
		if e.Account != nil && e.Account.ID != 0 {
			acct = e.Account.ID
		} else if acct == 0 && e.Conversation != nil && len(e.Conversation.Messages) > 0 {
			acct = e.Conversation.Messages[0].AccountID
		}
		return fmt.Sprintf("%s:%d:%d", e.Event, acct, e.ID)
	}
	if d := strings.TrimSpace(h.Get(DeliveryHeader)); d != "" && len(d) <= maxDeliveryIDLength && deliveryRe.MatchString(d) {
		return "delivery:" + d
	}
	sum := sha256.Sum256(body)
	return "body:" + hex.EncodeToString(sum[:])
}
