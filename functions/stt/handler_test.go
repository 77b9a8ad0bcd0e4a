package function

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/voice"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

// The speech tools are in the speech image and on CI, not in the
// template's build stage: skip there.
func needTools(t *testing.T) {
	for _, tool := range []string{"flite", "ffmpeg", "ffprobe", "pocketsphinx_continuous"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

func TestTranscribeVoiceMessage(t *testing.T) {
	needTools(t)
	ogg, _, err := speech.LocalVoice{}.Synthesize(context.Background(), "Is there a washing machine in the apartment", "en", speech.OggOpus)
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect/voice.ogg":
			http.Redirect(w, r, "/blob/voice.ogg", http.StatusFound)
		case "/blob/voice.ogg":
			w.Header().Set("Content-Type", "audio/ogg")
			w.Write(ogg)
		case "/blob/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html></html>"))
		case "/blob/corrupt.ogg":
			w.Header().Set("Content-Type", "audio/ogg")
			w.Write(bytes.Repeat([]byte("x"), 5000))
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	cw := chatwoottest.New(t)
	cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 4, ContactID: 57, Status: "pending"})
	h := fntest.Start(t, Name, New, map[string]string{"VOICE_DOWNLOAD_HOSTS": strings.TrimPrefix(files.URL, "http://"), "CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_ACCOUNT_ID": "1"})

	tests := []struct {
		name, path  string
		transcript  string // a word the transcript must hold
		voiceErr    string
		wantNote    bool
		wantAnswers int
	}{
		{"voice note through a redirect", "/redirect/voice.ogg", "washing", "", true, 1},
		{"not audio", "/blob/page.html", "", "invalid: " + speech.ReasonUnsupported, false, 1},
		{"corrupt", "/blob/corrupt.ogg", "", "invalid: " + speech.ReasonUnsupported, false, 1},
		{"gone", "/blob/missing.ogg", "", "invalid: the voice message is no longer available", false, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := int64(50000 + i)
			att, _ := json.Marshal([]map[string]any{{"id": 1, "file_type": "audio", "extension": "ogg", "data_url": files.URL + tt.path}})
			if _, err := h.DB.Pool.Exec(context.Background(), `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, attachments, created_at)
				VALUES (1, $1, 1287, 'incoming', 'contact', $2, now())`, msg, att); err != nil {
				t.Fatal(err)
			}
			var job jobs.Job
			if err := pgx.BeginFunc(context.Background(), h.DB.Pool, func(tx pgx.Tx) error {
				var err error
				job, err = jobs.Enqueue(context.Background(), tx, voice.TranscribeJob, voice.MessageSubject(1, msg), "")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			before := len(h.Invoked.Calls())
			notes := len(cw.Posted())
			body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
			if code, out := h.Post(t, body, nil); code != 200 {
				t.Fatalf("%d %s", code, out)
			}
			var transcript, voiceErr *string
			if err := h.DB.Pool.QueryRow(context.Background(), "SELECT transcript, voice_error FROM messages WHERE account_id = 1 AND id = $1", msg).
				Scan(&transcript, &voiceErr); err != nil {
				t.Fatal(err)
			}
			if tt.transcript != "" && (transcript == nil || !strings.Contains(*transcript, tt.transcript)) {
				t.Errorf("transcript %v", transcript)
			}
			if tt.voiceErr != "" && (voiceErr == nil || !strings.HasPrefix(*voiceErr, tt.voiceErr)) {
				t.Errorf("voice error %v, want %q", voiceErr, tt.voiceErr)
			}
			if got := len(cw.Posted()) - notes; (got == 1) != tt.wantNote {
				t.Errorf("%d notes posted", got)
			} else if tt.wantNote {
				n := cw.Posted()[len(cw.Posted())-1]
				if !n.Private || !strings.HasPrefix(n.Content, voice.NotePrefix) {
					t.Errorf("note %+v", n)
				}
			}
			calls := h.Invoked.Calls()[before:]
			if len(calls) != tt.wantAnswers || calls[0].Function != "llm-query" {
				t.Errorf("invocations %+v", calls)
			}
			if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND subject = 'conversation:1:1287' AND status = 'pending'"); n != 1 {
				t.Errorf("%d pending answer jobs", n)
			}
			if tt.transcript != "" {
				if n := dbtest.Count(t, h.DB.Pool, "voice_clips", "kind = 'input' AND message_id = $1 AND expires_at > $2", msg, time.Now().Add(71*time.Hour)); n != 1 {
					t.Errorf("input clip with a 72h expiry: %d", n)
				}
			}
		})
	}
}
