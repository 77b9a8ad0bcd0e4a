// Package chatwoot speaks Chatwoot's account REST API (messages, private
// notes, status, labels, typing, contacts) and reads its webhooks (payload
// types, signature, dedupe key).
//
// Paths take the conversation's display id, the per-account number shown in
// the UI, which is also what webhooks call a conversation's id. Chatwoot
// writes the same message in two shapes: webhooks send message_type as a
// string and created_at as an ISO time, the "push" format of REST responses
// and conversation.messages[] sends integers for both. MessageType and Time
// read either.
package chatwoot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
)

// MessageType is incoming, outgoing, activity or template.
type MessageType string

// Message types.
const (
	Incoming MessageType = "incoming"
	Outgoing MessageType = "outgoing"
	Activity MessageType = "activity"
	Template MessageType = "template"
)

var messageTypes = []MessageType{Incoming, Outgoing, Activity, Template}

// UnmarshalJSON reads the string of webhooks or the integer of the push
// format (0 incoming, 1 outgoing, 2 activity, 3 template).
func (t *MessageType) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("message_type: %w", err)
		}
		*t = MessageType(s)
	default:
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return fmt.Errorf("message_type: not a string or an integer: %s", b)
		}
		if n >= 0 && n < len(messageTypes) {
			*t = messageTypes[n]
		} else {
			*t = MessageType(strconv.Itoa(n))
		}
	}
	return nil
}

// Time reads Chatwoot's timestamps: ISO strings (webhook created_at), Unix
// integers (push format, conversation timestamps) or Unix floats
// (conversation updated_at). Null is the zero time.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) || len(b) == 0 {
		t.Time = time.Time{}
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			t.Time = time.Time{}
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("time: not a string or a number: %s", b)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// MarshalJSON writes an ISO time, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// Sender is the author of a message: a contact (no type in message
// webhooks, "contact" elsewhere), a user ("user") or a bot ("agent_bot").
type Sender struct {
	ID                   int64          `json:"id"`
	Name                 string         `json:"name"`
	Email                string         `json:"email"`
	PhoneNumber          string         `json:"phone_number"`
	Identifier           string         `json:"identifier"`
	Type                 string         `json:"type"`
	CustomAttributes     map[string]any `json:"custom_attributes"`
	AdditionalAttributes map[string]any `json:"additional_attributes"`
	Avatar               string         `json:"avatar"`
	Thumbnail            string         `json:"thumbnail"`
	Blocked              bool           `json:"blocked"`
}

// Attachment is a file of a message. DataURL is a Rails blob redirect:
// follow the 30x to get the bytes.
type Attachment struct {
	ID              int64  `json:"id"`
	MessageID       int64  `json:"message_id"`
	FileType        string `json:"file_type"` // image, audio, video, file, location, fallback, ...
	AccountID       int64  `json:"account_id"`
	Extension       string `json:"extension"`
	DataURL         string `json:"data_url"`
	ThumbURL        string `json:"thumb_url"`
	FileSize        int64  `json:"file_size"`
	Width           *int   `json:"width"`
	Height          *int   `json:"height"`
	TranscribedText string `json:"transcribed_text"`
	// Newer versions only.
	ContentType string `json:"content_type"`
	FileName    string `json:"file_name"`
}

// Message is a message in either shape (webhook or push format).
type Message struct {
	ID                int64           `json:"id"`
	Content           *string         `json:"content"` // null for attachment-only messages
	ContentType       string          `json:"content_type"`
	ContentAttributes json.RawMessage `json:"content_attributes,omitempty"`
	MessageType       MessageType     `json:"message_type"`
	Private           bool            `json:"private"`
	Status            string          `json:"status"`
	CreatedAt         Time            `json:"created_at"`
	SourceID          *string         `json:"source_id"`
	Sender            *Sender         `json:"sender"`
	Attachments       []Attachment    `json:"attachments"`
	// Push format only.
	AccountID      int64  `json:"account_id"`
	InboxID        int64  `json:"inbox_id"`
	ConversationID int64  `json:"conversation_id"` // display id
	SenderType     string `json:"sender_type"`     // Contact, User, AgentBot
	SenderID       int64  `json:"sender_id"`
}

// Text returns the content, or "" when there is none.
func (m Message) Text() string {
	if m.Content == nil {
		return ""
	}
	return *m.Content
}

// Sender kinds as SenderKind returns them (the values our messages table
// stores).
const (
	SenderContact  = "contact"
	SenderUser     = "user"
	SenderAgentBot = "agent_bot"
)

// SenderKind returns contact, user or agent_bot, or "" when the message has
// no sender (activity messages).
func (m Message) SenderKind() string {
	kind := ""
	if m.Sender != nil {
		kind = m.Sender.Type
	}
	if kind == "" {
		kind = m.SenderType
	}
	switch kind {
	case "user", "User":
		return SenderUser
	case "agent_bot", "AgentBot":
		return SenderAgentBot
	case "contact", "Contact":
		return SenderContact
	case "":
		// Message webhooks describe a contact sender without a type.
		if m.Sender != nil && m.Sender.ID != 0 {
			return SenderContact
		}
		return ""
	default:
		return kind
	}
}

// Ref is an {id, name} pair (account, inbox).
type Ref struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ContactInbox ties a contact to an inbox.
type ContactInbox struct {
	ID        int64  `json:"id"`
	ContactID int64  `json:"contact_id"`
	InboxID   int64  `json:"inbox_id"`
	SourceID  string `json:"source_id"`
	// HMACVerified: the website signed the contact's identifier (identity
	// validation); the only proof of who a web-widget visitor is.
	HMACVerified bool `json:"hmac_verified"`
}

// ConversationMeta holds the contact (sender) and the assignee.
type ConversationMeta struct {
	Sender   *Sender         `json:"sender"`
	Assignee json.RawMessage `json:"assignee"`
	Team     json.RawMessage `json:"team"`
	// HMACVerified repeats contact_inbox.hmac_verified (null without one).
	HMACVerified *bool `json:"hmac_verified"`
}

// Conversation is Conversations::EventDataPresenter#push_data.
type Conversation struct {
	ID                   int64            `json:"id"` // display id
	AccountID            int64            `json:"account_id"`
	InboxID              int64            `json:"inbox_id"`
	Status               string           `json:"status"`
	Channel              string           `json:"channel"`
	CanReply             bool             `json:"can_reply"`
	ContactInbox         *ContactInbox    `json:"contact_inbox"`
	Meta                 ConversationMeta `json:"meta"`
	Labels               []string         `json:"labels"`
	CustomAttributes     map[string]any   `json:"custom_attributes"`
	AdditionalAttributes map[string]any   `json:"additional_attributes"`
	Messages             []Message        `json:"messages"`
	UnreadCount          int              `json:"unread_count"`
	Priority             *string          `json:"priority"`
	SnoozedUntil         Time             `json:"snoozed_until"`
	WaitingSince         Time             `json:"waiting_since"`
	LastActivityAt       Time             `json:"last_activity_at"`
	CreatedAt            Time             `json:"created_at"`
	UpdatedAt            Time             `json:"updated_at"`
}

// Contact is a Chatwoot contact as the contacts API returns it.
type Contact struct {
	ID                   int64          `json:"id"`
	Name                 string         `json:"name"`
	Email                string         `json:"email"`
	PhoneNumber          string         `json:"phone_number"`
	Identifier           string         `json:"identifier"`
	CustomAttributes     map[string]any `json:"custom_attributes"`
	AdditionalAttributes map[string]any `json:"additional_attributes"`
	Blocked              bool           `json:"blocked"`
	Thumbnail            string         `json:"thumbnail"`
}

// ContactInput is what Create and Update send. Empty fields are left out,
// so Update never blanks a field; custom_attributes are merged by Chatwoot
// on update (a null value clears one).
type ContactInput struct {
	// InboxID makes the contact reachable in that inbox (create only).
	InboxID              int64          `json:"inbox_id,omitempty"`
	Name                 string         `json:"name,omitempty"`
	Email                string         `json:"email,omitempty"`
	PhoneNumber          string         `json:"phone_number,omitempty"` // E.164
	Identifier           string         `json:"identifier,omitempty"`
	CustomAttributes     map[string]any `json:"custom_attributes,omitempty"`
	AdditionalAttributes map[string]any `json:"additional_attributes,omitempty"`
}

// e164 is the rule Chatwoot validates phone_number with.
var e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// ValidPhone reports whether p is an E.164 number Chatwoot accepts.
func ValidPhone(p string) bool { return e164.MatchString(p) }

// Status is a conversation status.
type Status string

// Conversation statuses.
const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
	StatusPending  Status = "pending"
	StatusSnoozed  Status = "snoozed"
)

func (s Status) valid() bool {
	switch s {
	case StatusOpen, StatusResolved, StatusPending, StatusSnoozed:
		return true
	}
	return false
}
