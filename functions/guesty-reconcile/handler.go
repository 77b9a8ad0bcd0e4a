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
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
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

const (
	// runBudget bounds one run well inside the function's 300 s
	// write_timeout (stack.yml); what it does not reach, a job continues.
	runBudget = 4 * time.Minute
	// minRetry is the least wait before a job continues a run the time
	// budget (not Guesty) stopped.
	minRetry = time.Minute
	// jobSubject: there is one reconciliation, so one pending job at most.
	jobSubject = "reconcile:" + guesty.ReconcileName
)

// Policy of guesty-reconcile jobs: the lease covers a run's budget and
// the function's timeout; Guesty's hourly window can hold a run back for
// up to an hour, so the back-off reaches an hour.
var Policy = jobs.Policy{MaxAttempts: 12, Lease: 6 * time.Minute, Base: time.Minute, Max: time.Hour}

// New builds the handler from env. Without Guesty credentials the function
// starts (make run has none) and the nightly run answers that it skipped.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	api := guesty.APIFromConfig(env.Config, env.DB)
	hook := &guesty.Hook{Store: &webhook.Store{DB: env.DB, Invoker: env.Invoker}, Region: env.Config.String(config.PhoneRegion)}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	steps, err := step.New(env, step.Kinds{guesty.ReconcileKind: Policy})
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
			var b bytes.Buffer
			if err := guesty.WritePrometheus(req.Context(), env.DB, &b); err != nil {
				return endpoint.Error(err), nil
			}
			return handler.Response{StatusCode: http.StatusOK, Body: b.Bytes(), Header: http.Header{"Content-Type": {jobs.PrometheusContentType}}}, nil
		}
		if len(strings.TrimSpace(string(req.Body))) > 0 {
			// A job continuing an interrupted run: signed, claimed, retried
			// after Guesty's delay by the step runner.
			return steps.Run(req, func(ctx context.Context, _ jobs.Claimed) (any, error) {
				if api == nil {
					return nil, fault.New(fault.Permanent, "Guesty API not configured: set GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret)")
				}
				ctx, cancel := context.WithTimeout(ctx, runBudget)
				defer cancel()
				return rec.Run(ctx, env.Now(), true)
			}), nil
		}
		// cron-connector: an empty POST starts (or resumes) the night's run.
		if api == nil {
			return endpoint.JSON(http.StatusOK, map[string]string{"status": "skipped", "reason": "Guesty API not configured"}), nil
		}
		ctx, cancel := context.WithTimeout(req.Context(), runBudget)
		defer cancel()
		rep, err := rec.Run(ctx, env.Now(), false)
		if err == nil {
			return endpoint.JSON(http.StatusOK, rep), nil
		}
		log := logging.From(req.Context())
		if fault.KindOf(err) != fault.Unavailable {
			log.Error().Err(err).Msg("guesty reconciliation failed")
			return endpoint.Error(err), nil
		}
		delay := max(fault.RetryAfter(err), minRetry)
		job, jerr := later(context.WithoutCancel(req.Context()), env, delay)
		if jerr != nil {
			log.Error().Err(jerr).Msg("could not write the job that continues the reconciliation; the next night resumes it")
			return endpoint.Error(err), nil
		}
		log.Warn().Err(err).Dur("retry_after", delay).Str("job_id", job.ID).Int("repaired", rep.Repaired).
			Msg("guesty reconciliation interrupted; a job continues it")
		res := endpoint.JSON(http.StatusServiceUnavailable, map[string]any{
			"status": "retrying", "retry_after_seconds": int(delay.Round(time.Second).Seconds()), "job_id": job.ID,
			"error": fault.Public(err), "report": rep,
		})
		res.Header.Set("Retry-After", strconv.Itoa(int(delay.Round(time.Second).Seconds())))
		return res, nil
	}, nil
}

// later writes the job that continues an interrupted run after delay.
func later(ctx context.Context, env *fnenv.Env, delay time.Duration) (jobs.Job, error) {
	var job jobs.Job
	err := pgx.BeginFunc(ctx, env.DB, func(tx pgx.Tx) (err error) {
		job, err = jobs.EnqueueAfter(ctx, tx, guesty.ReconcileKind, jobSubject, "", delay)
		return err
	})
	if err != nil {
		return job, fmt.Errorf("enqueue %s: %w", guesty.ReconcileKind.Name, err)
	}
	return job, nil
}
