package voice

import (
	"context"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
)

var downloadHosts = config.Register(config.Setting{Name: "VOICE_DOWNLOAD_HOSTS",
	Help: "hosts (host:port) besides CHATWOOT_URL's that a voice message's data_url may name, comma-separated", Used: "stt"})

// Transcriber is the stt function's service: it runs the transcribe jobs
// of guests' voice messages and the transcribe-call jobs of recordings.
type Transcriber struct {
	Messages *Listener
	Calls    *Calls
	// Provider names the speech engine (local or azure).
	Provider string
}

// TranscriberFromConfig builds the Transcriber from the speech, Chatwoot,
// Aircall and voice settings; a malformed setting is an error naming it.
func TranscriberFromConfig(cfg *config.Config, db *pgxpool.Pool, inv jobs.Invoker, now func() time.Time) (*Transcriber, error) {
	engines, err := speech.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	clients, err := chatwoot.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	ttl := cfg.Duration(TTL)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	l := &Listener{
		DB: db, Engines: engines, Chat: clients.Replies, Invoker: inv, HTTP: NewHTTPClient(30 * time.Second),
		TTL: ttl, Now: now,
	}
	if u, err := url.Parse(cfg.String(chatwoot.SettingURL)); err == nil && clients.Replies != nil {
		l.AllowedHosts = append(cfg.List(downloadHosts), u.Host)
	}
	calls := &Calls{
		DB: db, Engines: engines, Invoker: inv, HTTP: NewHTTPClient(2 * time.Minute),
		Limits:  speech.Limits{MaxBytes: int64(cfg.Int(CallMaxBytes)), MaxDuration: cfg.Duration(CallMaxDuration)},
		Aircall: aircallapi.FromConfig(cfg),
	}
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	return &Transcriber{Messages: l, Calls: calls, Provider: engines.Provider}, nil
}

// Run does a claimed job of either kind (a step's work): each kind's
// declaration bounds it, seconds for a voice message, minutes for a call.
func (t *Transcriber) Run(ctx context.Context, job jobs.Claimed) (any, error) {
	switch job.Kind {
	case jobs.Transcribe.Name:
		return t.Messages.Run(ctx, job)
	case jobs.TranscribeCall.Name:
		return t.Calls.Run(ctx, job)
	}
	return nil, fault.New(fault.Permanent, "stt does not handle %q jobs", job.Kind)
}
