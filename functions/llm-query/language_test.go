package function

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/lang"
	posted "github.com/harborstays/concierge/lib/replies"
)

// The English acknowledgement is HANDOFF_MESSAGE's default, so a guest
// writing English reads the same words whichever side says them.
func TestHandoffAcknowledgementDefault(t *testing.T) {
	if lang.HandoffAck[lang.EN] != posted.HandoffMessage.Default {
		t.Errorf("lang.HandoffAck in English = %q, HANDOFF_MESSAGE's default = %q", lang.HandoffAck[lang.EN], posted.HandoffMessage.Default)
	}
}

// replyLanguage is the language the newest reply was stored with: what
// chatwoot-reply says it in, the hand-off acknowledgement included.
func replyLanguage(t *testing.T, h *faastest.Harness) string {
	t.Helper()
	var l *string
	if err := h.DB.Pool.QueryRow(context.Background(), "SELECT language FROM replies ORDER BY created_at DESC LIMIT 1").Scan(&l); err != nil {
		t.Fatal(err)
	}
	if l == nil {
		return ""
	}
	return *l
}

// TestConversationKeepsTheGuestsLanguage: Jordan writes in Spanish; the
// answer, a one-word follow-up and a hand-off are all in Spanish, from her
// own stay, offline.
func TestConversationKeepsTheGuestsLanguage(t *testing.T) {
	h := start(t, nil)
	h.Clock.Set(insideJordansStay)
	steps := []struct {
		q, mode string
		want    []string
	}{
		{"¿Cuándo tenemos que dejar la casa?", "auto", []string{"La salida (check-out) es el lunes 21 de julio, antes de las 11:00."}},
		// Too short to tell: the conversation's language holds.
		{"wifi?", "auto", []string{"Estos son los datos del wifi", "sea-breeze-2025"}},
		{"Quiero un reembolso de una noche", "handoff", []string{"restricted topic: refund"}},
	}
	for i, s := range steps {
		h.Post(t, message(t, text(95001+i, s.q)), nil)
		answerJobs(t, h)
		r := lastReply(t, h)
		for _, w := range s.want {
			if r.mode != s.mode || !strings.Contains(r.content+r.reason, w) {
				t.Errorf("%q: got %s %q, want %s with %q", s.q, r.mode, r.content+r.reason, s.mode, w)
			}
		}
		if l := replyLanguage(t, h); l != lang.ES {
			t.Errorf("%q: reply language %q, want es", s.q, l)
		}
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 1287 AND language = 'es'"); n != 1 {
		t.Error("the conversation's language was not kept")
	}
}

// TestBrowserLanguageHint: a web-widget visitor whose browser speaks
// French and whose first words tell nothing is asked for proof in French.
func TestBrowserLanguageHint(t *testing.T) {
	h := start(t, nil)
	h.Clock.Set(insideJordansStay)
	var m map[string]any
	if err := json.Unmarshal(widget(t, 3600, 360001, "wifi?", false, nil), &m); err != nil {
		t.Fatal(err)
	}
	m["conversation"].(map[string]any)["additional_attributes"] = map[string]any{"browser_language": "fr-FR"}
	body, _ := json.Marshal(m)
	h.Post(t, body, nil)
	answerJobs(t, h)
	if r := lastReply(t, h); r.content != lang.VerifyPrompt[lang.FR] {
		t.Errorf("got %q, want the French request for proof", r.content)
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 3600 AND language_hint = 'fr' AND language IS NULL"); n != 1 {
		t.Error("the hint was not kept apart from a detected language")
	}
}

// TestIdentityCheckInTheGuestsLanguage: asked for proof in Spanish, the
// guest's attempts (a code and a name, no language of their own) are
// answered in Spanish, and so is the question that waited.
func TestIdentityCheckInTheGuestsLanguage(t *testing.T) {
	h := start(t, nil)
	h.Clock.Set(insideJordansStay)
	say := func(id int, q string) reply {
		t.Helper()
		h.Post(t, widget(t, 3700, id, q, false, map[string]any{"email": "jordan.avery@example.com"}), nil)
		answerJobs(t, h)
		return lastReply(t, h)
	}
	if r := say(370001, "¿Cuál es la contraseña del wifi?"); r.content != lang.VerifyPrompt[lang.ES] {
		t.Fatalf("first answer %q", r.content)
	}
	if r := say(370002, "HMK7M2Q9XB Avery"); r.content != lang.Mismatch(lang.ES, 2) {
		t.Errorf("a wrong code got %q", r.content)
	}
	r := say(370003, "HMK7M2Q9XA Avery")
	if !strings.HasPrefix(r.content, lang.Verified[lang.ES]+"\n\n") || !strings.Contains(r.content, "sea-breeze-2025") || !strings.Contains(r.content, "Estos son los datos del wifi") {
		t.Errorf("the right code and name got %q", r.content)
	}
	if l := replyLanguage(t, h); l != lang.ES {
		t.Errorf("reply language %q, want es", l)
	}
}
