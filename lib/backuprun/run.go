// Package backuprun is one backup run as the backup function does it:
// every database of the server and its roles (lib/backup), then what
// changed in Chatwoot's attachment bucket (lib/attachments), with one
// report and one outcome. A database that fails fails its part and the
// run's status, not the others.
package backuprun

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/attachments"
	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/objstore"
	"github.com/harborstays/concierge/lib/payload"
)

// What a run does.
const (
	WhatAll         = "all"
	WhatDatabases   = "databases"
	WhatAttachments = "attachments"
)

// Answer is a run's report: the backup function's JSON answer.
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

// SkippedAttachments says why a run copies no attachment.
const SkippedAttachments = "no attachment bucket configured (ATTACHMENTS_S3_ACCESS_KEY_ID, secret attachments-access-key-id): attachments not backed up"

// Run backs up the databases, then the attachments.
type Run struct {
	Databases *backup.Service
	// Attachments is nil without an attachment bucket: a run skips them.
	Attachments *attachments.Syncer
}

// FromConfig builds a Run from the backup and attachment settings.
func FromConfig(cfg *config.Config, db *pgxpool.Pool, now func() time.Time) (*Run, error) {
	svc, err := backup.FromConfig(cfg, db, now)
	if err != nil {
		return nil, err
	}
	syncer, err := attachments.FromConfig(cfg, db, svc.Store, svc.Crypt, svc.Prefix, now)
	if err != nil {
		return nil, err
	}
	return &Run{Databases: svc, Attachments: syncer}, nil
}

// LogStart says at start where backups go and what a run leaves out.
func (r *Run) LogStart(log zerolog.Logger) {
	ev := log.Info().Str("store", r.Databases.Store.String()).Int("keep_daily", r.Databases.Policy.Daily).
		Int("keep_weekly", r.Databases.Policy.Weekly).Strs("databases", r.Databases.Databases).Bool("encrypted", r.Databases.Crypt.Enabled())
	if r.Attachments != nil {
		ev = ev.Str("attachments", r.Attachments.Source.String())
	}
	ev.Msg("backups go to " + r.Databases.Store.String())
	if _, local := r.Databases.Store.(*objstore.Dir); !local && !r.Databases.Crypt.Enabled() {
		log.Warn().Msg("backups leave this machine unencrypted: set BACKUP_AGE_RECIPIENTS and the backup-age-identity secret (docs/recovery.md)")
	}
	if r.Attachments == nil {
		log.Info().Msg(SkippedAttachments)
	}
}

// Request is what an unsigned POST may ask for; cron-connector's empty body
// is everything.
type Request struct {
	What string `json:"what"` // "", all, databases or attachments
}

// Part reads a run request and returns the part its job runs ("" for
// everything): a 400 for a body that is not a Request, or for attachments
// when no attachment bucket is configured, so nothing is queued in vain.
func (r *Run) Part(body []byte) (string, error) {
	var in Request
	if len(bytes.TrimSpace(body)) > 0 {
		// One enum, checked here: validator's traversal would cost the
		// backup binary 7 MB of S3 client methods the linker must keep
		// (lib/payload).
		if err := payload.Unmarshal(body, &in); err != nil {
			return "", err
		}
		switch in.What {
		case "", WhatAll, WhatDatabases, WhatAttachments:
		default:
			return "", fault.Field("what", "must be one of %s %s %s", WhatAll, WhatDatabases, WhatAttachments)
		}
	}
	if in.What == WhatAttachments && r.Attachments == nil {
		return "", fault.New(fault.Invalid, "%s", SkippedAttachments)
	}
	if in.What == WhatAll {
		return "", nil
	}
	return in.What, nil
}

// Job is the backup job's work (a step's): the run its schedule subject
// names, failed as an outage (retried) when only outages failed it.
func (r *Run) Job(ctx context.Context, job jobs.Claimed) (any, error) {
	_, what, err := jobs.ParseScheduleSubject(job.Subject)
	if err != nil {
		return nil, fault.Wrap(fault.Permanent, err, "bad backup job")
	}
	if what == "" {
		what = WhatAll
	}
	ans, status := r.run(ctx, what)
	switch status {
	case http.StatusOK:
		return ans, nil
	case http.StatusServiceUnavailable:
		return ans, fault.New(fault.Unavailable, "backup failed at %s: %s", ans.Stage, ans.Error)
	}
	// Failed for good in this attempt (a restore that did not verify, a
	// database that is not there): 500 as before, and, as a job, tried
	// again up to jobs.Backup.Policy.MaxAttempts, then parked failed for a
	// person.
	return ans, fault.Wrap(fault.Internal, fmt.Errorf("backup failed at %s: %s", ans.Stage, ans.Error), "backup failed at "+ans.Stage)
}

// run does what (WhatAll, WhatDatabases, WhatAttachments) and answers the
// report with the HTTP status it stands for.
func (r *Run) run(ctx context.Context, what string) (*Answer, int) {
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
		rr, err := r.Databases.RunAll(ctx)
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
		if r.Attachments == nil {
			ans.Skipped = SkippedAttachments
		} else {
			rep, err := r.Attachments.Run(ctx)
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
