package function

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/replies"
)

// Chatwoot 4.13 refuses an agent-bot token the labels API (401 "not
// authorized for bots"); 4.14.2 opened it. The hand-off label is set with
// the bot's token where Chatwoot allows it, with the contacts (user) token
// where it does not, and is reported missing when neither may.
func TestHandoffLabelAcrossChatwootVersions(t *testing.T) {
	for _, c := range []struct {
		name      string
		version   string
		vars      map[string]string
		labelled  bool
		labelBy   chatwoottest.TokenKind
		botRefuse bool
	}{
		{"4.14.2, bot token", "4.14.2", nil, true, chatwoottest.Bot, false},
		{"4.13.0, user token beside", "4.13.0", nil, true, chatwoottest.User, true},
		{"4.13.0, bot token only", "4.13.0", map[string]string{"CHATWOOT_CONTACTS_TOKEN": "-"}, false, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, c.vars)
			s.fake.SetVersion(c.version)
			j := s.reply(t, replies.Reply{Mode: replies.Handoff, Content: "Wants a refund.", HandoffReason: "refund request"})
			code, out := s.run(t, j)
			if code != http.StatusOK {
				t.Fatalf("run: %d %v", code, out)
			}
			conv, _ := s.fake.Conversation(acct, conv)
			if conv.Status != "open" || !s.handedOff(t) {
				t.Fatalf("not handed off: %+v", conv)
			}
			if got := slices.Contains(conv.Labels, replies.HandoffLabel); got != c.labelled {
				t.Fatalf("labels %v, want %s set: %v", conv.Labels, replies.HandoffLabel, c.labelled)
			}
			refused, by := false, chatwoottest.TokenKind("")
			for _, r := range s.fake.Requests() {
				if r.Method == http.MethodGet && r.Token == chatwoottest.Bot && r.Status == http.StatusUnauthorized {
					refused = true
				}
				if r.Method == http.MethodPost && r.Status == http.StatusOK && strings.HasSuffix(r.Path, "/labels") {
					by = r.Token
				}
			}
			if refused != c.botRefuse || by != c.labelBy {
				t.Errorf("bot refused %v, labels set by %q; want %v, %q", refused, by, c.botRefuse, c.labelBy)
			}
			result, _ := out["result"].(map[string]any)
			warned := slices.ContainsFunc(anyStrings(result["warnings"]), func(w string) bool { return strings.Contains(w, replies.HandoffLabel) })
			if warned == c.labelled {
				t.Errorf("label set %v but warned %v: %v", c.labelled, warned, out)
			}
		})
	}
}

func anyStrings(v any) []string {
	var out []string
	if xs, ok := v.([]any); ok {
		for _, x := range xs {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
