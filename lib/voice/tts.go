package voice

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/speech"
)

// MaxSpokenChars bounds the text spoken: a longer answer is posted as text
// alone (a voice note of minutes helps nobody).
const MaxSpokenChars = 1200

// Speaker is the tts step: it speaks one reply and hands it back to
// chatwoot-reply.
type Speaker struct {
	DB       *pgxpool.Pool
	Synth    speech.Synthesizer
	Provider string
	Invoker  jobs.Invoker
	TTL      time.Duration
	Now      func() time.Time
}

// Spoken is the outcome of a synthesize job.
type Spoken struct {
	Status string `json:"status"` // ready, failed, already
	ClipID string `json:"clip_id,omitempty"`
	Bytes  int    `json:"bytes,omitempty"`
	Format string `json:"format,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Run handles a claimed synthesize job.
func (s *Speaker) Run(ctx context.Context, job jobs.Claimed) (Spoken, error) {
	id, err := jobs.ParseReplySubject(job.Subject)
	if err != nil {
		return Spoken{}, err
	}
	r, err := replies.Get(ctx, s.DB, id)
	if err != nil {
		return Spoken{}, err
	}
	log := logging.From(ctx).With().Str("reply_id", r.ID).Int64("account_id", r.AccountID).Int64("conversation_id", r.ConversationID).Logger()
	ctx = logging.WithLogger(ctx, log)
	if r.Status != replies.StatusPending || r.VoiceStatus == "ready" || r.VoiceStatus == "failed" {
		return Spoken{Status: "already", ClipID: r.VoiceClipID}, s.requeue(ctx, r)
	}
	var channel string
	if err := s.DB.QueryRow(ctx, "SELECT COALESCE(max(channel), '') FROM conversations WHERE account_id = $1 AND id = $2",
		r.AccountID, r.ConversationID).Scan(&channel); err != nil {
		return Spoken{}, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	format := speech.FormatFor(channel)
	text := strings.TrimSpace(r.Content)
	if len(text) > MaxSpokenChars {
		return s.failed(ctx, r, fault.New(fault.Invalid, "the answer is too long to speak (%d characters, limit %d)", len(text), MaxSpokenChars))
	}
	start := time.Now()
	audio, ct, err := s.Synth.Synthesize(ctx, text, r.Language, format)
	if err != nil {
		if fault.Retryable(err) && job.Attempt < jobs.Synthesize.Policy.MaxAttempts {
			return Spoken{}, err
		}
		return s.failed(ctx, r, err)
	}
	var clipID string
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		clipID, err = StoreClip(ctx, tx, Clip{Kind: KindReply, AccountID: r.AccountID, ConversationID: r.ConversationID, ReplyID: r.ID,
			ContentType: ct, Bytes: audio, Provider: s.Provider, ExpiresAt: s.Now().Add(s.TTL)})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE replies SET voice_clip_id = $2, voice_status = 'ready', voice_error = NULL WHERE id = $1",
			r.ID, clipID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return Spoken{}, fault.Wrap(fault.Unavailable, fmt.Errorf("store clip: %w", err), "database unavailable")
	}
	if err := s.requeue(ctx, r); err != nil {
		return Spoken{}, err
	}
	log.Info().Str("format", string(format)).Int("bytes", len(audio)).Dur("took", time.Since(start)).Msg("reply spoken")
	return Spoken{Status: "ready", ClipID: clipID, Bytes: len(audio), Format: string(format)}, nil
}

// failed records why the reply has no audio and sends it on as text.
func (s *Speaker) failed(ctx context.Context, r replies.Reply, cause error) (Spoken, error) {
	reason := fault.Public(cause)
	logging.From(ctx).Warn().Err(cause).Msg("reply not spoken; posting text alone")
	if _, err := s.DB.Exec(ctx, "UPDATE replies SET voice_status = 'failed', voice_error = $2 WHERE id = $1", r.ID, reason); err != nil {
		return Spoken{}, fault.Wrap(fault.Unavailable, fmt.Errorf("record tts failure: %w", err), "database unavailable")
	}
	if err := s.requeue(ctx, r); err != nil {
		return Spoken{}, err
	}
	return Spoken{Status: "failed", Reason: reason}, nil
}

// requeue wakes the reply job waiting for the clip (or queues one) and
// invokes it; a reply no longer pending needs nothing.
func (s *Speaker) requeue(ctx context.Context, r replies.Reply) error {
	if r.Status != replies.StatusPending {
		return nil
	}
	var j jobs.Job
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		j, err = jobs.WakeOrEnqueue(ctx, tx, jobs.Reply, jobs.ReplySubject(r.ID), logging.Trace(ctx))
		return err
	})
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	jobs.Dispatch(ctx, s.Invoker, []jobs.Job{j})
	return nil
}
