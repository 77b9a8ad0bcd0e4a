// Package function is the chatwoot-reply OpenFaaS function, a job-driven
// step with three kinds of work:
//   - reply (from llm-query): post the answer, draft note or hand-off of a
//     replies row, unless a person or a newer guest message overtook it;
//   - contact-sync (from guesty-hook): keep the guest's Chatwoot contact in
//     step with Guesty.
//   - urgent-call (from aircall-hook): tell the team, in an urgent private
//     note, of a missed call from a guest arriving today or tomorrow.
//
// Without CHATWOOT_URL (the local embedded default) replies go to the
// local outbox (GET /outbox of make run) and contact sync is skipped.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/urgentcall"
)

// Name is the function's name in stack.yml.
const Name = "chatwoot-reply"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	clients, err := chatwoot.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	syncer, err := contactsync.FromConfig(env.Config, env.DB, clients.Contacts, env.Now)
	if err != nil {
		return nil, err
	}
	urgent, err := urgentcall.FromConfig(env.Config, env.DB, clients, syncer)
	if err != nil {
		return nil, err
	}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := faas.NewRunner(env, jobs.Reply, jobs.ContactSync, jobs.UrgentCall)
	if err != nil {
		return nil, err
	}
	poster := replies.FromConfig(env.Config, env.DB, clients, env.Invoker)
	if clients.Replies == nil {
		env.Log.Info().Msg("CHATWOOT_URL not set: replies go to the local outbox, contact sync is skipped")
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			switch job.Kind {
			case jobs.Reply.Name:
				return poster.Post(ctx, job)
			case jobs.ContactSync.Name:
				return syncer.Job(ctx, job)
			case jobs.UrgentCall.Name:
				return urgent.Job(ctx, job)
			default:
				return nil, fault.New(fault.Permanent, "chatwoot-reply does not handle %q jobs", job.Kind)
			}
		}), nil
	}, nil
}
