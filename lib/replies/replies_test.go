package replies

import (
	"context"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
)

// Posting, dropping and the outbox run against PostgreSQL and a fake
// Chatwoot in functions/chatwoot-reply; these are the checks before any I/O.

func TestInsertRefusesIncompleteReplies(t *testing.T) {
	ok := Reply{AccountID: 1, ConversationID: 1287, InboundMessageID: 40211, Mode: Auto, Content: "hi"}
	tests := []struct {
		name   string
		change func(*Reply)
	}{
		{"no account", func(r *Reply) { r.AccountID = 0 }},
		{"no conversation", func(r *Reply) { r.ConversationID = 0 }},
		{"no inbound message", func(r *Reply) { r.InboundMessageID = 0 }},
		{"unknown mode", func(r *Reply) { r.Mode = "shout" }},
		{"empty answer", func(r *Reply) { r.Content = "  " }},
		{"hand-off without reason or summary", func(r *Reply) { r.Mode, r.Content = Handoff, "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.change(&r)
			// Validation comes before the transaction is used.
			if _, err := Insert(context.Background(), nil, r); fault.KindOf(err) != fault.Invalid {
				t.Errorf("got %v, want invalid", err)
			}
		})
	}
}

func TestPostedContent(t *testing.T) {
	tests := []struct {
		r       Reply
		want    []string
		private bool
	}{
		{Reply{Mode: Auto, Content: "Check-in is at 3 PM."}, []string{"Check-in is at 3 PM."}, false},
		{Reply{Mode: Draft, Content: "Check-in is at 3 PM."}, []string{"Check-in is at 3 PM."}, true},
		{Reply{Mode: Handoff, Content: "Asks for a refund.", HandoffReason: "refund"}, []string{"Reason: refund", "\n\nAsks for a refund."}, true},
		{Reply{Mode: Handoff, HandoffReason: "angry guest"}, []string{"Handed off to a person. Reason: angry guest"}, true},
	}
	for _, tt := range tests {
		got := tt.r.PostedContent()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tt.r.Mode, got, w)
			}
		}
		if tt.r.Private() != tt.private {
			t.Errorf("%s: private %v", tt.r.Mode, tt.r.Private())
		}
	}
}
