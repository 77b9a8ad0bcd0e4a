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

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/voice"
	handler "github.com/openfaas/templates-sdk/go-http"
)

// Name is the function's name in stack.yml.
const Name = "stt"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	stt, err := voice.TranscriberFromConfig(env.Config, env.DB, env.Invoker, env.Now)
	if err != nil {
		return nil, err
	}
	env.Log.Info().Str("provider", stt.Provider).Bool("chatwoot", stt.Messages.Chat != nil).Msg("speech-to-text ready")
	steps, err := faas.NewRunner(env, jobs.Transcribe, jobs.TranscribeCall)
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		return steps.Run(req, stt.Run), nil
	}, nil
}
