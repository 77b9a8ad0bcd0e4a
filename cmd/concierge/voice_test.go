package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/speech"

	"github.com/harborstays/concierge/lib/testenv"
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
	needSpeechTools(t)
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

// A recorded call without an AI Assist transcript, end to end on the local
// runner: aircall-hook stores call.ended and a delayed transcribe-call job;
// once due, the redrive pass starts stt, which downloads the recording,
// transcribes it with pocketsphinx and re-indexes the call, so its words
// become retrievable in Jordan's scope. A later AI Assist transcript
// replaces ours.
func TestCallRecordingEndToEnd(t *testing.T) {
	needSpeechTools(t)
	mp3, _, err := speech.LocalVoice{}.Synthesize(t.Context(), "The towels are in the hall closet", "en", speech.MP3)
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(mp3)
	}))
	defer files.Close()
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "CALL_TRANSCRIPT_WAIT": "1s"})

	var ev map[string]any
	if err := json.Unmarshal(fixtures.Read("aircall/call.ended.json"), &ev); err != nil {
		t.Fatal(err)
	}
	data := ev["data"].(map[string]any)
	data["id"], data["recording"], data["comments"] = 1843399999, files.URL+"/recording.mp3?X-Amz-Signature=abc", []any{}
	body, _ := json.Marshal(ev)
	if res, out := call(t, "POST", sys.URL+"/function/aircall-hook", body, nil); res.StatusCode != 200 {
		t.Fatalf("aircall-hook: %d %s", res.StatusCode, out)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "kind = 'transcribe-call' AND subject = 'call:1843399999' AND status = 'pending'"); n != 1 {
		t.Fatalf("transcribe-call jobs = %d", n)
	}
	deadline := time.Now().Add(90 * time.Second)
	indexed := "document_id = 'call:1843399999' AND body ILIKE '%closet%'"
	for dbtest.Count(t, d.Pool, "chunks", indexed) == 0 && time.Now().Before(deadline) {
		// cron's redrive pass, sooner than its minute.
		call(t, "POST", sys.URL+"/function/redrive", nil, nil)
		time.Sleep(500 * time.Millisecond)
	}
	if dbtest.Count(t, d.Pool, "chunks", indexed) == 0 {
		var tr, errText *string
		d.Pool.QueryRow(t.Context(), "SELECT transcript, transcript_error FROM calls WHERE id = 1843399999").Scan(&tr, &errText)
		t.Fatalf("the call's words were not indexed; transcript %v, error %v", tr, errText)
	}
	if n := dbtest.Count(t, d.Pool, "calls", "id = 1843399999 AND transcript_source = 'local'"); n != 1 {
		t.Errorf("transcript source not local")
	}
	if n := dbtest.Count(t, d.Pool, "chunks", indexed+" AND guest_id IS NOT NULL"); n == 0 {
		t.Errorf("the call's chunk is not scoped to Jordan")
	}

	// Aircall's transcript, arriving late, replaces ours and is indexed.
	tr := fixtures.Read("local/aircall.transcription.created.json")
	tr = bytes.Replace(tr, []byte(`"call_id": "1843377012"`), []byte(`"call_id": "1843399999"`), 1)
	if res, out := call(t, "POST", sys.URL+"/function/aircall-hook", tr, nil); res.StatusCode != 200 {
		t.Fatalf("transcription.created: %d %s", res.StatusCode, out)
	}
	aircall := "document_id = 'call:1843399999' AND body LIKE '%Guest: Hi, it''s Jordan Avery.%'"
	for dbtest.Count(t, d.Pool, "chunks", aircall) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if dbtest.Count(t, d.Pool, "chunks", aircall) == 0 || dbtest.Count(t, d.Pool, "chunks", indexed) != 0 {
		t.Errorf("Aircall's transcript did not replace ours in the index")
	}
}

// needSpeechTools skips where the local speech engines are not installed
// (.ci/deps installs them).
func needSpeechTools(t *testing.T) {
	t.Helper()
	testenv.NeedTools(t, "apt-get install ffmpeg flite espeak-ng pocketsphinx pocketsphinx-en-us", "flite", "ffmpeg", "ffprobe", "pocketsphinx_continuous")
}

// make run's voice try-out: /dev/ask?voice=1 speaks the question, sends it
// as a voice message (its data_url on the runner), and returns the
// transcript and the answer with a link to the spoken reply.
func TestAskByVoiceOnEmbeddedDefaults(t *testing.T) {
	needSpeechTools(t)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "BOT_BURST_WINDOW": "0s"})
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	res, body := call(t, "POST", sys.URL+"/dev/ask?voice=1", []byte("What time can we check in"), nil)
	var out struct {
		Transcript, Status, Content, Audio string
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("ask by voice: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(strings.ToLower(out.Transcript), "check in") || !strings.Contains(out.Content, "3:00 PM") || out.Status != "posted" {
		t.Fatalf("ask by voice: %s", body)
	}
	res, clip := call(t, "GET", out.Audio, nil, nil)
	// The audio fixture's channel is WhatsApp: OGG/Opus.
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/ogg" || !strings.HasPrefix(clip, "OggS") {
		t.Fatalf("spoken reply at %s: %d %s, %d bytes", out.Audio, res.StatusCode, res.Header.Get("Content-Type"), len(clip))
	}
	if res, _ := call(t, "GET", sys.URL+"/dev/clip/00000000-0000-0000-0000-000000000000", nil, nil); res.StatusCode != 404 {
		t.Errorf("unknown clip: %d", res.StatusCode)
	}
}
