package chatwoot

import (
	"context"
	"net/http"
	"strconv"
)

// DeleteMessage has Chatwoot delete a message (Messages#destroy, 4.14.2):
// the content becomes "This message was deleted", content_attributes
// {deleted: true}, and every attachment is destroyed (its file purged from
// storage by a background job). There is no call that removes an
// attachment alone. Agent and administrator tokens only: a bot's gets 401
// (BOT_ACCESSIBLE_ENDPOINTS allows bots messages#create only), an agent
// outside the conversation's inbox 401, an unknown message 404. Repeating
// it deletes nothing twice, so it is retried like a read.
func (c *Client) DeleteMessage(ctx context.Context, conversationID, messageID int64) error {
	r := request{method: http.MethodDelete, route: conv(conversationID, "/messages/"+strconv.FormatInt(messageID, 10)), safe: true}
	return c.do(ctx, r, nil)
}

// DeleteContact has Chatwoot delete a contact (Contacts#destroy, 4.14.2):
// its conversations, messages, contact inboxes and notes are destroyed in
// the background (dependent: :destroy_async). Administrators only (401
// otherwise); 422 while the contact is online in the widget; 404 when it
// is gone already.
func (c *Client) DeleteContact(ctx context.Context, id int64) error {
	r := request{method: http.MethodDelete, route: "contacts/" + strconv.FormatInt(id, 10), safe: true}
	return c.do(ctx, r, nil)
}
