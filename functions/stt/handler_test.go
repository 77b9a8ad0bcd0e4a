package function

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/aircall/aircalltest"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/voice"

	"github.com/harborstays/concierge/lib/testenv"
)

func TestMain(m *testing.M) { os.Exit(fntest.Main(m)) }

// The speech tools are in the speech image and on CI, not in the
// template's build stage: skip there.
func needTools(t *testing.T) {
	testenv.NeedTools(t, "apt-get install ffmpeg flite espeak-ng pocketsphinx pocketsphinx-en-us", "flite", "ffmpeg", "ffprobe", "pocketsphinx_continuous")
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
	h := faastest.Start(t, Name, New, map[string]string{"VOICE_DOWNLOAD_HOSTS": strings.TrimPrefix(files.URL, "http://"), "CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_ACCOUNT_ID": "1"})

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
				job, err = jobs.Enqueue(context.Background(), tx, jobs.Transcribe, jobs.MessageSubject(1, msg), "")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			before := len(h.Invoked.Calls())
			notes := len(cw.Posted())
			body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
			if code, out := h.PostJob(t, body, nil); code != 200 {
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
// recording (the signed link stored from the webhook, or once that expired,
// a freshly signed one from the call as Aircall's API returns it; the
// call's asset URL is a web page behind a browser login, never audio),
// transcribes it and re-indexes the call.
func TestTranscribeCallRecording(t *testing.T) {
	needTools(t)
	mp3, _, err := speech.LocalVoice{}.Synthesize(context.Background(), "Can we park two cars at the house", "en", speech.MP3)
	if err != nil {
		t.Fatal(err)
	}
	const expired = -2 * time.Hour // signed two hours ago: past Aircall's hour
	tests := []struct {
		name       string
		signed     time.Duration // when the stored link was signed, from now
		api        string        // "", "credentials", "wrong credentials"
		known      bool          // Aircall knows the call
		setup      func(*aircalltest.Server)
		transcript string // stored before the job runs (Aircall's)
		delay      time.Duration
		status     string   // job status after
		want       string   // a word the transcript must hold
		wantErr    []string // calls.transcript_error holds these
		lastErr    string   // jobs.last_error holds this
		retryAtLo  time.Duration
		vectorize  bool
		apiCalls   int
	}{
		{name: "signed link", api: "credentials", known: true, status: "done", want: "cars", vectorize: true},
		{name: "expired link, API credentials", signed: expired, api: "credentials", known: true, status: "done", want: "cars",
			vectorize: true, apiCalls: 1},
		{name: "expired link, no credentials", signed: expired, known: true, status: "failed",
			wantErr: []string{"invalid: the call recording's link expired; set AIRCALL_API_ID and AIRCALL_API_TOKEN"}},
		{name: "expired link, credentials refused", signed: expired, api: "wrong credentials", known: true, status: "failed",
			wantErr: []string{"failed: ", "HTTP 401", "AIRCALL_API_ID", "AIRCALL_API_TOKEN"}, apiCalls: 1},
		{name: "expired link, call unknown to Aircall", signed: expired, api: "credentials", status: "failed",
			wantErr: []string{"failed: Aircall has no call 1"}, apiCalls: 1},
		{name: "expired link, rate limited", signed: expired, api: "credentials", known: true, status: "retrying",
			setup: func(f *aircalltest.Server) {
				// The company's budget is spent (another integration), and
				// resets in ten minutes: longer than the job's own back-off.
				f.Limit, f.Window = 1, 10*time.Minute
				if err := aircallapi.New(f.URL, f.ID, f.Token, nil, nil).Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
			},
			lastErr: "rate limit", retryAtLo: 9 * time.Minute, apiCalls: 2},
		{name: "Aircall's transcript came meanwhile", api: "credentials", known: true, transcript: "Agent: Hello", status: "done", want: "Agent: Hello"},
		{name: "not due yet", known: true, delay: time.Hour, status: "pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := aircalltest.New(t)
			if tt.known {
				fake.AddCall(aircalltest.Call{ID: 1, Audio: mp3})
			}
			if tt.setup != nil {
				tt.setup(fake)
			}
			env := map[string]string{"AIRCALL_API_URL": fake.URL}
			switch tt.api {
			case "credentials":
				env["AIRCALL_API_ID"], env["AIRCALL_API_TOKEN"] = fake.ID, fake.Token
			case "wrong credentials":
				env["AIRCALL_API_ID"], env["AIRCALL_API_TOKEN"] = fake.ID, "revoked-token"
			}
			h := faastest.Start(t, Name, New, env)
			ctx := context.Background()
			var source *string
			if tt.transcript != "" {
				s := "aircall"
				source = &s
			}
			if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO calls (id, status, phone_e164, recording_url, asset_url, transcript, transcript_source,
					last_event, event_at, status_rank) VALUES (1, 'done', '+15555550142', $1, $2, $3, $4, 'call.ended', now(), 2)`,
				fake.SignedLink(1, time.Now().Add(tt.signed)), "https://assets.aircall.io/calls/1/recording", nullable(tt.transcript), source); err != nil {
				t.Fatal(err)
			}
			var job jobs.Job
			if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) (err error) {
				job, err = jobs.EnqueueAfter(ctx, tx, jobs.TranscribeCall, jobs.CallSubject(1), "", tt.delay)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if tt.delay == 0 {
				// EnqueueAfter's time is the database's; let it pass.
				h.DB.Pool.Exec(ctx, "UPDATE jobs SET not_before = now() WHERE id = $1", job.ID)
			}
			body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
			h.PostJob(t, body, nil)
			var status string
			var lastErr, transcript, gotSource, lang, callErr *string
			var retryIn time.Duration
			if err := h.DB.Pool.QueryRow(ctx, `SELECT j.status, j.last_error, j.next_attempt_at - now(), c.transcript, c.transcript_source,
					c.transcript_language, c.transcript_error
				FROM jobs j, calls c WHERE j.id = $1 AND c.id = 1`, job.ID).Scan(&status, &lastErr, &retryIn, &transcript, &gotSource, &lang, &callErr); err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Errorf("job %s (%s), want %s", status, deref(lastErr), tt.status)
			}
			if tt.want != "" && (transcript == nil || !strings.Contains(*transcript, tt.want)) {
				t.Errorf("transcript %q, want it to hold %q", deref(transcript), tt.want)
			}
			if tt.want == "cars" && (gotSource == nil || *gotSource != "local" || lang == nil || *lang != "en-US") {
				t.Errorf("source %v language %v, want local en-US", gotSource, lang)
			}
			for _, want := range tt.wantErr {
				if callErr == nil || !strings.Contains(*callErr, want) {
					t.Errorf("transcript_error %q, want it to hold %q", deref(callErr), want)
				}
			}
			if len(tt.wantErr) == 0 && callErr != nil {
				t.Errorf("transcript_error %q, want none", *callErr)
			}
			if tt.lastErr != "" && (lastErr == nil || !strings.Contains(*lastErr, tt.lastErr)) {
				t.Errorf("last_error %q, want it to hold %q", deref(lastErr), tt.lastErr)
			}
			if tt.retryAtLo > 0 && retryIn < tt.retryAtLo {
				t.Errorf("retry in %s, want at least %s (the rate limit's reset)", retryIn, tt.retryAtLo)
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
			if n := fake.APIRequests(); n != tt.apiCalls {
				t.Errorf("%d Aircall API requests, want %d: %+v", n, tt.apiCalls, fake.Requests())
			}
			for _, r := range fake.Requests() {
				if !strings.HasPrefix(r.Path, "/v1/") && r.Auth != "none" {
					t.Errorf("credentials sent to the signed link: %+v", r)
				}
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
	h := faastest.Start(t, Name, New, map[string]string{"VOICE_DOWNLOAD_HOSTS": strings.TrimPrefix(files.URL, "http://"),
		"CHATWOOT_URL": cw.URL, "CHATWOOT_API_TOKEN": cw.BotToken, "CHATWOOT_ACCOUNT_ID": "1"})
	ctx := context.Background()
	att, _ := json.Marshal([]map[string]any{{"id": 1, "file_type": "audio", "extension": "ogg", "data_url": files.URL + "/voice.ogg"}})
	if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, attachments, created_at)
		VALUES (1, 60001, 1287, 'incoming', 'contact', $1, now())`, att); err != nil {
		t.Fatal(err)
	}
	var job jobs.Job
	if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) (err error) {
		job, err = jobs.Enqueue(ctx, tx, jobs.Transcribe, jobs.MessageSubject(1, 60001), "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
	if code, out := h.PostJob(t, body, nil); code != http.StatusServiceUnavailable {
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
	if code, out := h.PostJob(t, body, nil); code != http.StatusOK {
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
