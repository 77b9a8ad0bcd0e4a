// Package function is the redrive OpenFaaS function. cron-connector POSTs
// to it every minute: one pass re-invokes the outbox jobs that are overdue
// (a pending job its producer's invocation never started, a running job
// whose lease expired, a retrying job whose back-off ended), with back-off,
// and parks as failed those out of invocations. A GET answers the job
// counts as Prometheus metrics, or as JSON with ?format=json.
package function

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/scrape"
	handler "github.com/openfaas/templates-sdk/go-http"
)

// Name is the function's name in stack.yml.
const Name = "redrive"

// passBudget bounds one pass well inside the function's 30 s write_timeout
// (stack.yml): what a pass does not reach waits for the next minute.
const passBudget = 20 * time.Second

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	opts := jobs.RedriveFrom(env.Config)
	env.RequireJobKeys() // every re-invocation is signed anew
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodGet, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		if req.Method == http.MethodPost {
			// cron-connector: one pass. The body is empty and ignored.
			ctx, cancel := context.WithTimeout(req.Context(), passBudget)
			defer cancel()
			sum, err := jobs.Redrive(ctx, env.DB, env.Invoker, opts)
			if err != nil {
				return faas.Error(err), nil
			}
			return faas.JSON(http.StatusOK, sum), nil
		}
		if faas.WantsJSON(req) {
			st, err := scrape.Jobs(req.Context(), env.DB, opts.Grace)
			if err != nil {
				return faas.Error(err), nil
			}
			return faas.JSON(http.StatusOK, st), nil
		}
		return faas.Prometheus(func(w io.Writer) error { return scrape.Write(req.Context(), env.DB, opts.Grace, w) }), nil
	}, nil
}
