// Package function is the aircall-hook OpenFaaS function: Aircall call,
// contact and AI Assist (transcript, summary) webhooks in; stored rows,
// vectorize jobs and delayed transcribe-call jobs (stt) out.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "aircall-hook"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	tokens := env.Config.List(config.AircallTokens)
	if len(tokens) == 0 {
		env.Config.Require(config.AircallTokens)
		return nil, env.Config.Err()
	}
	hook, err := aircall.NewHook(&webhook.Store{DB: env.DB, Invoker: env.Invoker}, tokens, env.Config.String(config.PhoneRegion))
	if err != nil {
		return nil, err
	}
	hook.TranscribeAfter = aircall.TranscribeDelay(env.Config)
	env.RequireJobKeys() // its vectorize and transcribe-call invocations are signed
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		out, err := hook.Receive(req.Context(), req.Body)
		if err != nil {
			return faas.Error(err), nil
		}
		return faas.JSON(http.StatusOK, map[string]string{"status": string(out)}), nil
	}, nil
}
