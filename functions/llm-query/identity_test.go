package function

import (
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/llm/llmtest"
)

const jordanID = "66a1f0c2e4b0a1b2c3d4e5f6"

// insideJordansStay is a time when Jordan may have the Wi-Fi password.
var insideJordansStay = time.Date(2025, 7, 19, 12, 0, 0, 0, time.UTC)

// jordansSecrets must never reach anyone who has not proved to be Jordan.
var jordansSecrets = []string{"sea-breeze-2025", "HMK7M2Q9XA", "Avery"}

// widget is a guest message in a web-widget conversation: the visitor is
// whoever setUser said, with hmac_verified as given.
func widget(t *testing.T, conv, id int, content string, hmac bool, sender map[string]any) []byte {
	return message(t, func(m map[string]any) {
		text(id, content)(m)
		c := m["conversation"].(map[string]any)
		c["id"] = conv
		c["channel"] = "Channel::WebWidget"
		ci := c["contact_inbox"].(map[string]any)
		ci["contact_id"], ci["source_id"], ci["hmac_verified"] = 90+conv, "4f0e8a52-6b1d-4c8e-9a57-3d2f1b0c9e71", hmac
		c["meta"].(map[string]any)["hmac_verified"] = hmac
		s := map[string]any{"id": 90 + conv, "name": "Visitor", "email": "", "phone_number": "", "identifier": "",
			"custom_attributes": map[string]any{}, "type": "contact"}
		for k, v := range sender {
			s[k] = v
		}
		c["meta"].(map[string]any)["sender"] = s
		m["sender"] = s
	})
}

func lastReply(t *testing.T, h *faastest.Harness) reply {
	t.Helper()
	rs := replies(t, h)
	if len(rs) == 0 {
		t.Fatal("no reply")
	}
	return rs[len(rs)-1]
}

func noSecrets(t *testing.T, r reply) {
	t.Helper()
	for _, s := range jordansSecrets {
		if strings.Contains(r.content, s) {
			t.Errorf("reply leaks %q: %q", s, r.content)
		}
	}
}

// TestUnverifiedContactGetsNoStayDetail: a web-widget visitor who claims to
// be Jordan (by identifier, custom attribute, email or phone) gets nothing
// of Jordan's stay, only the request for proof; the same identifier signed
// by the website gets the answer.
func TestUnverifiedContactGetsNoStayDetail(t *testing.T) {
	h := start(t, nil)
	h.Clock.Set(insideJordansStay)
	claims := []struct {
		name   string
		sender map[string]any
	}{
		{"identifier", map[string]any{"identifier": jordanID}},
		{"custom attribute", map[string]any{"custom_attributes": map[string]any{"guesty_guest_id": jordanID}}},
		{"email", map[string]any{"email": "jordan.avery@example.com"}},
		{"phone", map[string]any{"phone_number": "+15555550142"}},
	}
	for i, c := range claims {
		t.Run(c.name, func(t *testing.T) {
			conv := 3100 + i
			for j, q := range []string{"What is the wifi password?", "When is our check-out?", "what's the door code"} {
				h.Post(t, widget(t, conv, 310000+i*10+j, q, false, c.sender), nil)
				answerJobs(t, h)
				r := lastReply(t, h)
				noSecrets(t, r)
				if r.content != answer.VerifyPrompt {
					t.Errorf("%q answered %q, want the request for proof", q, r.content)
				}
			}
			if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = $1 AND guest_id IS NULL AND claimed_guest_id = $2", conv, jordanID); n != 1 {
				t.Error("the claim was taken as proof, or not kept as a claim")
			}
		})
	}
	t.Run("signed identifier", func(t *testing.T) {
		h.Post(t, widget(t, 3199, 319901, "What is the wifi password?", true, map[string]any{"identifier": jordanID}), nil)
		answerJobs(t, h)
		if r := lastReply(t, h); !strings.Contains(r.content, "sea-breeze-2025") {
			t.Errorf("a validated widget guest got %q", r.content)
		}
		if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 3199 AND guest_id = $1 AND verified_by = 'hmac'", jordanID); n != 1 {
			t.Error("the validated contact is not linked")
		}
	})
	t.Run("general questions are still answered", func(t *testing.T) {
		h.Post(t, widget(t, 3198, 319801, "Do you allow pets?", false, map[string]any{"identifier": jordanID}), nil)
		answerJobs(t, h)
		r := lastReply(t, h)
		noSecrets(t, r)
		if r.content == answer.VerifyPrompt || r.mode == "handoff" {
			t.Errorf("a question about the house policy got %s %q", r.mode, r.content)
		}
	})
}

// TestVerificationInTheConversation: asked for proof, the guest gives a
// wrong code, then the right one with the last name; the question that
// waited is answered, the link is recorded, and the attempts never become
// part of a prompt's history.
func TestVerificationInTheConversation(t *testing.T) {
	h := start(t, nil)
	h.Clock.Set(insideJordansStay)
	say := func(id int, q string) reply {
		t.Helper()
		h.Post(t, widget(t, 3200, id, q, false, map[string]any{"email": "jordan.avery@example.com"}), nil)
		answerJobs(t, h)
		return lastReply(t, h)
	}
	if r := say(320001, "What is the wifi password?"); r.content != answer.VerifyPrompt {
		t.Fatalf("first answer %q", r.content)
	}
	r := say(320002, "sure: HMK7M2Q9XB, Avery")
	noSecrets(t, reply{content: strings.ReplaceAll(r.content, "Avery", "")})
	if !strings.Contains(r.content, "couldn't match") || !strings.Contains(r.content, "2 attempts left") || strings.Contains(r.content, "sea-breeze") {
		t.Fatalf("a wrong code got %q", r.content)
	}
	// The right code under another guest's name is no proof either.
	if r := say(320003, "HMK7M2Q9XA Rivera"); !strings.Contains(r.content, "1 attempt left") {
		t.Fatalf("the right code with a wrong name got %q", r.content)
	}
	r = say(320004, "hmk7m2q9xa / avery")
	if !strings.Contains(r.content, "booking is confirmed") || !strings.Contains(r.content, "sea-breeze-2025") {
		t.Fatalf("the right code and name got %q", r.content)
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 3200 AND guest_id = $1 AND verified_by = 'code' AND verify_asked_message_id IS NULL", jordanID); n != 1 {
		t.Error("the conversation is not linked by code")
	}
	if n := dbtest.Count(t, h.DB.Pool, "identity_checks", "conversation_id = 3200 AND NOT ok"); n != 2 {
		t.Errorf("failed checks = %d, want 2", n)
	}
	// A repeated answer job counts nothing twice and replies nothing new.
	before := len(replies(t, h))
	exec(t, h, "UPDATE jobs SET status = 'pending' WHERE id = (SELECT id FROM jobs WHERE kind = 'answer' ORDER BY created_at DESC LIMIT 1)")
	answerJobs(t, h)
	if n := len(replies(t, h)); n != before {
		t.Errorf("replies after a repeated job = %d, want %d", n, before)
	}
	if n := dbtest.Count(t, h.DB.Pool, "identity_checks", "conversation_id = 3200"); n != 3 {
		t.Errorf("identity checks = %d, want 3", n)
	}
	// Verified now: the next question is answered at once.
	if r := say(320005, "and what's the door code?"); r.content == answer.VerifyPrompt {
		t.Errorf("a verified guest is asked again: %q", r.content)
	}
}

// TestVerificationLimits: three wrong attempts hand the conversation to a
// person; beyond the hourly limit across conversations, no code is checked.
func TestVerificationLimits(t *testing.T) {
	t.Run("per conversation", func(t *testing.T) {
		h := start(t, nil)
		h.Clock.Set(insideJordansStay)
		send := func(id int, q string) {
			h.Post(t, widget(t, 3300, id, q, false, nil), nil)
			answerJobs(t, h)
		}
		send(330001, "door code please")
		for i := 0; i < 3; i++ {
			send(330002+i, "AB12345"+string(rune('0'+i))+" Avery")
		}
		r := lastReply(t, h)
		if r.mode != "handoff" || !strings.Contains(r.reason, "3 failed identity checks") {
			t.Fatalf("after three wrong codes: %+v", r)
		}
		// Past the limit even the right code is not checked.
		send(330009, "HMK7M2Q9XA Avery")
		if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 3300 AND guest_id IS NULL"); n != 1 {
			t.Error("the conversation was linked after the limit")
		}
		if n := dbtest.Count(t, h.DB.Pool, "identity_checks", ""); n != 3 {
			t.Errorf("identity checks = %d, want 3", n)
		}
	})
	t.Run("per hour across conversations", func(t *testing.T) {
		h := start(t, map[string]string{"VERIFY_MAX_FAILURES_PER_HOUR": "2"})
		h.Clock.Set(insideJordansStay)
		for i, conv := range []int{3401, 3402, 3403} {
			h.Post(t, widget(t, conv, 340000+i*10, "door code please", false, nil), nil)
			answerJobs(t, h)
			h.Post(t, widget(t, conv, 340001+i*10, "ZZ99999"+string(rune('0'+i))+" Avery", false, nil), nil)
			answerJobs(t, h)
		}
		r := lastReply(t, h)
		if r.mode != "handoff" || !strings.Contains(r.reason, "paused") {
			t.Fatalf("the third conversation's attempt: %+v", r)
		}
		if n := dbtest.Count(t, h.DB.Pool, "identity_checks", ""); n != 2 {
			t.Errorf("identity checks = %d, want 2 (the third was not checked)", n)
		}
	})
}

// TestAttemptsNeverReachTheModel: the message holding the code and name is
// neither the question nor history for the model.
func TestAttemptsNeverReachTheModel(t *testing.T) {
	srv := groq(t)
	ok := llmtest.Completion(`{"answer":"Check-out is at 11 AM.","language":"en","citations":["stay"],"needs_handoff":false,"reason":""}`)
	srv.AddModel("test-model", ok, ok, ok, ok)
	h := start(t, map[string]string{"GROQ_API_KEY": "test-key", "LLM_BASE_URL": srv.URL(), "LLM_MODEL": "test-model"})
	h.Clock.Set(insideJordansStay)
	for i, q := range []string{"What time is check-out?", "code HMK7M2Q9XA, surname Avery", "thanks! and is parking free?"} {
		h.Post(t, widget(t, 3500, 350001+i, q, false, map[string]any{"email": "jordan.avery@example.com"}), nil)
		answerJobs(t, h)
	}
	if n := dbtest.Count(t, h.DB.Pool, "conversations", "id = 3500 AND verified_by = 'code'"); n != 1 {
		t.Fatal("not verified")
	}
	chats := srv.Chats()
	if len(chats) < 2 {
		t.Fatalf("the model was asked %d times, want the waiting question and the next one", len(chats))
	}
	for _, c := range chats {
		for _, m := range c.Messages {
			if strings.Contains(m.Content, "surname Avery") {
				t.Fatalf("the identity check reached the model: %s", m.Content)
			}
		}
	}
}
