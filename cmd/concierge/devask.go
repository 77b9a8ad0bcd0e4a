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
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/seed"
)

var seedSetting = config.Register(config.Setting{Name: "SEED_FIXTURES", Default: "true",
	Help: "load the contract fixtures (Jordan's and Sam's stays) into an empty local database at start", Used: "make run"})

// seedFirstRun loads the contract fixtures into a database without guests,
// so the local assistant has stays, a listing and calls to answer from,
// and asks vectorize to index the knowledge folder.
func seedFirstRun(ctx context.Context, pool *pgxpool.Pool, inv jobs.Invoker, log zerolog.Logger) error {
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM guests").Scan(&n); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := seed.Load(ctx, pool, inv, append(append([]string{}, seed.Jordan...), seed.Sam...)...); err != nil {
		return err
	}
	if err := inv.Async(ctx, "vectorize", nil, http.Header{}); err != nil {
		log.Warn().Err(err).Msg("knowledge not indexed yet; the cron does it within 5 minutes")
	}
	log.Info().Msg("loaded the contract fixtures: Jordan Avery's and Sam Rivera's stays")
	return nil
}

// devAsk serves POST /dev/ask?as=jordan|sam: it sends the question as a
// signed Chatwoot agent-bot event through /function/llm-query, waits for
// the reply to be decided and posted, and returns it. Each question opens
// a new conversation, so an earlier hand-off does not silence the next.
type devAsk struct {
	gw         http.Handler
	db         *pgxpool.Pool
	secretsDir string
	seq        atomic.Int64
}

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
	id := time.Now().UnixMilli()*100 + d.seq.Add(1)%100
	body, err := askEvent(who, id, string(q))
	if err != nil {
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
			Mode      string          `json:"mode"`
			Status    string          `json:"status"`
			Content   string          `json:"content"`
			Reason    *string         `json:"handoff_reason"`
			Citations json.RawMessage `json:"citations"`
		}
		err := d.db.QueryRow(ctx, `SELECT mode, status, content, handoff_reason, citations FROM replies
			WHERE inbound_message_id = $1 AND status <> 'pending'`, id).Scan(&out.Mode, &out.Status, &out.Content, &out.Reason, &out.Citations)
		if err == nil {
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

func (d *devAsk) secret() string {
	if b, err := os.ReadFile(filepath.Join(d.secretsDir, "chatwoot-webhook-secret")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return fixtures.ChatwootSecret
}

// askEvent is the contract's incoming-message fixture with the question,
// a new message and conversation id, and the guest's contact.
func askEvent(who string, id int64, q string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read("chatwoot/message_created.incoming.json"), &m); err != nil {
		return nil, err
	}
	m["id"], m["content"], m["created_at"] = id, q, time.Now().UTC().Format(time.RFC3339Nano)
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
		conv["contact_inbox"].(map[string]any)["contact_id"] = 58
	default:
		return nil, fmt.Errorf("as=%s: ask as jordan or sam", who)
	}
	return json.Marshal(m)
}
