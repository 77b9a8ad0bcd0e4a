package main

import (
	"bytes"
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
	Help: "load the sample data into an empty local database at start: the contract fixtures with four guests' stays dated from today (Casey arrives today, Jordan is mid-stay, Sam arrives in a week, Dana left three days ago) and, when replies stay local (no CHATWOOT_URL), a week of their conversations with the assistant", Used: "make run"})

// seedConversationsSetting lets tests that need the stays alone skip the
// week of conversations (seconds each start).
var seedConversationsSetting = config.Register(config.Setting{Name: "SEED_CONVERSATIONS", Default: "true",
	Help: "with SEED_FIXTURES, also play a week of the sample guests' conversations through the assistant on the first start (about 5–9 s), so the console's overview is not empty; false: the stays alone", Used: "make run"})

// seedStays loads the sample stays into a database without guests and
// reports whether it did.
func seedStays(ctx context.Context, pool *pgxpool.Pool, inv jobs.Invoker, now time.Time) (bool, error) {
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM guests").Scan(&n); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	// Dated relative to today, so that the disclosure rules show.
	if err := seed.LoadLive(ctx, pool, inv, now, seed.Sample()...); err != nil {
		return false, err
	}
	return true, nil
}

func stayList() string {
	var parts []string
	for _, g := range seed.Guests {
		if g.Reservation != "" {
			parts = append(parts, g.Name+" "+g.Stay)
		}
	}
	return strings.Join(parts, ", ")
}

// seedSample is make run's first start on an empty database: the sample
// stays (seedStays), the knowledge indexed, then — when replies stay in
// the local outbox — the sample conversations of seed.Days played through
// llm-query, stt, tts and chatwoot-reply as they run, so the console's
// overview shows a week of the assistant's work. It returns once they are
// answered and dated (a few seconds: BOT_BURST_WINDOW, then the answers),
// before the runner listens, so no console view rolls up a day before its
// conversations are in it. A conversation that fails is logged, not fatal.
func seedSample(ctx context.Context, ask *devAsk, inv jobs.Invoker, env config.LookupFunc, log zerolog.Logger, now time.Time) error {
	seeded, err := seedStays(ctx, ask.db, inv, now)
	if err != nil || !seeded {
		return err
	}
	log.Info().Msg("loaded the sample stays: " + stayList())
	// The knowledge folder, indexed before anyone asks.
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/function/vectorize", nil)
	rec := httptest.NewRecorder()
	ask.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		log.Warn().Int("status", rec.Code).Msg("knowledge not indexed yet; the cron does it within 5 minutes")
	}
	if u, _ := env(chatwoot.SettingURL.Name); strings.TrimSpace(u) != "" {
		log.Info().Msg("sample conversations not seeded: replies would reach the Chatwoot at CHATWOOT_URL")
		return nil
	}
	if v, _ := env(seedConversationsSetting.Name); strings.EqualFold(strings.TrimSpace(v), "false") {
		return nil
	}
	// The stays' own documents (listing, reservation), queued by the seed.
	deadline := time.Now().Add(time.Minute)
	for {
		var active int
		if err := ask.db.QueryRow(ctx, "SELECT count(*) FROM jobs WHERE kind = $1 AND status IN "+jobs.ActiveStatuses,
			jobs.Vectorize.Name).Scan(&active); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if active == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	start := time.Now()
	got, err := seed.Conversations(ctx, seed.Talk{DB: ask.db, Deliver: ask.deliver, Speak: speak}, start)
	ev := log.Info()
	if err != nil || got.Unfinished > 0 || len(got.Left) > 0 {
		ev = log.Warn().Err(err).Int("unfinished", got.Unfinished).Strs("left_out", got.Left)
	}
	ev.Int("conversations", got.Conversations).Int("messages", got.Messages).Int("replies", got.Replies).
		Dur("took", time.Since(start)).Msg("seeded a week of sample conversations (the console's overview)")
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// speak says text with the local engines, as a guest's voice message.
func speak(ctx context.Context, text string) ([]byte, error) {
	ogg, _, err := speech.LocalVoice{}.Synthesize(ctx, text, "en", speech.OggOpus)
	return ogg, err
}

// devAsk serves POST /dev/ask?as=GUEST[&voice=1] (GUEST a seed.Guests
// key: jordan, the default, casey, sam, dana or visitor): it sends the
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
	g, ok := seed.FindGuest(who)
	if !ok {
		http.Error(w, fmt.Sprintf("as=%s: ask as one of %s", who, seed.GuestKeys()), http.StatusBadRequest)
		return
	}
	voice := r.URL.Query().Get("voice") != ""
	id := time.Now().UnixMilli()*100 + d.seq.Add(1)%100
	var body []byte
	if voice {
		ogg, err := speak(r.Context(), string(q))
		if err != nil {
			http.Error(w, "speaking the question needs the local engines (flite, ffmpeg): "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		d.keep(id, ogg)
		body, err = seed.VoiceEvent(g, id, id, time.Now(), fmt.Sprintf("%s/dev/audio/%d.ogg", d.base, id))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	} else if body, err = seed.MessageEvent(g, id, id, time.Now(), string(q)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := d.deliver(r.Context(), body); err != nil {
		var de *deliveryError
		if errors.As(err, &de) {
			http.Error(w, err.Error(), de.status)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
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

// deliveryError is llm-query's refusal of an event.
type deliveryError struct {
	status int
	body   string
}

func (e *deliveryError) Error() string { return "llm-query answered " + e.body }

// deliver sends body to llm-query as Chatwoot's agent bot does: signed
// with the webhook secret, through the runner's gateway.
func (d *devAsk) deliver(ctx context.Context, body []byte) error {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/function/llm-query", bytes.NewReader(body))
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Chatwoot-Timestamp", fmt.Sprint(ts))
	req.Header.Set("X-Chatwoot-Signature", chatwoot.Sign(d.secret(), ts, body))
	rec := httptest.NewRecorder()
	d.gw.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return &deliveryError{status: rec.Code, body: strings.TrimSpace(rec.Body.String())}
	}
	return nil
}

// askEvent is the contract's incoming-message fixture with the question,
// as a new message of the sample guest who in a conversation of its own
// (id is both).
func askEvent(who string, id int64, q string) ([]byte, error) {
	g, ok := seed.FindGuest(who)
	if !ok {
		return nil, fmt.Errorf("as=%s: ask as one of %s", who, seed.GuestKeys())
	}
	return seed.MessageEvent(g, id, id, time.Now(), q)
}
