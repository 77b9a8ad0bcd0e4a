// Package retention deletes personal data once it is no longer needed, by
// kind of data, on a schedule (the purge function). Every kind is deleted
// in batches, each batch one short statement that takes its rows with
// FOR UPDATE SKIP LOCKED, so a pass never waits on a row a hook or a job
// holds and never holds a lock for longer than one batch. The retrieval
// index follows (documents of deleted calls go from the chunks table or
// Qdrant), voice in Chatwoot expires with VOICE_TTL, and guests Guesty
// deleted are erased (lib/guestdata).
package retention

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/guestdata"
	"github.com/harborstays/concierge/lib/retrieval"
	"github.com/harborstays/concierge/lib/voice"
)

// Settings: how long each kind of data is kept. One place, with the
// defaults docs/personal-data.md explains.
var (
	SettingEvents = config.Register(config.Setting{Name: "RETENTION_EVENTS", Default: "720h",
		Help: "raw webhook deliveries are deleted this long after they were stored (or, for one stored unparsed, after it was replayed); unparsed ones not yet replayed are kept", Used: "purge"})
	SettingJobs = config.Register(config.Setting{Name: "RETENTION_JOBS", Default: "720h",
		Help: "finished (done) jobs are deleted this long after they finished", Used: "purge"})
	SettingFailedJobs = config.Register(config.Setting{Name: "RETENTION_FAILED_JOBS", Default: "2160h",
		Help: "failed jobs (concierge replay's dead letters) are deleted this long after they failed", Used: "purge"})
	SettingMessages = config.Register(config.Setting{Name: "RETENTION_MESSAGES", Default: "8760h",
		Help: "Chatwoot messages (with voice transcripts), identity checks and conversations are deleted this long after they were written and after the linked guest's last check-out", Used: "purge"})
	SettingCalls = config.Register(config.Setting{Name: "RETENTION_CALLS", Default: "8760h",
		Help: "calls (transcripts, summaries, recording links, comments) and their index documents are deleted this long after the call's last event and after the last check-out of a guest with that phone", Used: "purge"})
	SettingReplies = config.Register(config.Setting{Name: "RETENTION_REPLIES", Default: "9504h",
		Help: "replies and their provenance are folded into daily counts (reply_stats) and deleted this long after they were written (13 months: a year of reports to compare with)", Used: "purge"})
	SettingBatch = config.Register(config.Setting{Name: "RETENTION_BATCH", Default: "1000",
		Help: "rows deleted per statement (the rows one batch locks)", Used: "purge"})
	SettingBudget = config.Register(config.Setting{Name: "RETENTION_BUDGET", Default: "45s",
		Help: "time one retention pass may take (purge's exec_timeout is 60 s); what is left waits for the next pass", Used: "purge"})
)

// Policy is how long each kind is kept and how a pass works.
type Policy struct {
	Events, Jobs, FailedJobs, Messages, Calls, Replies, Voice time.Duration
	// Batch rows per statement; Budget bounds one pass.
	Batch  int
	Budget time.Duration
}

// PolicyFrom reads the settings; malformed ones are recorded in cfg.
func PolicyFrom(cfg *config.Config) Policy {
	p := Policy{
		Events: cfg.Duration(SettingEvents), Jobs: cfg.Duration(SettingJobs), FailedJobs: cfg.Duration(SettingFailedJobs),
		Messages: cfg.Duration(SettingMessages), Calls: cfg.Duration(SettingCalls), Replies: cfg.Duration(SettingReplies),
		Voice: cfg.Duration(voice.TTL), Batch: cfg.Int(SettingBatch), Budget: cfg.Duration(SettingBudget),
	}
	for _, s := range []struct {
		set *config.Setting
		d   time.Duration
	}{{SettingEvents, p.Events}, {SettingJobs, p.Jobs}, {SettingFailedJobs, p.FailedJobs}, {SettingMessages, p.Messages},
		{SettingCalls, p.Calls}, {SettingReplies, p.Replies}, {voice.TTL, p.Voice}, {SettingBudget, p.Budget}} {
		if s.d <= 0 {
			cfg.Reject(s.set, "must be a positive duration")
		}
	}
	if p.Batch < 1 || p.Batch > 50000 {
		cfg.Reject(SettingBatch, "must be between 1 and 50000")
	}
	return p
}

// Chatwoot deletes a message in Chatwoot (Messages#destroy: the content
// becomes "This message was deleted" and the attachments are destroyed).
type Chatwoot interface {
	DeleteMessage(ctx context.Context, accountID, conversationID, messageID int64) error
}

// Purger runs retention passes.
type Purger struct {
	DB     *pgxpool.Pool
	Index  retrieval.Index
	Policy Policy
	// Chatwoot is nil when CHATWOOT_URL is not set: voice there is not
	// tracked (the local outbox holds none).
	Chatwoot Chatwoot
	// Key hashes the erasure log; nil leaves guests Guesty deleted for a
	// pass that has it (counted as waiting).
	Key *guestdata.Key
}

// Kinds of data a pass removes, the keys of Result.Removed.
const (
	KindEvents         = "webhook_events"
	KindJobs           = "jobs_done"
	KindFailedJobs     = "jobs_failed"
	KindMessages       = "messages"
	KindIdentityChecks = "identity_checks"
	KindConversations  = "conversations"
	KindReplies        = "replies"
	KindCalls          = "calls"
	KindVoiceClips     = "voice_clips"
	KindDocuments      = "documents"
	KindChatwootVoice  = "chatwoot_voice"
	KindErasedGuests   = "erased_guests"
)

// Result is what one pass did: the answer's figures.
type Result struct {
	// The voice clips, as purge answered before retention grew around it.
	voice.PurgeResult
	Removed map[string]int64 `json:"removed"`
	// Aggregated is the number of reply_stats rows written or added to.
	Aggregated int64 `json:"aggregated_reply_days"`
	// ChatwootVoice: messages whose voice is gone from Chatwoot (deleted
	// now, or found deleted), refused (a token Chatwoot does not allow to
	// delete, e.g. the agent bot's) and left for the next pass.
	ChatwootVoice ChatwootVoiceResult `json:"chatwoot_voice"`
	// GuestsWaiting: guests Guesty deleted not erased for lack of
	// ERASURE_LOG_KEY.
	GuestsWaiting int64 `json:"guests_waiting_for_key,omitempty"`
	Batches       int   `json:"batches"`
	// LongestBatch is the longest a batch held its row locks.
	LongestBatch time.Duration `json:"-"`
	LongestMS    float64       `json:"longest_batch_ms"`
	Elapsed      time.Duration `json:"-"`
	ElapsedMS    float64       `json:"elapsed_ms"`
	// Complete is false when the budget ran out with work left.
	Complete bool `json:"complete"`
}

// ChatwootVoiceResult counts the voice removal from Chatwoot.
type ChatwootVoiceResult struct {
	Removed int64  `json:"removed"`
	Gone    int64  `json:"already_gone"`
	Refused int64  `json:"refused"`
	Left    int64  `json:"left"`
	Reason  string `json:"reason,omitempty"`
}

// errBudget stops a pass whose budget ran out; what is left waits.
var errBudget = errors.New("retention budget spent")

// pass carries one run's clock, deadline and figures.
type pass struct {
	p        *Purger
	now      time.Time
	deadline time.Time
	res      *Result
}

// Run makes one pass at now (the function's clock, the one stt and tts set
// clip expiry with). It stops at the budget with Complete false; it
// returns an error only when the database or the index failed, with the
// figures of what was done before.
func (p *Purger) Run(ctx context.Context, now time.Time) (Result, error) {
	start := time.Now()
	res := Result{Removed: map[string]int64{}, Complete: true}
	ps := &pass{p: p, now: now, deadline: start.Add(p.Policy.Budget), res: &res}
	steps := []func(context.Context) error{
		ps.voiceClips, ps.chatwootVoice, ps.erasures, ps.events, ps.jobs,
		ps.replies, ps.messages, ps.calls, ps.documents,
	}
	var err error
	for _, step := range steps {
		if err = step(ctx); err != nil {
			break
		}
	}
	if errors.Is(err, errBudget) {
		res.Complete, err = false, nil
	}
	if err != nil {
		res.Complete = false
	}
	res.Elapsed = time.Since(start)
	res.ElapsedMS = ms(res.Elapsed)
	res.LongestMS = ms(res.LongestBatch)
	if rerr := p.record(ctx, start, res, err); rerr != nil && err == nil {
		err = rerr
	}
	return res, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sweep runs one batched statement until it removes fewer rows than a
// batch. q takes the batch size as $1, the cutoff as $2 and the age
// column's value where the previous batch stopped as $3, walks the rows in
// that column's order from there, and returns the rows it removed and the
// age of the last one. Starting where the last batch stopped keeps each
// batch from stepping again over the index entries of the rows deleted
// before it (dead until vacuum), which made a pass quadratic.
func (ps *pass) sweep(ctx context.Context, kind, q string, cutoff time.Time) error {
	from := time.Time{}
	for {
		if time.Now().After(ps.deadline) {
			return errBudget
		}
		t0 := time.Now()
		var n int64
		var last *time.Time
		if err := ps.p.DB.QueryRow(ctx, q, ps.p.Policy.Batch, cutoff, from).Scan(&n, &last); err != nil {
			return fmt.Errorf("retention %s: %w", kind, err)
		}
		ps.batch(time.Since(t0))
		ps.res.Removed[kind] += n
		if n < int64(ps.p.Policy.Batch) || last == nil {
			return nil
		}
		from = *last
	}
}

func (ps *pass) batch(d time.Duration) {
	ps.res.Batches++
	if d > ps.res.LongestBatch {
		ps.res.LongestBatch = d
	}
}

func (ps *pass) cutoff(d time.Duration) time.Time { return ps.now.Add(-d) }

// voiceClips deletes the clips whose VOICE_TTL passed (expires_at was set
// from it when they were stored).
func (ps *pass) voiceClips(ctx context.Context) error {
	for {
		if time.Now().After(ps.deadline) {
			return errBudget
		}
		t0 := time.Now()
		var r voice.PurgeResult
		err := ps.p.DB.QueryRow(ctx, `
			WITH v AS (SELECT id FROM voice_clips WHERE expires_at <= $2 LIMIT $1 FOR UPDATE SKIP LOCKED),
			gone AS (DELETE FROM voice_clips c USING v WHERE c.id = v.id RETURNING c.kind, c.size)
			SELECT count(*), count(*) FILTER (WHERE kind = 'input'), count(*) FILTER (WHERE kind = 'reply'), COALESCE(sum(size), 0)
			FROM gone`, ps.p.Policy.Batch, ps.now).Scan(&r.Deleted, &r.Inputs, &r.Replies, &r.Bytes)
		if err != nil {
			return fmt.Errorf("retention voice clips: %w", err)
		}
		ps.batch(time.Since(t0))
		ps.res.Deleted += r.Deleted
		ps.res.Inputs += r.Inputs
		ps.res.Replies += r.Replies
		ps.res.Bytes += r.Bytes
		ps.res.Removed[KindVoiceClips] += r.Deleted
		if r.Deleted < int64(ps.p.Policy.Batch) {
			return nil
		}
	}
}

// events: raw deliveries, RETENTION_EVENTS after they were stored (the
// hooks apply a delivery in the statement that stores it) or after an
// unparsed one was replayed. Unparsed ones not replayed stay: they are
// the only copy of what the provider sent.
func (ps *pass) events(ctx context.Context) error {
	return ps.sweep(ctx, KindEvents, `
		WITH v AS (SELECT id FROM webhook_events
			WHERE received_at < $2 AND received_at >= $3 AND (parse_error IS NULL OR parse_resolved_at < $2)
			ORDER BY received_at LIMIT $1 FOR UPDATE SKIP LOCKED),
		gone AS (DELETE FROM webhook_events e USING v WHERE e.id = v.id RETURNING e.received_at)
		SELECT count(*), max(received_at) FROM gone`, ps.cutoff(ps.p.Policy.Events))
}

// jobs: done jobs after RETENTION_JOBS, failed ones (replayable) after
// RETENTION_FAILED_JOBS; their replay history goes with them (cascade).
func (ps *pass) jobs(ctx context.Context) error {
	if err := ps.sweep(ctx, KindJobs, `
		WITH v AS (SELECT id FROM jobs WHERE status = 'done' AND done_at < $2 AND done_at >= $3
			ORDER BY done_at LIMIT $1 FOR UPDATE SKIP LOCKED),
		gone AS (DELETE FROM jobs j USING v WHERE j.id = v.id RETURNING j.done_at)
		SELECT count(*), max(done_at) FROM gone`, ps.cutoff(ps.p.Policy.Jobs)); err != nil {
		return err
	}
	return ps.sweep(ctx, KindFailedJobs, `
		WITH v AS (SELECT id FROM jobs WHERE status = 'failed' AND updated_at < $2 AND updated_at >= $3
			ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED),
		gone AS (DELETE FROM jobs j USING v WHERE j.id = v.id RETURNING j.updated_at)
		SELECT count(*), max(updated_at) FROM gone`, ps.cutoff(ps.p.Policy.FailedJobs))
}

// replies: folded into reply_stats and deleted in the same statement, so
// a count is never lost nor added twice.
func (ps *pass) replies(ctx context.Context) error {
	const q = `
		WITH v AS (SELECT id FROM replies WHERE created_at < $2 AND created_at >= $3
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED),
		gone AS (DELETE FROM replies r USING v WHERE r.id = v.id
			RETURNING r.created_at, r.account_id, r.mode, r.status, r.language, r.citations, r.want_audio),
		agg AS (INSERT INTO reply_stats AS s (day, account_id, mode, status, language, replies, cited, spoken)
			SELECT (created_at AT TIME ZONE 'UTC')::date, account_id, mode, status, COALESCE(language, ''),
				count(*), count(*) FILTER (WHERE jsonb_typeof(citations) = 'array' AND jsonb_array_length(citations) > 0),
				count(*) FILTER (WHERE want_audio)
			FROM gone GROUP BY 1, 2, 3, 4, 5
			ON CONFLICT (day, account_id, mode, status, language) DO UPDATE SET
				replies = s.replies + EXCLUDED.replies, cited = s.cited + EXCLUDED.cited, spoken = s.spoken + EXCLUDED.spoken
			RETURNING 1)
		SELECT (SELECT count(*) FROM gone), (SELECT max(created_at) FROM gone), (SELECT count(*) FROM agg)`
	cutoff, from := ps.cutoff(ps.p.Policy.Replies), time.Time{}
	for {
		if time.Now().After(ps.deadline) {
			return errBudget
		}
		t0 := time.Now()
		var n, agg int64
		var last *time.Time
		if err := ps.p.DB.QueryRow(ctx, q, ps.p.Policy.Batch, cutoff, from).Scan(&n, &last, &agg); err != nil {
			return fmt.Errorf("retention replies: %w", err)
		}
		ps.batch(time.Since(t0))
		ps.res.Removed[KindReplies] += n
		ps.res.Aggregated += agg
		if n < int64(ps.p.Policy.Batch) || last == nil {
			return nil
		}
		from = *last
	}
}

// keepForStay holds back rows of a guest whose stay ended after the
// cutoff (or is still to come): "12 months after the stay".
const keepForStay = `EXISTS (SELECT 1 FROM conversations c JOIN reservations r ON r.guest_id = c.guest_id
	WHERE c.account_id = m.account_id AND c.id = m.conversation_id AND r.check_out >= $2)`

// messages: guests' and agents' messages (transcripts of voice messages
// are a column), then identity checks and conversations left empty.
func (ps *pass) messages(ctx context.Context) error {
	cut := ps.cutoff(ps.p.Policy.Messages)
	if err := ps.sweep(ctx, KindMessages, `
		WITH v AS (SELECT m.account_id, m.id FROM messages m
			WHERE m.created_at < $2 AND m.created_at >= $3 AND NOT `+keepForStay+`
			ORDER BY m.created_at LIMIT $1 FOR UPDATE OF m SKIP LOCKED),
		gone AS (DELETE FROM messages m USING v WHERE m.account_id = v.account_id AND m.id = v.id RETURNING m.created_at)
		SELECT count(*), max(created_at) FROM gone`, cut); err != nil {
		return err
	}
	if err := ps.sweep(ctx, KindIdentityChecks, `
		WITH v AS (SELECT i.account_id, i.message_id FROM identity_checks i
			WHERE i.checked_at < $2 AND i.checked_at >= $3
				AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.account_id = i.account_id AND m.id = i.message_id)
			ORDER BY i.checked_at LIMIT $1 FOR UPDATE OF i SKIP LOCKED),
		gone AS (DELETE FROM identity_checks i USING v WHERE i.account_id = v.account_id AND i.message_id = v.message_id RETURNING i.checked_at)
		SELECT count(*), max(checked_at) FROM gone`, cut); err != nil {
		return err
	}
	return ps.sweep(ctx, KindConversations, `
		WITH v AS (SELECT c.account_id, c.id FROM conversations c
			WHERE c.updated_at < $2 AND c.updated_at >= $3
				AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.account_id = c.account_id AND m.conversation_id = c.id)
				AND NOT EXISTS (SELECT 1 FROM replies r WHERE r.account_id = c.account_id AND r.conversation_id = c.id)
			ORDER BY c.updated_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED),
		gone AS (DELETE FROM conversations c USING v WHERE c.account_id = v.account_id AND c.id = v.id RETURNING c.updated_at)
		SELECT count(*), max(updated_at) FROM gone`, cut)
}

// calls: the whole call row (transcript, summary, recording link,
// comments). The recording itself lives at Aircall, under its retention.
func (ps *pass) calls(ctx context.Context) error {
	return ps.sweep(ctx, KindCalls, `
		WITH v AS (SELECT k.id FROM calls k
			WHERE k.event_at < $2 AND k.event_at >= $3 AND NOT EXISTS (SELECT 1 FROM guests g JOIN reservations r ON r.guest_id = g.id
				WHERE g.phone_e164 = k.phone_e164 AND r.check_out >= $2)
			ORDER BY k.event_at LIMIT $1 FOR UPDATE OF k SKIP LOCKED),
		gone AS (DELETE FROM calls k USING v WHERE k.id = v.id RETURNING k.event_at)
		SELECT count(*), max(event_at) FROM gone`, ps.cutoff(ps.p.Policy.Calls))
}

// documents: the index follows — documents whose call or reservation is
// gone leave the chunks table or Qdrant.
func (ps *pass) documents(ctx context.Context) error {
	for {
		if time.Now().After(ps.deadline) {
			return errBudget
		}
		n, err := guestdata.Unindex(ctx, ps.p.DB, ps.p.Index, ps.p.Policy.Batch)
		ps.res.Removed[KindDocuments] += n
		if err != nil {
			return err
		}
		if n < int64(ps.p.Policy.Batch) {
			return nil
		}
	}
}

// erasures: guests Guesty deleted are erased like `concierge forget-guest
// --guesty-id`, logged with source guesty.
func (ps *pass) erasures(ctx context.Context) error {
	// Not erased since Guesty last deleted them (a guest Guesty brought
	// back after an erasure and deleted again is erased again).
	rows, err := ps.p.DB.Query(ctx, `SELECT id FROM guests
		WHERE deleted_at IS NOT NULL AND (erased_at IS NULL OR erased_at < deleted_at)
		ORDER BY deleted_at LIMIT $1`, ps.p.Policy.Batch)
	if err != nil {
		return fmt.Errorf("retention erasures: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("retention erasures: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("retention erasures: %w", err)
	}
	if ps.p.Key == nil {
		ps.res.GuestsWaiting = int64(len(ids))
		return nil
	}
	for _, id := range ids {
		if time.Now().After(ps.deadline) {
			return errBudget
		}
		h, err := guestdata.Find(ctx, ps.p.DB, guestdata.Selector{Kind: guestdata.ByGuestyID, Value: id})
		if err != nil {
			return err
		}
		if _, err := guestdata.Erase(ctx, ps.p.DB, ps.p.Index, ps.p.Key, h, guestdata.SourceGuesty); err != nil {
			return err
		}
		ps.res.Removed[KindErasedGuests]++
	}
	return nil
}

// record keeps the pass for the metrics, and the last 200 passes only.
func (p *Purger) record(ctx context.Context, start time.Time, res Result, runErr error) error {
	var msg *string
	if runErr != nil {
		s := runErr.Error()
		msg = &s
	}
	_, err := p.DB.Exec(ctx, `
		WITH ins AS (INSERT INTO retention_runs (started_at, finished_at, complete, removed, batches, longest_batch_ms, error)
			VALUES ($1, now(), $2, $3, $4, $5, $6) RETURNING id)
		DELETE FROM retention_runs WHERE id <= (SELECT id FROM ins) - 200`,
		start, res.Complete, res.Removed, res.Batches, int(res.LongestBatch/time.Millisecond), msg)
	if err != nil {
		return fmt.Errorf("record retention run: %w", err)
	}
	return nil
}

// kinds returns the keys of m sorted, for stable output.
func kinds(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
