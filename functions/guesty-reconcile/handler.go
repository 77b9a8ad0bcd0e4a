// Package function is the guesty-reconcile OpenFaaS function: each night
// cron-connector POSTs to it, and it asks the Guesty Open API what changed
// since its previous run (reservations by lastUpdatedAt, with an overlap;
// every listing) and stores whatever is newer than PostgreSQL's copy, as
// guesty-fetch would: the repair of webhooks that were missed or failed.
//
// Guesty's rate limit is shared with guesty-fetch and the import, so a run
// never sleeps it out: when the wait would exceed the client's budget the
// run stops (its cursor is saved after every page), writes a
// guesty-reconcile job due after Guesty's Retry-After, and answers 503
// with the delay; redrive starts the job then, and the job goes on from
// the cursor, ending `retrying` again if Guesty still refuses.
//
// A GET answers the reconciliation's figures as Prometheus metrics: the
// rows the latest run repaired, when the last run finished, and whether
// one is waiting to go on.
package function

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/step"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "guesty-reconcile"

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env. Without Guesty credentials the function
// starts (make run has none) and the nightly run answers that it skipped.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	api := guesty.APIFromConfig(env.Config, env.DB)
	hook := &guesty.Hook{Store: &webhook.Store{DB: env.DB, Invoker: env.Invoker}, Region: env.Config.String(config.PhoneRegion)}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := step.New(env, jobs.GuestyReconcile)
	if err != nil {
		return nil, err
	}
	if api == nil {
		env.Log.Warn().Msg("GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET unset: the nightly Guesty reconciliation is skipped")
	}
	rec := &guesty.Reconciler{API: api, Hook: hook, DB: env.DB}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodGet, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		if req.Method == http.MethodGet {
			return endpoint.Prometheus(func(w io.Writer) error { return guesty.WritePrometheus(req.Context(), env.DB, w) }), nil
		}
		if len(strings.TrimSpace(string(req.Body))) > 0 {
			// A job continuing an interrupted run: signed, claimed, retried
			// after Guesty's delay by the step runner.
			return steps.Run(req, func(ctx context.Context, _ jobs.Claimed) (any, error) { return rec.Continue(ctx, env.Now()) }), nil
		}
		// cron-connector: an empty POST starts (or resumes) the night's run.
		if api == nil {
			return endpoint.JSON(http.StatusOK, map[string]string{"status": "skipped", "reason": "Guesty API not configured"}), nil
		}
		rep, err := rec.Nightly(req.Context(), env.Now())
		var in *guesty.Interrupted
		if errors.As(err, &in) {
			secs := int(in.Delay.Round(time.Second).Seconds())
			res := endpoint.JSON(http.StatusServiceUnavailable, map[string]any{
				"status": "retrying", "retry_after_seconds": secs, "job_id": in.Job.ID, "error": fault.Public(in.Err), "report": rep,
			})
			res.Header.Set("Retry-After", strconv.Itoa(secs))
			return res, nil
		}
		if err != nil {
			return endpoint.Error(err), nil
		}
		return endpoint.JSON(http.StatusOK, rep), nil
	}, nil
}
