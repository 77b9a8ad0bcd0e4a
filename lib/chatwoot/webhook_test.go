package chatwoot_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
)

func signed(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set(chatwoot.TimestampHeader, ts)
	}
	if sig != "" {
		h.Set(chatwoot.SignatureHeader, sig)
	}
	return h
}

func TestVerifyKnownAnswer(t *testing.T) {
	body := fixtures.Read("chatwoot/message_created.incoming.json")
	sec, _ := strconv.ParseInt(fixtures.ChatwootTimestamp, 10, 64)
	signedAt := time.Unix(sec, 0)
	if got := chatwoot.Sign(fixtures.ChatwootSecret, sec, body); got != fixtures.ChatwootSignature {
		t.Fatalf("Sign = %s, want the contract's %s", got, fixtures.ChatwootSignature)
	}
	tampered := []byte(strings.Replace(string(body), "noon", "midnight", 1))
	tests := []struct {
		name    string
		secrets []string
		now     time.Time
		header  http.Header
		body    []byte
		ok      bool
	}{
		{"contract vector", []string{fixtures.ChatwootSecret}, signedAt.Add(10 * time.Second), signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, true},
		{"rotated: old secret listed second", []string{"new-secret-not-yet-used", fixtures.ChatwootSecret}, signedAt, signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, true},
		{"4m59s late", []string{fixtures.ChatwootSecret}, signedAt.Add(4*time.Minute + 59*time.Second), signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, true},
		{"too old", []string{fixtures.ChatwootSecret}, signedAt.Add(5*time.Minute + time.Second), signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, false},
		{"from the future", []string{fixtures.ChatwootSecret}, signedAt.Add(-5*time.Minute - time.Second), signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, false},
		{"the clock of today rejects the fixture", []string{fixtures.ChatwootSecret}, time.Now(), signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, false},
		{"tampered body", []string{fixtures.ChatwootSecret}, signedAt, signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), tampered, false},
		{"wrong secret", []string{"some-other-secret"}, signedAt, signed(fixtures.ChatwootTimestamp, fixtures.ChatwootSignature), body, false},
		{"timestamp changed", []string{fixtures.ChatwootSecret}, signedAt, signed(strconv.FormatInt(sec+1, 10), fixtures.ChatwootSignature), body, false},
		{"no signature", []string{fixtures.ChatwootSecret}, signedAt, signed(fixtures.ChatwootTimestamp, ""), body, false},
		{"no timestamp", []string{fixtures.ChatwootSecret}, signedAt, signed("", fixtures.ChatwootSignature), body, false},
		{"no prefix", []string{fixtures.ChatwootSecret}, signedAt, signed(fixtures.ChatwootTimestamp, strings.TrimPrefix(fixtures.ChatwootSignature, "sha256=")), body, false},
		{"not hex", []string{fixtures.ChatwootSecret}, signedAt, signed(fixtures.ChatwootTimestamp, "sha256=zz"), body, false},
		{"timestamp not a number", []string{fixtures.ChatwootSecret}, signedAt, signed("yesterday", fixtures.ChatwootSignature), body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := chatwoot.NewVerifier(tt.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			v.Now = func() time.Time { return tt.now }
			err = v.Verify(tt.header, tt.body)
			if tt.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tt.ok {
				if fault.KindOf(err) != fault.Unauthorized {
					t.Fatalf("got %v, want unauthorized", err)
				}
				if strings.Contains(err.Error(), fixtures.ChatwootSecret) {
					t.Error("error holds the secret")
				}
			}
		})
	}
}

func TestVerifierModes(t *testing.T) {
	if _, err := chatwoot.NewVerifier("", " "); err == nil {
		t.Error("a verifier without a secret")
	}
	off := chatwoot.Unverified()
	if off.Required() || off.Verify(http.Header{}, []byte("{}")) != nil {
		t.Error("mode off rejected an unsigned delivery")
	}
}

func TestParseFixtures(t *testing.T) {
	in, err := chatwoot.ParseMessageEvent(fixtures.Read("chatwoot/message_created.incoming.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !in.FromGuest() || in.ID != 40211 || in.AccountID() != 1 || in.ConversationID() != 1287 || in.SenderKind() != chatwoot.SenderContact ||
		in.Inbox.ID != 4 || in.Conversation.Status != "pending" || !strings.Contains(in.Text(), "check in") {
		t.Errorf("incoming %+v", in)
	}
	if want := time.Date(2025, 7, 18, 18, 2, 11, 347e6, time.UTC); !in.CreatedAt.Equal(want) {
		t.Errorf("created_at %s, want %s", in.CreatedAt, want)
	}
	if c := in.Contact(); c == nil || c.Identifier != "66a1f0c2e4b0a1b2c3d4e5f6" || c.CustomAttributes["confirmation_code"] != "HMK7M2Q9XA" {
		t.Errorf("contact %+v", c)
	}
	if m := in.Conversation.Messages[0]; m.MessageType != chatwoot.Incoming || m.CreatedAt.Unix() != 1752861731 || m.SenderKind() != chatwoot.SenderContact {
		t.Errorf("push-format message %+v", m)
	}
	if in.Conversation.UpdatedAt.UnixMilli() != 1752861731347 {
		t.Errorf("float updated_at %v", in.Conversation.UpdatedAt)
	}

	out, err := chatwoot.ParseMessageEvent(fixtures.Read("chatwoot/message_created.outgoing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.FromGuest() || out.MessageType != chatwoot.Outgoing || out.SenderKind() != chatwoot.SenderAgentBot ||
		out.Conversation.Messages[0].SenderKind() != chatwoot.SenderAgentBot || out.Conversation.Messages[0].MessageType != chatwoot.Outgoing {
		t.Errorf("outgoing %+v", out)
	}

	audio, err := chatwoot.ParseMessageEvent(fixtures.Read("chatwoot/message_created.audio.json"))
	if err != nil {
		t.Fatal(err)
	}
	clips := audio.AttachmentsOf("audio")
	if !audio.FromGuest() || audio.Content != nil || audio.Text() != "" || len(clips) != 1 || clips[0].Extension != "ogg" ||
		clips[0].FileSize != 38412 || !strings.HasPrefix(clips[0].DataURL, "https://") || clips[0].Width != nil {
		t.Errorf("audio %+v", audio)
	}

	st, err := chatwoot.ParseConversationEvent(fixtures.Read("chatwoot/conversation_status_changed.json"))
	if err != nil {
		t.Fatal(err)
	}
	prev, cur, ok := st.StatusChange()
	if !ok || prev != chatwoot.StatusPending || cur != chatwoot.StatusOpen || st.ID != 1287 || st.AccountID() != 1 ||
		st.Status != "open" || len(st.Labels) != 2 || st.Meta.Sender.ID != 57 {
		t.Errorf("status change %s→%s %v: %+v", prev, cur, ok, st)
	}

	for _, bad := range []string{`{"event":"message_created"}`, `{"event":"conversation_status_changed","id":1}`, `[`} {
		if _, err := chatwoot.ParseMessageEvent([]byte(bad)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if name, err := chatwoot.EventName(fixtures.Read("chatwoot/conversation_status_changed.json")); err != nil || name != chatwoot.EventConversationStatusChanged {
		t.Errorf("event name %q %v", name, err)
	}
}

func TestDedupeKey(t *testing.T) {
	incoming := fixtures.Read("chatwoot/message_created.incoming.json")
	status := fixtures.Read("chatwoot/conversation_status_changed.json")
	delivery := http.Header{chatwoot.DeliveryHeader: {"3f0c2a8e-9b1d-4c6e-8f2a-7d5b1e9c0a44"}}
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   string
	}{
		{"message id, whatever the delivery", delivery, incoming, "message_created:1:40211"},
		{"message id without the header", http.Header{}, incoming, "message_created:1:40211"},
		{"other events: the delivery id", delivery, status, "delivery:3f0c2a8e-9b1d-4c6e-8f2a-7d5b1e9c0a44"},
		{"odd header values are not keys", http.Header{chatwoot.DeliveryHeader: {"a b\"c"}}, status, "body:"},
		{"no header: the body", http.Header{}, status, "body:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := chatwoot.DedupeKey(tt.header, tt.body)
			if !strings.HasPrefix(got, tt.want) || (strings.HasSuffix(tt.want, ":") && len(got) != len(tt.want)+64) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if chatwoot.DedupeKey(nil, status) != chatwoot.DedupeKey(http.Header{}, status) {
		t.Error("body key not stable")
	}
}
