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
	"sync/atomic"
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

// A recorded call that Aircall did not transcribe: stt fetches the
// recording (the signed link, or the asset URL through the Aircall API once
// the link expired), transcribes it and re-indexes the call.
func TestTranscribeCallRecording(t *testing.T) {
	needTools(t)
	mp3, _, err := speech.LocalVoice{}.Synthesize(context.Background(), "Can we park two cars at the house", "en", speech.MP3)
	if err != nil {
		t.Fatal(err)
	}
	const apiID, apiToken = "aircall-api-id", "aircall-api-token-0123"
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/signed/recording.mp3":
			w.Header().Set("Content-Type", "audio/mpeg")
			w.Write(mp3)
		case "/signed/expired.mp3":
			// S3 answers an expired signature with 403.
			http.Error(w, "Request has expired", http.StatusForbidden)
		case "/calls/1/recording":
			// Aircall's asset URL: API credentials, then a redirect to the file.
			if id, tok, ok := r.BasicAuth(); !ok || id != apiID || tok != apiToken {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signed/recording.mp3", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer files.Close()
	withAPI := map[string]string{"AIRCALL_API_ID": apiID, "AIRCALL_API_TOKEN": apiToken}
	tests := []struct {
		name       string
		env        map[string]string
		recording  string
		transcript string // stored before the job runs (Aircall's)
		delay      time.Duration
		status     string // job status after
		want       string // a word the transcript must hold
		wantErr    string // calls.transcript_error prefix
		vectorize  bool
	}{
		{name: "signed link", recording: "/signed/recording.mp3", status: "done", want: "cars", vectorize: true},
		{name: "expired link, API credentials", env: withAPI, recording: "/signed/expired.mp3", status: "done", want: "cars", vectorize: true},
		{name: "expired link, no credentials", recording: "/signed/expired.mp3", status: "failed",
			wantErr: "invalid: the call recording's link expired; set AIRCALL_API_ID and AIRCALL_API_TOKEN"},
		{name: "Aircall's transcript came meanwhile", recording: "/signed/recording.mp3", transcript: "Agent: Hello", status: "done", want: "Agent: Hello"},
		{name: "not due yet", recording: "/signed/recording.mp3", delay: time.Hour, status: "pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fntest.Start(t, Name, New, tt.env)
			ctx := context.Background()
			var source *string
			if tt.transcript != "" {
				s := "aircall"
				source = &s
			}
			if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO calls (id, status, phone_e164, recording_url, asset_url, transcript, transcript_source,
					last_event, event_at, status_rank) VALUES (1, 'done', '+15555550142', $1, $2, $3, $4, 'call.ended', now(), 2)`,
				files.URL+tt.recording, files.URL+"/calls/1/recording", nullable(tt.transcript), source); err != nil {
				t.Fatal(err)
			}
			var job jobs.Job
			if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) (err error) {
				job, err = jobs.EnqueueAfter(ctx, tx, jobs.TranscribeCall, voice.CallSubject(1), "", tt.delay)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if tt.delay == 0 {
				// EnqueueAfter's time is the database's; let it pass.
				h.DB.Pool.Exec(ctx, "UPDATE jobs SET not_before = now() WHERE id = $1", job.ID)
			}
			body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
			h.Post(t, body, nil)
			var status string
			var transcript, gotSource, lang, callErr *string
			if err := h.DB.Pool.QueryRow(ctx, `SELECT j.status, c.transcript, c.transcript_source, c.transcript_language, c.transcript_error
				FROM jobs j, calls c WHERE j.id = $1 AND c.id = 1`, job.ID).Scan(&status, &transcript, &gotSource, &lang, &callErr); err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Errorf("job %s, want %s", status, tt.status)
			}
			if tt.want != "" && (transcript == nil || !strings.Contains(*transcript, tt.want)) {
				t.Errorf("transcript %q, want it to hold %q", deref(transcript), tt.want)
			}
			if tt.want == "cars" && (gotSource == nil || *gotSource != "local" || lang == nil || *lang != "en-US") {
				t.Errorf("source %v language %v, want local en-US", gotSource, lang)
			}
			if tt.wantErr != "" && (callErr == nil || !strings.HasPrefix(*callErr, tt.wantErr)) {
				t.Errorf("transcript_error %v, want %q", callErr, tt.wantErr)
			}
			vec := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'vectorize' AND subject = 'call:1'")
			if (vec == 1) != tt.vectorize {
				t.Errorf("%d vectorize jobs, want re-index %v", vec, tt.vectorize)
			}
			invoked := 0
			for _, c := range h.Invoked.Calls() {
				if c.Function == "vectorize" {
					invoked++
				}
			}
			if (invoked == 1) != tt.vectorize {
				t.Errorf("%d vectorize invocations", invoked)
			}
		})
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Chatwoot refuses the transcript note (429 with Retry-After): the
// transcript is kept, the job waits at least as long as asked, and the
// retry posts only the note, without downloading or transcribing again.
func TestTranscriptNoteRetriedAlone(t *testing.T) {
	needTools(t)
	ogg, _, err := speech.LocalVoice{}.Synthesize(context.Background(), "Where is the nearest beach", "en", speech.OggOpus)
	if err != nil {
		t.Fatal(err)
	}
	var downloads atomic.Int32
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Header().Set("Content-Type", "audio/ogg")
		w.Write(ogg)
	}))
	defer files.Close()
	cw := chatwoottest.New(t)
	cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 4, ContactID: 57, Status: "pending"})
	cw.Fail(chatwoottest.Failure{Method: "POST", Path: "messages", Status: http.StatusTooManyRequests, RetryAfter: "60"})
	h := fntest.Start(t, Name, New, map[string]string{"VOICE_DOWNLOAD_HOSTS": strings.TrimPrefix(files.URL, "http://"),
		"CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_ACCOUNT_ID": "1"})
	ctx := context.Background()
	att, _ := json.Marshal([]map[string]any{{"id": 1, "file_type": "audio", "extension": "ogg", "data_url": files.URL + "/voice.ogg"}})
	if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, attachments, created_at)
		VALUES (1, 60001, 1287, 'incoming', 'contact', $1, now())`, att); err != nil {
		t.Fatal(err)
	}
	var job jobs.Job
	if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) (err error) {
		job, err = jobs.Enqueue(ctx, tx, voice.TranscribeJob, voice.MessageSubject(1, 60001), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
	if code, out := h.Post(t, body, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("first attempt: %d %s, want 503", code, out)
	}
	var wait time.Duration
	if err := h.DB.Pool.QueryRow(ctx, "SELECT next_attempt_at - now() FROM jobs WHERE id = $1 AND status = 'retrying'", job.ID).Scan(&wait); err != nil {
		t.Fatal(err)
	}
	if wait < 59*time.Second {
		t.Errorf("retry in %s, want at least Chatwoot's Retry-After (60s)", wait)
	}
	if n := dbtest.Count(t, h.DB.Pool, "messages", "id = 60001 AND transcript LIKE '%beach%' AND transcript_noted_at IS NULL"); n != 1 {
		t.Fatalf("transcript not kept after the failed note")
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer'"); n != 0 {
		t.Fatalf("answer queued before the note")
	}
	if code, out := h.Post(t, body, nil); code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, out)
	}
	notes := 0
	for _, m := range cw.Posted() {
		if m.Private && strings.HasPrefix(m.Content, voice.NotePrefix) {
			notes++
		}
	}
	if notes != 1 || downloads.Load() != 1 {
		t.Errorf("%d notes posted, %d downloads; want 1 and 1", notes, downloads.Load())
	}
	if n := dbtest.Count(t, h.DB.Pool, "messages", "id = 60001 AND transcript_noted_at IS NOT NULL"); n != 1 {
		t.Errorf("note not marked posted")
	}
	if n := dbtest.Count(t, h.DB.Pool, "jobs", "kind = 'answer' AND status = 'pending'"); n != 1 {
		t.Errorf("%d answer jobs, want 1", n)
	}
}
