// Package function is the vectorize OpenFaaS function: it turns a stored
// listing, reservation, call or guest into retrieval documents and keeps the
// index in step. Invoked with a job by the hooks (and redrive); invoked by
// cron-connector with an empty body, it re-reads the knowledge folder.
package function

import (
	"context"
	"net/http"
	"strings"

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	handler "github.com/openfaas/templates-sdk/go-http"
)

// Name is the function's name in stack.yml.
const Name = "vectorize"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(ctx context.Context, env *faas.Env) (faas.HandleFunc, error) {
	x, err := indexer.FromConfig(ctx, env.Config, env.DB)
	if err != nil {
		return nil, err
	}
	steps, err := faas.NewRunner(env, jobs.Vectorize)
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		if len(strings.TrimSpace(string(req.Body))) == 0 {
			// cron-connector: pick up edits of the knowledge folder.
			res, err := x.Sync(req.Context(), indexer.KnowledgeSubject)
			if err != nil {
				return faas.Error(err), nil
			}
			return faas.JSON(http.StatusOK, map[string]any{"status": "done", "result": res}), nil
		}
		return steps.Run(req, func(ctx context.Context, job jobs.Claimed) (any, error) {
			return x.Sync(ctx, job.Subject)
		}), nil
	}, nil
}
