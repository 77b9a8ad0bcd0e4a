// Package function is the console OpenFaaS function: the team's pages
// (lib/console) behind Keycloak single sign-on. oauth2-proxy, through
// Traefik, signs the team in and forwards the Keycloak token; the function
// verifies it on every request and never trusts a bare header. GET serves
// a page (?page=overview, gaps, conversations, jobs, backups,
// playground); POST is a form (replay, ask), which needs its CSRF token.
package function

import (
	"context"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/console"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
)

// Name is the function's name in stack.yml.
const Name = "console"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the deployed console: it verifies the Keycloak token on every
// request; CONSOLE_AUTH=off is refused here.
func New(ctx context.Context, env *faas.Env) (faas.HandleFunc, error) { return build(ctx, env, false) }

// Local builds the local runner's console (make run). The runner listens
// on 127.0.0.1 only, behind its DNS-rebinding guard; here CONSOLE_AUTH
// may be off and is off unless set, and with it off the function itself
// also refuses any Host that is not loopback.
func Local(ctx context.Context, env *faas.Env) (faas.HandleFunc, error) { return build(ctx, env, true) }

func build(ctx context.Context, env *faas.Env, local bool) (faas.HandleFunc, error) {
	auth, csrf := console.AccessFromConfig(env.Config, local, env.Now)
	env.RequireJobKeys() // replay invokes jobs, signed
	grace := jobs.RedriveFrom(env.Config).Grace
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	engine, err := console.EngineFromConfig(ctx, env.Config, env.DB)
	if err != nil {
		return nil, err
	}
	c, err := console.New(&console.Console{DB: env.DB, Auth: auth, CSRF: csrf, Asker: engine, Invoker: env.Invoker,
		Now: env.Now, Grace: grace, Local: local})
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) { return faas.ServeHTTP(c, req), nil }, nil
}
