// Package function is the tts OpenFaaS function, a job-driven step: for a
// reply that wants audio (synthesize job from chatwoot-reply) it speaks the
// text (Azure Speech when configured, else flite or espeak-ng and ffmpeg),
// OGG/Opus for WhatsApp and MP3 otherwise, stores the clip with its expiry
// and queues the reply job again; on failure the reply goes as text alone.
// See lib/voice.
package function

import (
	"context"
	"net/http"

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/voice"
	handler "github.com/openfaas/templates-sdk/go-http"
)

// Name is the function's name in stack.yml.
const Name = "tts"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	engines, err := speech.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	ttl := env.Config.Duration(voice.TTL)
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	env.Log.Info().Str("provider", engines.Provider).Msg("text-to-speech ready")
	steps, err := faas.NewRunner(env, jobs.Synthesize)
	if err != nil {
		return nil, err
	}
	s := &voice.Speaker{DB: env.DB, Synth: engines.Synthesizer, Provider: engines.Provider, Invoker: env.Invoker,
		TTL: ttl, Now: env.Now}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			return s.Run(ctx, job)
		}), nil
	}, nil
}
