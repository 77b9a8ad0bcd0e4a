package chatwoot

import (
	"context"
	"net/http"
	"strconv"

	"github.com/harborstays/concierge/lib/fault"
)

// Conversation calls beyond the bot's reply: opening a conversation for a
// contact, marking its priority, reading it back. Checked against Chatwoot
// 4.14.2 (config/routes.rb, Api::V1::Accounts::ConversationsController,
// ConversationBuilder, Conversation#toggle_priority,
// AccessTokenAuthHelper::BOT_ACCESSIBLE_ENDPOINTS): an agent-bot token may
// create a conversation, post a message and set the priority (since before
// 4.13.0) and read a conversation (4.14.2); a contact's conversations are
// for user tokens only.

// Priority is Conversation#priority (enum low, medium, high, urgent; none
// clears it).
type Priority string

// Conversation priorities.
const (
	PriorityNone   Priority = ""
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

func (p Priority) valid() bool {
	switch p {
	case PriorityNone, PriorityLow, PriorityMedium, PriorityHigh, PriorityUrgent:
		return true
	}
	return false
}

// NewConversation is what CreateConversation sends: ConversationsController
// #create finds (or makes) the contact's contact_inbox for InboxID, then
// ConversationBuilder creates the conversation and, when Message is set,
// Messages::MessageBuilder its first message, in one transaction.
type NewConversation struct {
	ContactID int64
	InboxID   int64
	// Status asks for a status; Chatwoot makes a conversation of an inbox
	// with an active agent bot pending whatever is asked
	// (Conversation#determine_conversation_status).
	Status Status
	// CustomAttributes are stored on the conversation: a key of the caller's
	// finds it again (ContactConversations) after an unknown outcome.
	CustomAttributes map[string]any
	// Message is posted with the conversation (content and private only).
	Message *NewMessage
}

// CreateConversation opens a conversation and returns it as Chatwoot
// stored it (its display id, status and, with Message, that message in
// Messages). Like a post it is not repeated after an unknown outcome (5xx,
// lost connection): a second conversation could be the result.
func (c *Client) CreateConversation(ctx context.Context, in NewConversation) (Conversation, error) {
	if in.ContactID <= 0 || in.InboxID <= 0 {
		return Conversation{}, fault.New(fault.Invalid, "chatwoot POST conversations: a conversation needs a contact and an inbox")
	}
	if in.Status != "" && !in.Status.valid() {
		return Conversation{}, fault.New(fault.Invalid, "chatwoot: status %q is not open, resolved, pending or snoozed", in.Status)
	}
	payload := map[string]any{"contact_id": in.ContactID, "inbox_id": in.InboxID}
	if in.Status != "" {
		payload["status"] = string(in.Status)
	}
	if len(in.CustomAttributes) > 0 {
		payload["custom_attributes"] = in.CustomAttributes
	}
	if m := in.Message; m != nil {
		if len(m.Attachments) > 0 {
			return Conversation{}, fault.New(fault.Invalid, "chatwoot POST conversations: the first message takes no attachments here")
		}
		msg := map[string]any{"content": m.Content, "private": m.Private}
		if m.ContentType != "" {
			msg["content_type"] = m.ContentType
		}
		payload["message"] = msg
	}
	r, err := jsonRequest(http.MethodPost, "conversations", payload, false)
	if err != nil {
		return Conversation{}, err
	}
	var out Conversation
	if err := c.do(ctx, r, &out); err != nil {
		return Conversation{}, err
	}
	return out, nil
}

// TogglePriority sets a conversation's priority (PriorityNone clears it).
// Chatwoot answers 200 with no body; setting the same priority again
// changes nothing, so the call is retried like a status change.
func (c *Client) TogglePriority(ctx context.Context, conversationID int64, p Priority) error {
	if !p.valid() {
		return fault.New(fault.Invalid, "chatwoot: priority %q is not low, medium, high or urgent", p)
	}
	var body map[string]any
	if p != PriorityNone {
		body = map[string]any{"priority": string(p)}
	} else {
		body = map[string]any{"priority": nil}
	}
	r, err := jsonRequest(http.MethodPost, conv(conversationID, "/toggle_priority"), body, true)
	if err != nil {
		return err
	}
	return c.do(ctx, r, nil)
}

// GetConversation reads one conversation (agent-bot tokens from 4.14.2).
func (c *Client) GetConversation(ctx context.Context, conversationID int64) (Conversation, error) {
	var out Conversation
	err := c.do(ctx, request{method: http.MethodGet, route: conv(conversationID, ""), safe: true}, &out)
	return out, err
}

// ContactConversations returns a contact's latest 20 conversations, most
// recently active first (Contacts::ConversationsController#index). User
// tokens only.
func (c *Client) ContactConversations(ctx context.Context, contactID int64) ([]Conversation, error) {
	var out struct {
		Payload []Conversation `json:"payload"`
	}
	r := request{method: http.MethodGet, route: "contacts/" + strconv.FormatInt(contactID, 10) + "/conversations", safe: true}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}
