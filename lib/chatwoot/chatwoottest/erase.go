package chatwoottest

import (
	"net/http"
)

// DeletedContent is the content Chatwoot 4.14.2 gives a deleted message
// (I18n conversations.messages.deleted).
const DeletedContent = "This message was deleted"

// deleteMessage is Messages#destroy (4.14.2): the message stays, its
// content becomes DeletedContent (content_type text, content_attributes
// {deleted: true}) and its attachments are destroyed; the answer is the
// message. A message not in the conversation is 404
// (@conversation.messages.find). Bots never get here: messages#destroy is
// not in BOT_ACCESSIBLE_ENDPOINTS, so serve answers them 401.
func (s *Server) deleteMessage(id int64) func(*call, *Conversation) {
	return func(c *call, conv *Conversation) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.messages {
			if m.AccountID == conv.AccountID && m.ConversationID == conv.ID && m.ID == id {
				m.Content, m.ContentType = DeletedContent, "text"
				m.ContentAttributes = map[string]any{"deleted": true}
				m.Attachments = nil
				c.json(http.StatusOK, s.pushData(m))
				return
			}
		}
		c.error(http.StatusNotFound, ErrNotFound)
	}
}

// deleteContact is Contacts#destroy (4.14.2; the fake's user token is an
// administrator's): the contact goes, and with it (destroy_async, done at
// once here) its conversations and their messages. head :ok.
func (s *Server) deleteContact(c *call, ct *Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.contacts, ct.ID)
	gone := map[[2]int64]bool{}
	for k, conv := range s.conversations {
		if conv.AccountID == ct.AccountID && conv.ContactID == ct.ID {
			gone[k] = true
			delete(s.conversations, k)
		}
	}
	kept := s.messages[:0]
	for _, m := range s.messages {
		if !gone[[2]int64{m.AccountID, m.ConversationID}] {
			kept = append(kept, m)
		}
	}
	s.messages = kept
	c.w.WriteHeader(http.StatusOK)
	c.rec.Status = http.StatusOK
}
