// Package function is the chatwoot-reply OpenFaaS function, a job-driven
// step with two kinds of work:
//   - reply (from llm-query): post the answer, draft note or hand-off of a
//     replies row, unless a person or a newer guest message overtook it;
//   - contact-sync (from guesty-hook): keep the guest's Chatwoot contact in
//     step with Guesty.
//
// Without CHATWOOT_URL (the local embedded default) replies go to the
// local outbox (GET /outbox of make run) and contact sync is skipped.
package function

import (
	"context"
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/step"
	"github.com/harborstays/concierge/lib/voice"
)

// Name is the function's name in stack.yml.
const Name = "chatwoot-reply"

// budget bounds one job's work, inside the function's 30 s timeout
// (stack.yml): the Chatwoot client stops waiting for retries at it.
const budget = 25 * time.Second

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	clients, err := chatwoot.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	syncer, err := contactsync.FromConfig(env.Config, env.DB, clients.Contacts, env.Now)
	if err != nil {
		return nil, err
	}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := step.New(env, step.Kinds{replies.Job: replies.Policy, jobs.ContactSync: jobs.DefaultPolicy})
	if err != nil {
		return nil, err
	}
	poster := &replies.Poster{DB: env.DB, Chat: clients.Replies, Policy: replies.Policy,
		Synthesize: voice.SynthesizeJob, Invoker: env.Invoker, HandoffMessage: env.Config.String(replies.HandoffMessage)}
	if clients.Contacts != clients.Replies {
		poster.People = clients.Contacts
	}
	if clients.Replies == nil {
		env.Log.Info().Msg("CHATWOOT_URL not set: replies go to the local outbox, contact sync is skipped")
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			switch job.Kind {
			case replies.Job.Name:
				return poster.Post(ctx, job)
			case jobs.ContactSync.Name:
				id, err := contactsync.GuestID(job.Subject)
				if err != nil {
					return nil, err
				}
				return syncer.Sync(ctx, id)
			default:
				return nil, fault.New(fault.Permanent, "chatwoot-reply does not handle %q jobs", job.Kind)
			}
		}), nil
	}, nil
}
