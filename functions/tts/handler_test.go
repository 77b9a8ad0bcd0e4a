package function

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"

	"github.com/harborstays/concierge/lib/testenv"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

func TestSpeakReply(t *testing.T) {
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Ocp-Apim-Subscription-Key") {
		case "throttled-key":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer azure.Close()
	tests := []struct {
		name, key  string
		channel    string
		local      bool
		wantStatus string // replies.voice_status
		wantCT     string
		wantErr    string
	}{
		{name: "local engines, WhatsApp", channel: "Channel::Whatsapp", local: true, wantStatus: "ready", wantCT: "audio/ogg"},
		{name: "local engines, web widget", channel: "Channel::WebWidget", local: true, wantStatus: "ready", wantCT: "audio/mpeg"},
		{name: "Azure refuses the key", key: "wrong-key", wantStatus: "failed", wantErr: "refused the key"},
		{name: "Azure throttles on the last attempt", key: "throttled-key", wantStatus: "failed", wantErr: "HTTP 429"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.local {
				testenv.NeedTools(t, "apt-get install ffmpeg flite espeak-ng pocketsphinx pocketsphinx-en-us", "flite", "ffmpeg")
			}
			env := map[string]string{}
			if tt.key != "" {
				env = map[string]string{"AZURE_SPEECH_KEY": tt.key, "AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_ENDPOINT": azure.URL}
			}
			h := faastest.Start(t, Name, New, env)
			ctx := context.Background()
			conv := int64(1287 + i)
			if _, err := h.DB.Pool.Exec(ctx, "INSERT INTO conversations (account_id, id, status, channel) VALUES (1, $1, 'pending', $2)", conv, tt.channel); err != nil {
				t.Fatal(err)
			}
			var job jobs.Job
			var replyID string
			if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) error {
				rj, err := replies.Insert(ctx, tx, replies.Reply{AccountID: 1, ConversationID: conv, InboundMessageID: 40215, Mode: replies.Auto,
					Content: "Check-in is from 3:00 PM & checkout by 11 AM.", Language: "en", WantAudio: true})
				if err != nil {
					return err
				}
				replyID, _ = jobs.ParseReplySubject(rj.Subject)
				job, err = jobs.Enqueue(ctx, tx, jobs.Synthesize, rj.Subject, "")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if tt.key == "throttled-key" {
				// Earlier attempts were throttled too: this is the last one.
				if _, err := h.DB.Pool.Exec(ctx, "UPDATE jobs SET attempts = $2 WHERE id = $1", job.ID, jobs.Synthesize.Policy.MaxAttempts-1); err != nil {
					t.Fatal(err)
				}
			}
			body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
			if code, out := h.PostJob(t, body, nil); code != 200 {
				t.Fatalf("%d %s", code, out)
			}
			r, err := replies.Get(ctx, h.DB.Pool, replyID)
			if err != nil {
				t.Fatal(err)
			}
			if r.VoiceStatus != tt.wantStatus || !strings.Contains(r.VoiceError, tt.wantErr) {
				t.Errorf("voice %q %q", r.VoiceStatus, r.VoiceError)
			}
			if tt.wantCT != "" {
				var ct string
				var size int
				if err := h.DB.Pool.QueryRow(ctx, "SELECT content_type, size FROM voice_clips WHERE id = $1", r.VoiceClipID).Scan(&ct, &size); err != nil || ct != tt.wantCT || size < 1000 {
					t.Errorf("clip %q %d %v", ct, size, err)
				}
			}
			// Either way the reply goes on: its job is queued again.
			calls := h.Invoked.Calls()
			if len(calls) != 1 || calls[0].Function != "chatwoot-reply" {
				t.Errorf("invocations %+v", calls)
			}
		})
	}
}
