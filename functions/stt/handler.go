// Package function is the stt OpenFaaS function, a job-driven step: for a
// guest's voice message (transcribe job from llm-query) it downloads the
// audio, transcodes it to 16 kHz mono, transcribes it (Azure Speech when
// configured, else pocketsphinx), stores the transcript, posts it as a
// private note and queues the conversation's answer, which asks for a
// spoken reply. For a recorded call that Aircall AI Assist did not
// transcribe (transcribe-call job from aircall-hook, delayed), it
// transcribes the recording and re-indexes the call. See lib/voice.
package function

import (
	"context"
	"net/http"
	"net/url"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/bot"
	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/step"
	"github.com/harborstays/concierge/lib/voice"
)

var downloadHosts = config.Register(config.Setting{Name: "VOICE_DOWNLOAD_HOSTS",
	Help: "hosts (host:port) besides CHATWOOT_URL's that a voice message's data_url may name, comma-separated", Used: "stt"})

// Name is the function's name in stack.yml.
const Name = "stt"

// Budgets bound one job inside the function's 600 s timeout (stack.yml):
// a guest waits for a voice message's answer, a call recording may be long.
const (
	budget     = 100 * time.Second
	callBudget = 540 * time.Second
)

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	engines, err := speech.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	clients, err := chatwoot.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	ttl := env.Config.Duration(voice.TTL)
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	env.Log.Info().Str("provider", engines.Provider).Bool("chatwoot", clients.Replies != nil).Msg("speech-to-text ready")
	l := &voice.Listener{
		DB: env.DB, Engines: engines, Chat: clients.Replies, Invoker: env.Invoker, HTTP: voice.NewHTTPClient(30 * time.Second),
		TTL: ttl, AnswerJob: jobs.Answer, AnswerSubject: bot.ConversationSubject, Policy: voice.Policy, Now: env.Now,
	}
	if u, err := url.Parse(env.Config.String(chatwoot.SettingURL)); err == nil && clients.Replies != nil {
		l.AllowedHosts = append(env.Config.List(downloadHosts), u.Host)
	}
	calls := &voice.Calls{
		DB: env.DB, Engines: engines, Invoker: env.Invoker, HTTP: voice.NewHTTPClient(2 * time.Minute), Policy: voice.CallPolicy,
		Limits:  speech.Limits{MaxBytes: int64(env.Config.Int(voice.CallMaxBytes)), MaxDuration: env.Config.Duration(voice.CallMaxDuration)},
		Aircall: aircall.APIFromConfig(env.Config),
	}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	// A voice message's transcription has seconds, a call recording minutes.
	steps, err := step.New(env, step.Kinds{voice.TranscribeJob: voice.Policy, jobs.TranscribeCall: voice.CallPolicy})
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			switch job.Kind {
			case voice.TranscribeJob.Name:
				ctx, cancel := context.WithTimeout(ctx, budget)
				defer cancel()
				return l.Run(ctx, job)
			case jobs.TranscribeCall.Name:
				ctx, cancel := context.WithTimeout(ctx, callBudget)
				defer cancel()
				return calls.Run(ctx, job)
			}
			return nil, fault.New(fault.Permanent, "stt does not handle %q jobs", job.Kind)
		}), nil
	}, nil
}
