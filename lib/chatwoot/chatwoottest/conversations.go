package chatwoottest

import (
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// Conversations opened through the API, their priority and custom
// attributes, as Chatwoot 4.14.2 plays them:
//   - ConversationsController#create (bots allowed): the inbox and the
//     contact must be the account's (404 otherwise); ConversationBuilder
//     creates the conversation with the status asked for, except that a
//     conversation of an inbox with an active agent bot starts pending
//     (Conversation#determine_conversation_status); params[:message] is
//     created with it (Messages::MessageBuilder: content, private,
//     outgoing). The answer is the conversation partial: display id,
//     status, priority, custom_attributes, messages = [the last one].
//   - ConversationsController#toggle_priority (bots allowed):
//     self.priority = params[:priority].presence, head :ok; a value outside
//     the enum raises ArgumentError, which nothing rescues (500).
//   - Contacts::ConversationsController#index (users only; not in
//     BOT_ACCESSIBLE_ENDPOINTS): the contact's latest 20 conversations by
//     last activity, {payload: [...]}.
//
// What Conversation does not hold (priority, custom attributes, inboxes
// with a bot, activity times) is kept beside the server here.

// convExtra is the rest of a conversation's state.
type convExtra struct {
	priority     string
	attrs        map[string]any
	lastActivity time.Time
}

// extraState is one server's extra state; guarded by the server's mu.
type extraState struct {
	convs     map[[2]int64]*convExtra
	botInbox  map[[2]int64]bool
	creations int
}

var extras sync.Map // *Server -> *extraState

// extra returns s's extra state; the caller holds s.mu.
func (s *Server) extra() *extraState {
	if v, ok := extras.Load(s); ok {
		return v.(*extraState)
	}
	v, _ := extras.LoadOrStore(s, &extraState{convs: map[[2]int64]*convExtra{}, botInbox: map[[2]int64]bool{}})
	return v.(*extraState)
}

// convExtraOf returns (making it) the extra state of a conversation; the
// caller holds s.mu.
func (s *Server) convExtraOf(account, id int64) *convExtra {
	x := s.extra()
	k := [2]int64{account, id}
	if x.convs[k] == nil {
		x.convs[k] = &convExtra{}
	}
	return x.convs[k]
}

// SetInboxBot gives an inbox an active agent bot: conversations created in
// it start pending, as Chatwoot makes them.
func (s *Server) SetInboxBot(account, inbox int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[account] = true
	s.inboxes[[2]int64{account, inbox}] = true
	s.extra().botInbox[[2]int64{account, inbox}] = true
}

// Priority returns a conversation's priority ("" when none).
func (s *Server) Priority(account, id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.convExtraOf(account, id).priority
}

// ConversationAttributes returns a conversation's custom attributes.
func (s *Server) ConversationAttributes(account, id int64) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneMap(s.convExtraOf(account, id).attrs)
}

// ConversationsOf returns a contact's conversations, by display id.
func (s *Server) ConversationsOf(account, contact int64) []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Conversation
	for _, c := range s.conversations {
		if c.AccountID == account && c.ContactID == contact {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CreatedConversations counts the conversations created through the API.
func (s *Server) CreatedConversations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extra().creations
}

// createConversation is ConversationsController#create with contact_id and
// inbox_id (the source_id-only form is not played).
func (s *Server) createConversation(c *call) {
	inbox, contact := c.int("inbox_id"), c.int("contact_id")
	status := c.str("status")
	switch status {
	case "", "open", "resolved", "pending", "snoozed":
	default:
		// enum assignment raises ArgumentError, which nothing rescues.
		c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
		return
	}
	attrs, _ := c.params["custom_attributes"].(map[string]any)
	msg, _ := c.params["message"].(map[string]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.contacts[contact]
	if !s.inboxes[[2]int64{c.account, inbox}] || ct == nil || ct.AccountID != c.account {
		c.error(http.StatusNotFound, ErrNotFound)
		return
	}
	if msg != nil {
		if content, _ := msg["content"].(string); content == "" {
			// Message validation fails inside the transaction: nothing is
			// created.
			c.invalid([]string{"Content can't be blank"}, []string{"content"})
			return
		}
	}
	x := s.extra()
	id := int64(1)
	for k := range s.conversations {
		if k[0] == c.account && k[1] >= id {
			id = k[1] + 1
		}
	}
	if status == "" {
		status = "open"
	}
	// Conversation#determine_conversation_status: pending when the inbox
	// has an active bot (Inbox#active_bot?), whether SetInboxBot or the
	// API's set_agent_bot connected it.
	if _, connected := s.st().inboxBot[inbox]; x.botInbox[[2]int64{c.account, inbox}] || connected {
		status = "pending"
	}
	conv := &Conversation{AccountID: c.account, ID: id, InboxID: inbox, ContactID: contact, Status: status}
	s.conversations[[2]int64{c.account, id}] = conv
	if !slices.Contains(ct.InboxIDs, inbox) {
		ct.InboxIDs = append(ct.InboxIDs, inbox)
	}
	ex := s.convExtraOf(c.account, id)
	ex.attrs = cloneMap(attrs)
	ex.lastActivity = time.Now()
	x.creations++
	var last *Message
	if msg != nil {
		content, _ := msg["content"].(string)
		private := false
		switch v := msg["private"].(type) {
		case bool:
			private = v
		case string:
			private = v == "true" || v == "1"
		}
		ctype, _ := msg["content_type"].(string)
		if ctype == "" {
			ctype = "text"
		}
		s.nextID++
		last = &Message{AccountID: c.account, ConversationID: id, ID: s.nextID, Content: content, MessageType: "outgoing",
			Private: private, ContentType: ctype, SenderKind: c.token, Posted: true, CreatedAt: time.Now().UTC()}
		s.messages = append(s.messages, last)
	}
	c.json(http.StatusOK, s.conversationJSON(conv, last))
}

// conversationJSON renders the conversation partial; the caller holds s.mu.
func (s *Server) conversationJSON(conv *Conversation, last *Message) map[string]any {
	ex := s.convExtraOf(conv.AccountID, conv.ID)
	var priority any
	if ex.priority != "" {
		priority = ex.priority
	}
	attrs := ex.attrs
	if attrs == nil {
		attrs = map[string]any{}
	}
	if last == nil {
		for _, m := range s.messages {
			if m.AccountID == conv.AccountID && m.ConversationID == conv.ID {
				last = m
			}
		}
	}
	msgs := []map[string]any{}
	if last != nil {
		msgs = append(msgs, s.pushData(last))
	}
	return map[string]any{
		"id": conv.ID, "account_id": conv.AccountID, "inbox_id": conv.InboxID, "status": conv.Status,
		"priority": priority, "custom_attributes": attrs, "additional_attributes": map[string]any{},
		"labels": nonNil(conv.Labels), "messages": msgs, "last_activity_at": ex.lastActivity.Unix(),
		"meta": map[string]any{"sender": map[string]any{"id": conv.ContactID, "type": "contact"}},
	}
}

// togglePriority is ConversationsController#toggle_priority.
func (s *Server) togglePriority(c *call, conv *Conversation) {
	p := c.str("priority")
	switch p {
	case "", "low", "medium", "high", "urgent":
	default:
		c.json(http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
		return
	}
	s.mu.Lock()
	s.convExtraOf(conv.AccountID, conv.ID).priority = p
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusOK)
	c.rec.Status = http.StatusOK
}

// contactConversations is Contacts::ConversationsController#index.
func (s *Server) contactConversations(c *call, ct *Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Conversation
	for _, conv := range s.conversations {
		if conv.AccountID == c.account && conv.ContactID == ct.ID {
			list = append(list, conv)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := s.convExtraOf(c.account, list[i].ID).lastActivity, s.convExtraOf(c.account, list[j].ID).lastActivity
		if !a.Equal(b) {
			return a.After(b)
		}
		return list[i].ID > list[j].ID
	})
	if len(list) > 20 {
		list = list[:20]
	}
	payload := []map[string]any{}
	for _, conv := range list {
		payload = append(payload, s.conversationJSON(conv, nil))
	}
	c.json(http.StatusOK, map[string]any{"payload": payload})
}

// ClearFailures drops the scripted failures not used yet.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}
