// Package function is the guesty-fetch OpenFaaS function: it completes
// what a lean Guesty event named (guesty-fetch jobs: reservation:<id>,
// listing:<id>, guest:<id>) by reading the entity from the Guesty Open API
// and storing it as a legacy event would, with the same re-index and
// contact-sync jobs.
//
// A function of its own rather than a part of vectorize: it holds the
// Guesty credentials and the process's share of Guesty's rate limit, its
// waits are Guesty's (a job retried after Retry-After), and vectorize
// stays free of both.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "guesty-fetch"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env. Without Guesty credentials the function
// still starts (make run has none) and its jobs fail naming the secrets;
// `concierge replay --kind guesty-fetch` runs them once they are set.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	api := guesty.APIFromConfig(env.Config, env.DB)
	hook := &guesty.Hook{
		Store:  &webhook.Store{DB: env.DB, Invoker: env.Invoker},
		Region: env.Config.String(config.PhoneRegion),
	}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := faas.NewRunner(env, jobs.GuestyFetch)
	if err != nil {
		return nil, err
	}
	if api == nil {
		env.Log.Warn().Msg("GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET unset: guesty-fetch jobs fail until they are set")
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			if api == nil {
				return nil, fault.New(fault.Permanent, "Guesty API not configured: set GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret), then concierge replay --kind guesty-fetch")
			}
			return hook.Fetch(ctx, api, job.Subject)
		}), nil
	}, nil
}
