package chatwoot

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/harborstays/concierge/lib/fault"
)

func conv(id int64, rest string) string {
	return "conversations/" + strconv.FormatInt(id, 10) + rest
}

// NewMessage is a message to post. Private makes it a private note that
// only agents see.
type NewMessage struct {
	Content           string
	Private           bool
	ContentType       string         // "text" when empty
	ContentAttributes map[string]any // JSON posts only
	// Attachments switch the post to multipart/form-data (attachments[]).
	Attachments []File
}

// File is an attachment to upload.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// PostMessage posts an outgoing message or a private note to a
// conversation (display id) and returns it as Chatwoot stored it.
//
// A post is not repeated after an unknown outcome (5xx, lost connection):
// that could show the guest the same answer twice. Such failures come back
// as fault.Unavailable for the caller's job to reconcile and retry; 429 is
// retried here.
func (c *Client) PostMessage(ctx context.Context, conversationID int64, m NewMessage) (Message, error) {
	route := conv(conversationID, "/messages")
	if strings.TrimSpace(m.Content) == "" && len(m.Attachments) == 0 {
		return Message{}, fault.New(fault.Invalid, "chatwoot POST %s: a message needs content or attachments", route)
	}
	var r request
	if len(m.Attachments) > 0 {
		body, ctype, err := multipartMessage(m)
		if err != nil {
			return Message{}, fmt.Errorf("chatwoot POST %s: %w", route, err)
		}
		r = request{method: http.MethodPost, route: route, body: body, ctype: ctype}
	} else {
		payload := map[string]any{"content": m.Content, "message_type": "outgoing", "private": m.Private}
		if m.ContentType != "" {
			payload["content_type"] = m.ContentType
		}
		if len(m.ContentAttributes) > 0 {
			payload["content_attributes"] = m.ContentAttributes
		}
		var err error
		if r, err = jsonRequest(http.MethodPost, route, payload, false); err != nil {
			return Message{}, err
		}
	}
	var out Message
	if err := c.do(ctx, r, &out); err != nil {
		return Message{}, err
	}
	return out, nil
}

func multipartMessage(m NewMessage) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fields := [][2]string{{"message_type", "outgoing"}, {"private", strconv.FormatBool(m.Private)}}
	if m.Content != "" {
		fields = append([][2]string{{"content", m.Content}}, fields...)
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	for _, f := range m.Attachments {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments[]"; filename=%q`, f.Name))
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		part, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// ToggleStatus sets a conversation's status and returns the status
// Chatwoot reports. A bot moving a pending conversation to open is
// Chatwoot's bot hand-off.
func (c *Client) ToggleStatus(ctx context.Context, conversationID int64, s Status) (Status, error) {
	if !s.valid() {
		return "", fault.New(fault.Invalid, "chatwoot: status %q is not open, resolved, pending or snoozed", s)
	}
	r, err := jsonRequest(http.MethodPost, conv(conversationID, "/toggle_status"), map[string]string{"status": string(s)}, true)
	if err != nil {
		return "", err
	}
	var out struct {
		Payload struct {
			Success       bool   `json:"success"`
			CurrentStatus Status `json:"current_status"`
		} `json:"payload"`
	}
	if err := c.do(ctx, r, &out); err != nil {
		return "", err
	}
	if out.Payload.CurrentStatus == "" {
		return s, nil
	}
	return out.Payload.CurrentStatus, nil
}

// Labels returns a conversation's labels.
func (c *Client) Labels(ctx context.Context, conversationID int64) ([]string, error) {
	var out struct {
		Payload []string `json:"payload"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, route: conv(conversationID, "/labels"), safe: true}, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// SetLabels replaces a conversation's whole label list.
func (c *Client) SetLabels(ctx context.Context, conversationID int64, labels []string) ([]string, error) {
	if labels == nil {
		labels = []string{}
	}
	r, err := jsonRequest(http.MethodPost, conv(conversationID, "/labels"), map[string][]string{"labels": labels}, true)
	if err != nil {
		return nil, err
	}
	var out struct {
		Payload []string `json:"payload"`
	}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// AddLabels adds labels to those a conversation has. Chatwoot's label call
// replaces the list, so it reads the list first; when nothing is missing it
// writes nothing. A label an agent adds between the read and the write is
// lost: Chatwoot offers no atomic add.
func (c *Client) AddLabels(ctx context.Context, conversationID int64, labels ...string) ([]string, error) {
	have, err := c.Labels(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	want := slices.Clone(have)
	for _, l := range labels {
		if l != "" && !slices.Contains(want, l) {
			want = append(want, l)
		}
	}
	if len(want) == len(have) {
		return have, nil
	}
	return c.SetLabels(ctx, conversationID, want)
}

// Typing is a typing indicator change.
type Typing struct {
	On bool
	// Private shows the indicator to agents only (a private note is being
	// written); otherwise the guest may see it.
	Private bool
}

// ToggleTyping switches the typing indicator. It is best effort: one
// attempt, no retries.
func (c *Client) ToggleTyping(ctx context.Context, conversationID int64, t Typing) error {
	status := "off"
	if t.On {
		status = "on"
	}
	r, err := jsonRequest(http.MethodPost, conv(conversationID, "/toggle_typing_status"),
		map[string]any{"typing_status": status, "is_private": t.Private}, true)
	if err != nil {
		return err
	}
	r.attempts = 1
	return c.do(ctx, r, nil)
}

// ListMessages selects a page of a conversation's messages: After returns
// up to 100 messages after that id, Before the 20 before it, neither the
// latest 20. User tokens only.
type ListMessages struct {
	After, Before int64
}

// ListMessages returns messages in push format, oldest first.
func (c *Client) ListMessages(ctx context.Context, conversationID int64, p ListMessages) ([]Message, error) {
	q := url.Values{}
	if p.After > 0 {
		q.Set("after", strconv.FormatInt(p.After, 10))
	}
	if p.Before > 0 {
		q.Set("before", strconv.FormatInt(p.Before, 10))
	}
	var out struct {
		Payload []Message `json:"payload"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, route: conv(conversationID, "/messages"), query: q, safe: true}, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// SearchContacts returns the first page (15) of contacts whose name, email,
// phone or identifier contains q. Matching is by substring: callers compare
// the field they searched for exactly. User tokens only.
func (c *Client) SearchContacts(ctx context.Context, q string) ([]Contact, error) {
	if strings.TrimSpace(q) == "" {
		return nil, fault.New(fault.Invalid, "chatwoot: empty contact search")
	}
	var out struct {
		Payload []Contact `json:"payload"`
	}
	r := request{method: http.MethodGet, route: "contacts/search", query: url.Values{"q": {q}}, safe: true}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Payload, nil
}

// GetContact returns one contact. User tokens only.
func (c *Client) GetContact(ctx context.Context, id int64) (Contact, error) {
	var out struct {
		Payload Contact `json:"payload"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, route: "contacts/" + strconv.FormatInt(id, 10), safe: true}, &out); err != nil {
		return Contact{}, err
	}
	return out.Payload, nil
}

func checkContact(in ContactInput) error {
	if in.PhoneNumber != "" && !ValidPhone(in.PhoneNumber) {
		return fault.Field("phone_number", "must be E.164 (+ and up to 15 digits)")
	}
	return nil
}

// CreateContact creates a contact (in InboxID when set). Email, phone and
// identifier are unique per account: a clash is a 422 whose attributes
// name the fields (see AttributesOf). User tokens only.
func (c *Client) CreateContact(ctx context.Context, in ContactInput) (Contact, error) {
	if err := checkContact(in); err != nil {
		return Contact{}, err
	}
	r, err := jsonRequest(http.MethodPost, "contacts", in, false)
	if err != nil {
		return Contact{}, err
	}
	var out struct {
		Payload struct {
			Contact Contact `json:"contact"`
		} `json:"payload"`
	}
	if err := c.do(ctx, r, &out); err != nil {
		return Contact{}, err
	}
	return out.Payload.Contact, nil
}

// UpdateContact changes the fields set in in; Chatwoot merges
// custom_attributes into the contact's. User tokens only.
func (c *Client) UpdateContact(ctx context.Context, id int64, in ContactInput) (Contact, error) {
	in.InboxID = 0
	if err := checkContact(in); err != nil {
		return Contact{}, err
	}
	r, err := jsonRequest(http.MethodPut, "contacts/"+strconv.FormatInt(id, 10), in, true)
	if err != nil {
		return Contact{}, err
	}
	var out struct {
		Payload Contact `json:"payload"`
	}
	if err := c.do(ctx, r, &out); err != nil {
		return Contact{}, err
	}
	return out.Payload, nil
}
