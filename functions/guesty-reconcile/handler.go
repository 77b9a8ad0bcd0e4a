// Package function is the guesty-reconcile OpenFaaS function: each night
// cron-connector POSTs to it, and it stores whatever the Guesty Open API
// changed since its previous run that PostgreSQL's copy lacks, as
// guesty-fetch would: the repair of webhooks that were missed or failed
// (guesty.Reconciler). A run Guesty throttles stops, saves its cursor and
// answers 503 with Guesty's delay; a job goes on from the cursor then. A
// GET answers the reconciliation's figures as Prometheus metrics.
package function

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "guesty-reconcile"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env. Without Guesty credentials the function
// starts (make run has none) and the nightly run answers that it skipped.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	api := guesty.APIFromConfig(env.Config, env.DB)
	hook := &guesty.Hook{Store: &webhook.Store{DB: env.DB, Invoker: env.Invoker}, Region: env.Config.String(config.PhoneRegion)}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := faas.NewRunner(env, jobs.GuestyReconcile)
	if err != nil {
		return nil, err
	}
	if api == nil {
		env.Log.Warn().Msg("GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET unset: the nightly Guesty reconciliation is skipped")
	}
	rec := &guesty.Reconciler{API: api, Hook: hook, DB: env.DB}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodGet, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		if req.Method == http.MethodGet {
			return faas.Prometheus(func(w io.Writer) error { return guesty.WritePrometheus(req.Context(), env.DB, w) }), nil
		}
		if len(strings.TrimSpace(string(req.Body))) > 0 {
			// A job continuing an interrupted run: signed, claimed, retried
			// after Guesty's delay by the step runner.
			return steps.Run(req, func(ctx context.Context, _ jobs.Claimed) (any, error) { return rec.Continue(ctx, env.Now()) }), nil
		}
		// cron-connector: an empty POST starts (or resumes) the night's run.
		if api == nil {
			return faas.JSON(http.StatusOK, map[string]string{"status": "skipped", "reason": "Guesty API not configured"}), nil
		}
		rep, err := rec.Nightly(req.Context(), env.Now())
		var in *guesty.Interrupted
		if errors.As(err, &in) {
			return faas.RetryLater(in.Delay, map[string]any{"status": "retrying", "job_id": in.Job.ID, "error": fault.Public(in.Err), "report": rep}), nil
		}
		if err != nil {
			return faas.Error(err), nil
		}
		return faas.JSON(http.StatusOK, rep), nil
	}, nil
}
