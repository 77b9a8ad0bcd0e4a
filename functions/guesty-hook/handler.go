// Package function is the guesty-hook OpenFaaS function: Guesty reservation,
// listing and guest webhooks in, stored rows plus vectorize and contact-sync
// jobs out.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "guesty-hook"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	hook := &guesty.Hook{
		Store:  &webhook.Store{DB: env.DB, Invoker: env.Invoker},
		Region: env.Config.String(config.PhoneRegion),
	}
	if env.Config.Enum(config.GuestySignature, "required", "off") == "required" {
		v, err := guesty.NewVerifier(env.Config.List(config.GuestySecret)...)
		if err != nil {
			env.Config.Require(config.GuestySecret)
			if cerr := env.Config.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		v.Now = env.Now
		hook.Verifier = v
	} else {
		env.Log.Warn().Msg("GUESTY_SIGNATURE=off: deliveries are not authenticated")
	}
	env.RequireJobKeys() // its vectorize and contact-sync invocations are signed
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		out, err := hook.Receive(req.Context(), req.Header, req.Body)
		if err != nil {
			return faas.Error(err), nil
		}
		return faas.JSON(http.StatusOK, map[string]string{"status": string(out)}), nil
	}, nil
}
