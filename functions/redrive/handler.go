// Package function is the redrive OpenFaaS function. cron-connector POSTs
// to it every minute: one pass re-invokes the outbox jobs that are overdue
// (a pending job its producer's invocation never started, a running job
// whose lease expired, a retrying job whose back-off ended), with back-off,
// and parks as failed those out of invocations. A GET answers the job
// counts as Prometheus metrics, or as JSON with ?format=json.
package function

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/incidents"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/retention"
	"github.com/harborstays/concierge/lib/screen/quarantine"
	"github.com/harborstays/concierge/lib/webhook"
)

// Name is the function's name in stack.yml.
const Name = "redrive"

// Settings of redrive.
var (
	graceSetting = config.Register(config.Setting{Name: "REDRIVE_GRACE", Default: "2m", Used: "redrive",
		Help: "how long a pending job is left to its producer's own invocation before redrive invokes it"})
	maxSetting = config.Register(config.Setting{Name: "REDRIVE_MAX_INVOCATIONS", Default: fmt.Sprint(jobs.DefaultPolicy.MaxAttempts), Used: "redrive",
		Help: "invocations (or started attempts) after which redrive parks a job as failed; keep it equal to the steps' attempts"})
	batchSetting = config.Register(config.Setting{Name: "REDRIVE_BATCH", Default: "200", Used: "redrive",
		Help: "overdue jobs one redrive pass claims at most"})
)

// passBudget bounds one pass well inside the function's 30 s write_timeout
// (stack.yml): what a pass does not reach waits for the next minute.
const passBudget = 20 * time.Second

// known kinds are always reported, with zeros when they have no jobs.
var known = []jobs.Kind{jobs.Vectorize, jobs.ContactSync, jobs.Answer, jobs.Reply, jobs.TranscribeCall, jobs.Backup}

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	opts := jobs.DefaultRedrive
	opts.Grace = env.Config.Duration(graceSetting)
	opts.MaxInvocations = env.Config.Int(maxSetting)
	opts.Batch = env.Config.Int(batchSetting)
	env.RequireJobKeys() // every re-invocation is signed anew
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	switch {
	case opts.Grace < 0:
		return nil, fmt.Errorf("configuration: REDRIVE_GRACE: must not be negative")
	case opts.MaxInvocations < 1:
		return nil, fmt.Errorf("configuration: REDRIVE_MAX_INVOCATIONS: must be at least 1")
	case opts.Batch < 1:
		return nil, fmt.Errorf("configuration: REDRIVE_BATCH: must be at least 1")
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodGet, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		if req.Method == http.MethodPost {
			// cron-connector: one pass. The body is empty and ignored.
			ctx, cancel := context.WithTimeout(req.Context(), passBudget)
			defer cancel()
			sum, err := jobs.Redrive(ctx, env.DB, env.Invoker, opts)
			if err != nil {
				return endpoint.Error(err), nil
			}
			return endpoint.JSON(http.StatusOK, sum), nil
		}
		st, err := jobs.ReadStats(req.Context(), env.DB, opts.Grace, known...)
		if err != nil {
			return endpoint.Error(err), nil
		}
		if wantsJSON(req) {
			return endpoint.JSON(http.StatusOK, st), nil
		}
		var b bytes.Buffer
		if err := st.WritePrometheus(&b); err != nil {
			return endpoint.Error(err), nil
		}
		if err := writeScraped(req.Context(), env.DB, &b); err != nil {
			return endpoint.Error(err), nil
		}
		failures, err := webhook.ParseFailures(req.Context(), env.DB)
		if err == nil {
			err = webhook.WriteParseFailures(&b, failures)
		}
		if err != nil {
			return endpoint.Error(err), nil
		}
		return handler.Response{StatusCode: http.StatusOK, Body: b.Bytes(), Header: http.Header{"Content-Type": {jobs.PrometheusContentType}}}, nil
	}, nil
}

// writeScraped writes, after the outbox's counts, what the functions that
// nobody scrapes (they run on a schedule or per job) record in PostgreSQL.
func writeScraped(ctx context.Context, db *pgxpool.Pool, w io.Writer) error {
	for _, write := range []func() error{
		// What only an operator fixes: a provider refusing a setting.
		func() error { return incidents.WritePrometheus(ctx, db, w) },
		// Listing text held back from the index as instructions to an
		// assistant: a person fixes the listing (`concierge quarantine`).
		func() error { return quarantine.WritePrometheus(ctx, db, w) },
		// The nightly backup's outcome, per database and for the attachments.
		func() error { return backup.WritePrometheus(ctx, db, w) },
		func() error { return attachments.WritePrometheus(ctx, db, w) },
		// The nightly Guesty reconciliation: rows repaired, last finish.
		func() error { return guesty.WritePrometheus(ctx, db, w) },
		// The retention pass (purge): rows removed, longest lock, last pass.
		func() error { return retention.WritePrometheus(ctx, db, w) },
		// Replies by mode over the last day and week: the hand-off alert.
		func() error { return replies.WritePrometheus(ctx, db, w) },
	} {
		if err := write(); err != nil {
			return err
		}
	}
	return nil
}

// wantsJSON: ?format=json, or an Accept header that names JSON (Prometheus
// asks for text formats only).
func wantsJSON(req handler.Request) bool {
	if q, err := url.ParseQuery(req.QueryString); err == nil && q.Get("format") == "json" {
		return true
	}
	return strings.Contains(req.Header.Get("Accept"), "application/json")
}
