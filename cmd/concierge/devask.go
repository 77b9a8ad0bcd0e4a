package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/seed"
	"github.com/harborstays/concierge/lib/speech"
)

var seedSetting = config.Register(config.Setting{Name: "SEED_FIXTURES", Default: "true",
	Help: "load the sample data into an empty local database at start: the contract fixtures, with Jordan's stay under way and Sam's a week ahead (dated from today)", Used: "make run"})

// seedFirstRun loads the contract fixtures into a database without guests,
// so the local assistant has stays, a listing and calls to answer from,
// and asks vectorize to index the knowledge folder. The stays are placed
// relative to now (seed.LoadLive).
func seedFirstRun(ctx context.Context, pool *pgxpool.Pool, inv jobs.Invoker, log zerolog.Logger, now time.Time) error {
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM guests").Scan(&n); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return nil
	}
	// Dated relative to today, so that the disclosure rules show: Jordan is
	// in the middle of a stay, Sam arrives next week.
	if err := seed.LoadLive(ctx, pool, inv, now, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		return err
	}
	if err := inv.Async(ctx, "vectorize", nil, http.Header{}); err != nil {
		log.Warn().Err(err).Msg("knowledge not indexed yet; the cron does it within 5 minutes")
	}
	log.Info().Msg("loaded the sample data: Jordan Avery checked in yesterday, Sam Rivera arrives in a week")
	return nil
}

// devAsk serves POST /dev/ask?as=jordan|sam[&voice=1]: it sends the
// question as a signed Chatwoot agent-bot event through
// /function/llm-query, waits for the reply to be decided and posted, and
// returns it. Each question opens a new conversation, so an earlier
// hand-off does not silence the next.
//
// With voice=1 the question is spoken first (the local engines) and sent
// as a voice message whose data_url is GET /dev/audio/ID on the runner:
// stt transcribes it, the answer is spoken by tts, and the reply links its
// clip at GET /dev/clip/ID.
type devAsk struct {
	gw         http.Handler
	db         *pgxpool.Pool
	secretsDir string
	// base is the runner's URL, for the voice messages' data_url.
	base  string
	seq   atomic.Int64
	mu    sync.Mutex
	audio map[int64][]byte // spoken questions, the newest few
	order []int64
}

// keptQuestions bounds the spoken questions held for stt to download.
const keptQuestions = 16

func (d *devAsk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil || strings.TrimSpace(string(q)) == "" {
		http.Error(w, "POST the question as the body", http.StatusBadRequest)
		return
	}
	who := r.URL.Query().Get("as")
	if who == "" {
		who = "jordan"
	}
	voice := r.URL.Query().Get("voice") != ""
	id := time.Now().UnixMilli()*100 + d.seq.Add(1)%100
	var body []byte
	if voice {
		ogg, _, err := speech.LocalVoice{}.Synthesize(r.Context(), string(q), "en", speech.OggOpus)
		if err != nil {
			http.Error(w, "speaking the question needs the local engines (flite, ffmpeg): "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		d.keep(id, ogg)
		body, err = askVoiceEvent(who, id, fmt.Sprintf("%s/dev/audio/%d.ogg", d.base, id))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	} else if body, err = askEvent(who, id, string(q)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, "/function/llm-query", strings.NewReader(string(body)))
	ts := time.Now().Unix()
	req.Header.Set("X-Chatwoot-Timestamp", fmt.Sprint(ts))
	req.Header.Set("X-Chatwoot-Signature", chatwoot.Sign(d.secret(), ts, body))
	rec := httptest.NewRecorder()
	d.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		http.Error(w, "llm-query answered "+rec.Body.String(), rec.Code)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	for {
		var out struct {
			Transcript *string         `json:"transcript,omitempty"`
			Mode       string          `json:"mode"`
			Status     string          `json:"status"`
			Content    string          `json:"content"`
			Reason     *string         `json:"handoff_reason"`
			Citations  json.RawMessage `json:"citations"`
			Audio      string          `json:"audio,omitempty"`
			VoiceError *string         `json:"voice_error,omitempty"`
		}
		var clip *string
		err := d.db.QueryRow(ctx, `SELECT r.mode, r.status, r.content, r.handoff_reason, r.citations, r.voice_clip_id::text, r.voice_error,
				(SELECT m.transcript FROM messages m WHERE m.id = $1)
			FROM replies r WHERE r.inbound_message_id = $1 AND r.status NOT IN ('pending', $2)`, id, replies.StatusAwaitingAudio).
			Scan(&out.Mode, &out.Status, &out.Content, &out.Reason, &out.Citations, &clip, &out.VoiceError, &out.Transcript)
		if err == nil {
			if clip != nil {
				out.Audio = d.base + "/dev/clip/" + *clip
			}
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(out)
			return
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		select {
		case <-ctx.Done():
			http.Error(w, "no reply within 60 s; see the runner's log and GET /outbox", http.StatusGatewayTimeout)
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *devAsk) keep(id int64, ogg []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.audio == nil {
		d.audio = map[int64][]byte{}
	}
	d.audio[id] = ogg
	d.order = append(d.order, id)
	if len(d.order) > keptQuestions {
		delete(d.audio, d.order[0])
		d.order = d.order[1:]
	}
}

// serveAudio is GET /dev/audio/ID.ogg: a spoken question, as Chatwoot's
// storage serves a voice message.
func (d *devAsk) serveAudio(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(strings.TrimSuffix(r.PathValue("name"), ".ogg"), 10, 64)
	d.mu.Lock()
	ogg, ok := d.audio[id]
	d.mu.Unlock()
	if err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "audio/ogg")
	_, _ = w.Write(ogg)
}

// serveClip is GET /dev/clip/ID: a spoken reply (voice_clips), until purge
// deletes it.
func (d *devAsk) serveClip(w http.ResponseWriter, r *http.Request) {
	var ct string
	var b []byte
	err := d.db.QueryRow(r.Context(), "SELECT content_type, bytes FROM voice_clips WHERE id::text = $1 AND kind = 'reply'",
		r.PathValue("id")).Scan(&ct, &b)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

func (d *devAsk) secret() string {
	if b, err := os.ReadFile(filepath.Join(d.secretsDir, "chatwoot-webhook-secret")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return fixtures.ChatwootSecret
}

// askEvent is the contract's incoming-message fixture with the question,
// a new message and conversation id, and the guest's contact.
func askEvent(who string, id int64, q string) ([]byte, error) {
	return event("chatwoot/message_created.incoming.json", who, id, func(m map[string]any) { m["content"] = q })
}

// askVoiceEvent is the contract's voice-message fixture with its audio at
// dataURL.
func askVoiceEvent(who string, id int64, dataURL string) ([]byte, error) {
	return event("chatwoot/message_created.audio.json", who, id, func(m map[string]any) {
		for _, a := range m["attachments"].([]any) {
			a.(map[string]any)["data_url"] = dataURL
			a.(map[string]any)["message_id"] = id
		}
	})
}

// event is a message_created fixture as a new message of who in a new
// conversation, changed by set.
func event(fixture, who string, id int64, set func(map[string]any)) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read(fixture), &m); err != nil {
		return nil, err
	}
	m["id"], m["created_at"] = id, time.Now().UTC().Format(time.RFC3339Nano)
	set(m)
	conv := m["conversation"].(map[string]any)
	conv["id"] = id
	conv["messages"] = []any{}
	switch who {
	case "jordan":
	case "sam":
		s := map[string]any{"id": 58, "name": "Sam Rivera", "email": "sam.rivera@example.com", "phone_number": "+15555550177",
			"identifier": "66a1f0c2e4b0a1b2c3d4e5a7", "custom_attributes": map[string]any{}, "type": "contact"}
		m["sender"] = s
		conv["meta"].(map[string]any)["sender"] = s
		// The channel's own sender is what proves a WhatsApp guest.
		conv["contact_inbox"].(map[string]any)["contact_id"] = 58
		conv["contact_inbox"].(map[string]any)["source_id"] = "15555550177"
	default:
		return nil, fmt.Errorf("as=%s: ask as jordan or sam", who)
	}
	return json.Marshal(m)
}
