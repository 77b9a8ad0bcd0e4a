package voice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/speech"
)

// Settings of call transcription (the transcribe-call job of stt).
var (
	// AircallAPIID and AircallAPIToken are aircallapi.SettingID and
	// aircallapi.SettingToken, named here still for their older callers.
	AircallAPIID    = aircallapi.SettingID
	AircallAPIToken = aircallapi.SettingToken
	CallMaxBytes    = config.Register(config.Setting{Name: "CALL_MAX_BYTES", Default: "104857600",
		Help: "largest call recording downloaded and transcribed, in bytes", Used: "stt"})
	CallMaxDuration = config.Register(config.Setting{Name: "CALL_MAX_DURATION", Default: "20m",
		Help: "longest call recording transcribed (pocketsphinx needs about a quarter of the audio's length on one core; the stt timeout is 600 s)", Used: "stt"})
)

// Calls transcribes the recording of a call that got no transcript from
// Aircall AI Assist, and re-indexes the call.
type Calls struct {
	DB      *pgxpool.Pool
	Engines speech.Engines
	// Limits for recordings (longer than voice messages).
	Limits  speech.Limits
	Invoker jobs.Invoker
	// HTTP downloads the recording from its signed link (no credentials).
	HTTP *http.Client
	// Aircall, when set, fetches the call again from Aircall's API once the
	// stored signed link expired, for a freshly signed one
	// (aircallapi.FromConfig). The call's asset URL is no use: it is a web
	// page behind Aircall's browser login.
	Aircall *aircallapi.Client
}

type storedCall struct {
	hasTranscript bool
	recording     string
	asset         string
}

// Run handles a claimed transcribe-call job.
func (c *Calls) Run(ctx context.Context, job jobs.Claimed) (Heard, error) {
	id, err := jobs.ParseCallSubject(job.Subject)
	if err != nil {
		return Heard{}, err
	}
	log := logging.From(ctx).With().Int64("call_id", id).Logger()
	ctx = logging.WithLogger(ctx, log)
	sc, err := c.load(ctx, id)
	if err != nil {
		return Heard{}, err
	}
	switch {
	case sc.hasTranscript:
		// Aircall's transcript arrived while the job waited.
		return Heard{Status: "already"}, nil
	case sc.recording == "" && sc.asset == "":
		return c.failed(ctx, id, fault.New(fault.Invalid, "the call has no recording"))
	}
	raw, err := c.fetch(ctx, id, sc)
	var dur time.Duration
	var tr speech.Transcript
	if err == nil {
		tr, dur, err = hear(ctx, c.Engines, raw, c.Limits, "call recording")
	}
	if err != nil {
		if fault.Retryable(err) && job.Attempt < jobs.TranscribeCall.Policy.MaxAttempts {
			return Heard{}, err
		}
		return c.failed(ctx, id, err)
	}
	source := "local"
	if tr.Provider == "azure" {
		source = "azure"
	}
	var queued []jobs.Job
	var stored bool
	err = pgx.BeginFunc(ctx, c.DB, func(tx pgx.Tx) error {
		// Aircall's transcript, if it came meanwhile, is kept: it knows
		// who spoke.
		tag, err := tx.Exec(ctx, `UPDATE calls SET transcript = $2, transcript_source = $3, transcript_language = $4,
				transcript_at = now(), transcript_error = NULL, updated_at = now()
			WHERE id = $1 AND transcript IS NULL`, id, tr.Text, source, nullable(tr.Language))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		stored = true
		j, err := jobs.Enqueue(ctx, tx, jobs.Vectorize, jobs.CallSubject(id), logging.Trace(ctx))
		queued = append(queued, j)
		return err
	})
	if err != nil {
		return Heard{}, fault.Wrap(fault.Unavailable, fmt.Errorf("store call transcript: %w", err), "database unavailable")
	}
	if !stored {
		return Heard{Status: "already"}, nil
	}
	jobs.Dispatch(ctx, c.Invoker, queued)
	log.Info().Str("provider", tr.Provider).Int("chars", len(tr.Text)).Dur("audio", dur).Msg("call recording transcribed")
	return Heard{Status: "transcribed", Provider: tr.Provider, Chars: len(tr.Text)}, nil
}

func (c *Calls) load(ctx context.Context, id int64) (storedCall, error) {
	var sc storedCall
	var rec, asset *string
	err := c.DB.QueryRow(ctx, `SELECT transcript IS NOT NULL, recording_url, asset_url
		FROM calls WHERE id = $1`, id).Scan(&sc.hasTranscript, &rec, &asset)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, fault.New(fault.NotFound, "no call %d", id)
	}
	if err != nil {
		return sc, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	if rec != nil {
		sc.recording = *rec
	}
	if asset != nil {
		sc.asset = *asset
	}
	return sc, nil
}

// fetch downloads the recording: the signed link stored from the
// webhook, and once that expired, a freshly signed one from the call as
// Aircall's API returns it now, when credentials are set.
func (c *Calls) fetch(ctx context.Context, id int64, sc storedCall) ([]byte, error) {
	d := downloader{HTTP: c.HTTP, MaxBytes: c.Limits.MaxBytes, What: "call recording"}
	if sc.recording != "" {
		b, err := d.get(ctx, sc.recording, nil)
		var gone *goneError
		if err == nil || !errors.As(err, &gone) {
			return b, err
		}
	}
	if c.Aircall == nil {
		return nil, fault.New(fault.Invalid, "the call recording's link expired; set AIRCALL_API_ID and AIRCALL_API_TOKEN to fetch a fresh link from the Aircall API")
	}
	call, err := c.Aircall.Call(ctx, id)
	if err != nil {
		return nil, err
	}
	fresh := call.Audio()
	if fresh == "" {
		return nil, fault.New(fault.Invalid, "Aircall no longer has the call's recording")
	}
	logging.From(ctx).Info().Msg("call recording link expired; fetched a fresh one from the Aircall API")
	return d.get(ctx, fresh, nil)
}

// failed records why the call could not be transcribed (calls.transcript_error,
// which also stops later call events from queueing it again) and returns
// cause, so the job ends failed: visible in the job metrics, and
// `concierge replay` runs it again. The call stays indexed without a
// transcript.
func (c *Calls) failed(ctx context.Context, id int64, cause error) (Heard, error) {
	reason := ErrFailedPrefix + fault.Public(cause)
	if fault.KindOf(cause) == fault.Invalid {
		reason = ErrInvalidPrefix + fault.Public(cause)
	}
	logging.From(ctx).Warn().Err(cause).Str("reason", reason).Msg("call recording not transcribed")
	if _, err := c.DB.Exec(ctx, `UPDATE calls SET transcript_error = $2, updated_at = now() WHERE id = $1 AND transcript IS NULL`,
		id, reason); err != nil {
		return Heard{}, fault.Wrap(fault.Unavailable, fmt.Errorf("record call transcription error: %w", err), "database unavailable")
	}
	if fault.Retryable(cause) {
		// Attempts are spent: park it rather than retry again.
		cause = fault.Wrap(fault.Permanent, cause, fault.Public(cause))
	}
	return Heard{Status: "failed", Reason: reason}, cause
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
