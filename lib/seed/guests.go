package seed

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fixtures"
)

// Guest is a sample guest as Chatwoot knows them: the contact that writes
// to the assistant in the local runner (/dev/ask?as=Key, the seeded
// conversations). A WhatsApp guest is proven by the channel's own sender
// number (contact_inbox.source_id); the visitor is a web-widget contact
// nobody has verified.
type Guest struct {
	Key         string // as=Key
	Name        string
	GuestID     string // Guesty guest id; "" for the visitor
	Reservation string // the sample stay; "" for the visitor
	// Stay says where the stay stands, for the runner's log and help.
	Stay      string
	ContactID int64  // Chatwoot contact id
	Phone     string // E.164, as Chatwoot stores it
	Email     string
	Channel   string // Chatwoot channel type
	InboxID   int64
	InboxName string
}

// Chatwoot inboxes of the sample conversations.
const (
	whatsappInbox = 4 // the contract fixtures' "Guest WhatsApp"
	widgetInbox   = 2
)

// Guests are the sample guests, in the order the runner lists them.
var Guests = []Guest{
	{Key: "jordan", Name: "Jordan Avery", GuestID: "66a1f0c2e4b0a1b2c3d4e5f6", Reservation: JordanReservation,
		Stay: "checked in yesterday", ContactID: 57, Phone: "+15555550142", Email: "jordan.avery@example.com",
		Channel: "Channel::Whatsapp", InboxID: whatsappInbox, InboxName: "Guest WhatsApp"},
	{Key: "casey", Name: "Casey Lin", GuestID: "66a1f0c2e4b0a1b2c3d4e5c3", Reservation: CaseyReservation,
		Stay: "arrives today", ContactID: 59, Phone: "+15555550163", Email: "casey.lin@example.com",
		Channel: "Channel::Whatsapp", InboxID: whatsappInbox, InboxName: "Guest WhatsApp"},
	{Key: "sam", Name: "Sam Rivera", GuestID: "66a1f0c2e4b0a1b2c3d4e5a7", Reservation: SamReservation,
		Stay: "arrives in a week", ContactID: 58, Phone: "+15555550177", Email: "sam.rivera@example.com",
		Channel: "Channel::Whatsapp", InboxID: whatsappInbox, InboxName: "Guest WhatsApp"},
	{Key: "dana", Name: "Dana Brooks", GuestID: "66a1f0c2e4b0a1b2c3d4e5d4", Reservation: DanaReservation,
		Stay: "checked out three days ago", ContactID: 60, Phone: "+15555550188", Email: "dana.brooks@example.com",
		Channel: "Channel::Whatsapp", InboxID: whatsappInbox, InboxName: "Guest WhatsApp"},
	{Key: "visitor", Name: "Website visitor", Stay: "no stay", ContactID: 61,
		Channel: "Channel::WebWidget", InboxID: widgetInbox, InboxName: "Website"},
}

// GuestKeys lists the keys of Guests, for a help text.
func GuestKeys() string {
	keys := make([]string, len(Guests))
	for i, g := range Guests {
		keys[i] = g.Key
	}
	return strings.Join(keys, ", ")
}

// FindGuest returns the sample guest of key.
func FindGuest(key string) (Guest, bool) {
	for _, g := range Guests {
		if g.Key == key {
			return g, true
		}
	}
	return Guest{}, false
}

// MessageEvent is the contract's incoming-message fixture as a message of
// g, with its id, in conversation conv, written at at.
func MessageEvent(g Guest, conv, id int64, at time.Time, text string) ([]byte, error) {
	return event("chatwoot/message_created.incoming.json", g, conv, id, at, func(m map[string]any) { m["content"] = text })
}

// VoiceEvent is the contract's voice-message fixture as a message of g,
// its audio at dataURL.
func VoiceEvent(g Guest, conv, id int64, at time.Time, dataURL string) ([]byte, error) {
	return event("chatwoot/message_created.audio.json", g, conv, id, at, func(m map[string]any) {
		for _, a := range m["attachments"].([]any) {
			a.(map[string]any)["data_url"] = dataURL
			a.(map[string]any)["message_id"] = id
		}
	})
}

// event is a message_created fixture (Jordan's) as a new message of g in
// conversation conv, changed by set.
func event(fixture string, g Guest, conv, id int64, at time.Time, set func(map[string]any)) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read(fixture), &m); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", fixture, err)
	}
	m["id"], m["created_at"] = id, at.UTC().Format(time.RFC3339Nano)
	set(m)
	c := m["conversation"].(map[string]any)
	c["id"], c["messages"] = conv, []any{}
	for _, k := range []string{"created_at", "timestamp", "last_activity_at", "waiting_since"} {
		c[k] = at.Unix()
	}
	if g.Key == "jordan" {
		return json.Marshal(m) // the fixture's own contact
	}
	sender := map[string]any{"id": g.ContactID, "name": g.Name, "identifier": g.GuestID, "custom_attributes": map[string]any{},
		"additional_attributes": map[string]any{}, "type": "contact"}
	if g.Email != "" {
		sender["email"] = g.Email
	}
	if g.Phone != "" {
		sender["phone_number"] = g.Phone
	}
	m["sender"] = sender
	c["meta"].(map[string]any)["sender"] = sender
	c["channel"], c["inbox_id"] = g.Channel, g.InboxID
	m["inbox"] = map[string]any{"id": g.InboxID, "name": g.InboxName}
	ci := c["contact_inbox"].(map[string]any)
	ci["contact_id"], ci["inbox_id"] = g.ContactID, g.InboxID
	// The channel's own sender is what proves a WhatsApp guest; a web
	// widget's source id is the visitor's session, which proves nothing.
	ci["source_id"] = strings.TrimPrefix(g.Phone, "+")
	if g.Phone == "" {
		ci["source_id"] = fmt.Sprintf("widget-%d", g.ContactID)
	}
	return json.Marshal(m)
}
