// Package function is the backup OpenFaaS function: cron-connector invokes
// it daily (stack.yml schedule). One run dumps every database of
// BACKUP_DATABASES and the roles into object storage, verifies a restore of
// each, applies retention (lib/backup), then copies what changed in
// Chatwoot's attachment bucket (lib/attachments).
//
// The scheduled call only queues the run as a job and answers 202
// (faas.Scheduled): a run lasts minutes to an hour, and as one synchronous
// request through the gateway it died with the request. The job, invoked
// through the gateway's queue, runs it with a lease and retries.
//
// Databases and attachments share the one schedule: cron-connector sends an
// empty body and one schedule per function, a second function would cost
// an image and a slot of faasd CE's fifteen, and one daily answer says
// whether last night's backup is whole. The body {"what":"databases"} or
// {"what":"attachments"} queues one part by hand.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/backuprun"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
)

// Name is the function's name in stack.yml.
const Name = "backup"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// Answer is the function's JSON answer.
type Answer = backuprun.Answer

// New builds the handler from env.
func New(_ context.Context, env *faas.Env) (faas.HandleFunc, error) {
	run, err := backuprun.FromConfig(env.Config, env.DB, env.Now)
	if err != nil {
		return nil, err
	}
	run.LogStart(env.Log)
	steps, err := faas.NewRunner(env, jobs.Backup)
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		if req.Header.Get(jobs.SignatureHeader) != "" {
			// The queued run, invoked through the gateway.
			return steps.Run(req, run.Job), nil
		}
		part, err := run.Part(req.Body)
		if err != nil {
			return faas.Error(err), nil
		}
		return steps.Scheduled(req, jobs.Backup, part, run.Job), nil
	}, nil
}
