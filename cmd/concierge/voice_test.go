package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/speech"
)

// voiceEvent is the audio fixture for conversation conv and message msg,
// its attachment served at dataURL.
func voiceEvent(t *testing.T, conv, msg int64, dataURL string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(fixtures.Read("chatwoot/message_created.audio.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"] = msg
	c := ev["conversation"].(map[string]any)
	c["id"] = conv
	for _, a := range ev["attachments"].([]any) {
		a.(map[string]any)["data_url"] = dataURL
		a.(map[string]any)["message_id"] = msg
	}
	m := c["messages"].([]any)[0].(map[string]any)
	m["id"], m["conversation_id"], m["attachments"] = msg, conv, ev["attachments"]
	b, _ := json.Marshal(ev)
	return b
}

// The voice path end to end on the local runner with the real local
// engines: the audio fixture (its data_url a redirect to an OGG voice
// note made with flite and ffmpeg) → transcript note → answer as text with
// a spoken clip on the fake Chatwoot; an oversized and a corrupt file get
// a text reply explaining the problem; purge deletes expired clips.
func TestVoiceMessageEndToEnd(t *testing.T) {
	for _, tool := range []string{"flite", "ffmpeg", "ffprobe", "pocketsphinx_continuous"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	ogg, _, err := speech.LocalVoice{}.Synthesize(t.Context(), "What time can we check in", "en", speech.OggOpus)
	if err != nil {
		t.Fatal(err)
	}
	big := append(append([]byte{}, ogg...), bytes.Repeat([]byte{0}, 300_000)...)
	blobs := map[string][]byte{"voice.ogg": ogg, "big.ogg": big, "corrupt.ogg": bytes.Repeat([]byte("garbage!"), 4000)}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ActiveStorage: data_url redirects to the blob.
		if name, ok := strings.CutPrefix(r.URL.Path, "/rails/active_storage/blobs/redirect/"); ok {
			http.Redirect(w, r, "/blob/"+name, http.StatusFound)
			return
		}
		b, ok := blobs[strings.TrimPrefix(r.URL.Path, "/blob/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/ogg")
		w.Write(b)
	}))
	defer files.Close()

	cw := chatwoottest.New(t)
	cw.AddInbox(1, 4)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "BOT_BURST_WINDOW": "0s",
		"VOICE_DOWNLOAD_HOSTS": strings.TrimPrefix(files.URL, "http://"), "CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_CONTACTS_TOKEN": cw.UserToken,
		"CHATWOOT_CONTACT_INBOX_ID": "4", "CHATWOOT_SIGNATURE": "off", "VOICE_MAX_BYTES": "200000"})
	deadline := time.Now().Add(90 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	convs := map[int64]string{710000: "voice.ogg", 710001: "big.ogg", 710002: "corrupt.ogg"}
	for conv, blob := range convs {
		cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: conv, InboxID: 4, ContactID: 57, Status: "pending"})
		body := voiceEvent(t, conv, conv+1_000_000, files.URL+"/rails/active_storage/blobs/redirect/"+blob)
		if res, out := call(t, "POST", sys.URL+"/function/llm-query", body, nil); res.StatusCode != 200 {
			t.Fatalf("webhook: %d %s", res.StatusCode, out)
		}
	}
	answers := map[int64]chatwoottest.Message{}
	var note *chatwoottest.Message
	for time.Now().Before(deadline) && (len(answers) < 3 || note == nil) {
		for _, m := range cw.Posted() {
			switch {
			case m.Private && strings.HasPrefix(m.Content, "Voice message transcript: "):
				note = &m
			case !m.Private && m.MessageType == "outgoing":
				answers[m.ConversationID] = m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if note == nil || note.ConversationID != 710000 || !strings.Contains(strings.ToLower(note.Content), "check in") {
		t.Fatalf("transcript note: %+v", note)
	}
	a := answers[710000]
	if !strings.Contains(a.Content, "3:00 PM") || len(a.Attachments) != 1 {
		t.Fatalf("voice answer: %q with %d attachments", a.Content, len(a.Attachments))
	}
	// WhatsApp (the fixture's channel) plays OGG/Opus voice notes.
	if f := a.Attachments[0]; f.ContentType != "audio/ogg" || !bytes.HasPrefix(f.Data, []byte("OggS")) {
		t.Errorf("attachment %s %s %d bytes", f.Name, f.ContentType, len(f.Data))
	}
	for conv, want := range map[int64]string{710001: speech.ReasonTooLarge, 710002: speech.ReasonUnsupported} {
		got := answers[conv]
		if !strings.Contains(got.Content, want) || len(got.Attachments) != 0 {
			t.Errorf("conversation %d: reply %q (%d attachments), want the reason %q", conv, got.Content, len(got.Attachments), want)
		}
	}
	if n := dbtest.Count(t, d.Pool, "messages", "transcript IS NOT NULL"); n != 1 {
		t.Errorf("%d transcripts stored", n)
	}

	// Purge: nothing is due yet; once expired, the input and reply clips go.
	if n := dbtest.Count(t, d.Pool, "voice_clips", "true"); n != 2 {
		t.Fatalf("%d clips stored, want the voice message and the spoken reply", n)
	}
	purge := func() map[string]any {
		res, out := call(t, "POST", sys.URL+"/function/purge", nil, nil)
		var v struct {
			Result map[string]any `json:"result"`
		}
		if res.StatusCode != 200 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("purge: %d %s", res.StatusCode, out)
		}
		return v.Result
	}
	if got := purge(); got["deleted"] != float64(0) {
		t.Errorf("purge before expiry: %v", got)
	}
	if _, err := d.Pool.Exec(t.Context(), "UPDATE voice_clips SET expires_at = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	if got := purge(); got["deleted"] != float64(2) || got["inputs"] != float64(1) || got["replies"] != float64(1) {
		t.Errorf("purge after expiry: %v", got)
	}
	if n := dbtest.Count(t, d.Pool, "replies", "voice_clip_id IS NOT NULL"); n != 0 {
		t.Errorf("%d replies still link a purged clip", n)
	}
}
