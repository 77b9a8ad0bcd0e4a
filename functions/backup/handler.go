// Package function is the backup OpenFaaS function: cron-connector invokes
// it daily (stack.yml schedule). One run dumps every database of
// BACKUP_DATABASES and the roles into object storage, verifies a restore of
// each, applies retention (lib/backup), then copies what changed in
// Chatwoot's attachment bucket (lib/attachments).
//
// The scheduled call only queues the run as a job and answers 202
// (step.Scheduled): a run lasts minutes to an hour, and as one synchronous
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
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/step"
)

// Policy of backup jobs: the lease outlasts a run (exec_timeout 3600 s in
// stack.yml), so redrive never starts a second run beside a slow one; a
// run that failed on an outage is tried twice more, a quarter of an hour
// apart and then an hour, before it is parked failed for a person.
var Policy = jobs.Policy{MaxAttempts: 3, Lease: 65 * time.Minute, Base: 15 * time.Minute, Max: time.Hour}

// Name is the function's name in stack.yml.
const Name = "backup"

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// What a run does.
const (
	WhatAll         = "all"
	WhatDatabases   = "databases"
	WhatAttachments = "attachments"
)

type request struct {
	What string `json:"what" validate:"omitempty,oneof=all databases attachments"`
}

// Answer is the function's JSON answer.
type Answer struct {
	// Status is "verified" when every part that ran succeeded (attachments
	// copied completely or, past their time budget, in part), else "failed".
	Status string `json:"status"`
	// Stage and Error of the first failure.
	Stage string `json:"stage,omitempty"`
	Error string `json:"error,omitempty"`
	// Failed names the databases (or "_globals", or "attachments") that failed.
	Failed      []string            `json:"failed,omitempty"`
	Databases   *backup.RunReport   `json:"databases,omitempty"`
	Attachments *attachments.Report `json:"attachments,omitempty"`
	Skipped     string              `json:"attachments_skipped,omitempty"`
	// Totals over the databases (a one-database run reads as it always did).
	Bytes         int64   `json:"bytes"`
	DumpBytes     int64   `json:"dump_bytes"`
	DumpSeconds   float64 `json:"dump_seconds"`
	VerifySeconds float64 `json:"verify_seconds"`
}

// skippedAttachments says why a run copies no attachment.
const skippedAttachments = "no attachment bucket configured (ATTACHMENTS_S3_ACCESS_KEY_ID, secret attachments-access-key-id): attachments not backed up"

// New builds the handler from env.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	svc, err := backup.FromConfig(env.Config, env.DB, env.Now)
	if err != nil {
		return nil, err
	}
	syncer, err := attachments.FromConfig(env.Config, env.DB, svc.Store, svc.Crypt, svc.Prefix, env.Now)
	if err != nil {
		return nil, err
	}
	ev := env.Log.Info().Str("store", svc.Store.String()).Int("keep_daily", svc.Policy.Daily).
		Int("keep_weekly", svc.Policy.Weekly).Strs("databases", svc.Databases).Bool("encrypted", svc.Crypt.Enabled())
	if syncer != nil {
		ev = ev.Str("attachments", syncer.Source.String())
	}
	ev.Msg("backups go to " + svc.Store.String())
	if _, local := svc.Store.(*objstore.Dir); !local && !svc.Crypt.Enabled() {
		env.Log.Warn().Msg("backups leave this machine unencrypted: set BACKUP_AGE_RECIPIENTS and the backup-age-identity secret (docs/recovery.md)")
	}
	if syncer == nil {
		env.Log.Info().Msg(skippedAttachments)
	}
	steps, err := step.New(env, step.Kinds{jobs.Backup: Policy})
	if err != nil {
		return nil, err
	}
	run := func(ctx context.Context, what string) (*Answer, int) {
		log := logging.From(ctx)
		ans := &Answer{Status: backup.StatusVerified}
		// The answer's status: 500 when anything failed for good, 503 when
		// only outages did (a later run may not meet them).
		status := http.StatusOK
		failed := func(err error, what, stage string) {
			if ans.Stage == "" {
				ans.Stage, ans.Error = stage, fault.Public(err)
			}
			ans.Status = backup.StatusFailed
			ans.Failed = append(ans.Failed, what)
			code := http.StatusInternalServerError
			if fault.KindOf(err) == fault.Unavailable {
				code = http.StatusServiceUnavailable
			}
			if status == http.StatusOK || code == http.StatusInternalServerError {
				status = code
			}
		}

		if what != WhatAttachments {
			rr, err := svc.RunAll(ctx)
			switch {
			case err != nil:
				// The failure metric: this line, the non-2xx status the
				// gateway counts (gateway_function_invocation_total{code!~"2.."}),
				// and, for a database, its failed backups row (redrive's
				// concierge_backup_last_run_failed).
				log.Error().Err(err).Str("stage", backup.Stage(err)).Bool("backup_failed", true).Msg("backup failed")
				failed(err, "databases", backup.Stage(err))
			default:
				ans.Databases = rr
				ans.Bytes, ans.DumpBytes, ans.DumpSeconds, ans.VerifySeconds = rr.Bytes, rr.DumpBytes, rr.DumpSeconds, rr.VerifySeconds
				for _, o := range append(rr.Databases, rr.Globals) {
					if o.Err == nil {
						continue
					}
					log.Error().Err(o.Err).Str("database", o.Database).Str("stage", o.Stage).Bool("backup_failed", true).
						Msg("backup of database " + o.Database + " failed; the others went on")
					failed(o.Err, o.Database, o.Stage)
				}
			}
		}

		if what != WhatDatabases {
			if syncer == nil {
				ans.Skipped = skippedAttachments
			} else {
				rep, err := syncer.Run(ctx)
				ans.Attachments = rep
				if err != nil {
					log.Error().Err(err).Str("stage", attachments.Stage(err)).Bool("backup_failed", true).
						Msg("attachment backup failed")
					failed(err, "attachments", "attachments: "+attachments.Stage(err))
				}
			}
		}
		return ans, status
	}
	work := func(ctx context.Context, job jobs.Claimed) (any, error) {
		_, what, err := jobs.ParseScheduleSubject(job.Subject)
		if err != nil {
			return nil, fault.Wrap(fault.Permanent, err, "bad backup job")
		}
		if what == "" {
			what = WhatAll
		}
		ans, status := run(ctx, what)
		switch status {
		case http.StatusOK:
			return ans, nil
		case http.StatusServiceUnavailable:
			return ans, fault.New(fault.Unavailable, "backup failed at %s: %s", ans.Stage, ans.Error)
		}
		// Failed for good in this attempt (a restore that did not verify, a
		// database that is not there): 500 as before, and, as a job, tried
		// again up to Policy.MaxAttempts, then parked failed for a person.
		return ans, fault.Wrap(fault.Internal, fmt.Errorf("backup failed at %s: %s", ans.Stage, ans.Error), "backup failed at "+ans.Stage)
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		if req.Header.Get(jobs.SignatureHeader) != "" {
			// The queued run, invoked through the gateway.
			return steps.Run(req, work), nil
		}
		var in request
		// cron-connector POSTs an empty body: everything.
		if len(bytes.TrimSpace(req.Body)) > 0 {
			if err := endpoint.Decode(req.Body, &in); err != nil {
				return endpoint.Error(err), nil
			}
		}
		if in.What == WhatAttachments && syncer == nil {
			return endpoint.Error(fault.New(fault.Invalid, "%s", skippedAttachments)), nil
		}
		part := in.What
		if part == WhatAll {
			part = ""
		}
		return steps.Scheduled(req, jobs.Backup, part, work), nil
	}, nil
}
