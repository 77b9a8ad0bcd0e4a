package faas

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Scheduled serves a function that cron-connector calls and whose work
// outlasts a request: the call only queues a job and answers 202; the job,
// invoked through the gateway like every other, does the work.
//
// cron-connector 0.3.2 calls synchronously (POST /function/NAME) whatever
// the schedule says, so a long run was one HTTP request through the
// gateway: a gateway restart or its upstream timeout cut it, and nothing
// ran it again. As a job it has a lease, retries with back-off, and
// redrive; and the burst of calls a stale schedule makes is one job,
// because a minute's slot queues once (jobs.EnqueueOnce).
//
// A signed invocation is the job itself and runs work (Run). Any other
// POST queues the job of kind k for the current minute; part, when not
// empty, narrows the run and becomes part of the subject, for work to
// read back with jobs.ParseScheduleSubject.
func (r *Runner) Scheduled(req handler.Request, k jobs.Kind, part string, work Work) handler.Response {
	if req.Header.Get(jobs.SignatureHeader) != "" {
		return r.Run(req, work)
	}
	ctx := req.Context()
	if _, ok := r.kinds[k.Name]; !ok {
		return Error(fault.New(fault.Permanent, "step: %s does not run %s jobs", r.function, k.Name))
	}
	subject := jobs.ScheduleSubject(r.now(), part)
	job, created, err := r.enqueueOnce(ctx, k, subject, logging.Trace(ctx))
	if err != nil {
		return Error(fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	log := logging.From(ctx).With().Str("job_id", job.ID).Str("subject", subject).Logger()
	if !created {
		log.Info().Msg("scheduled run already queued for this minute")
		return JSON(http.StatusOK, map[string]string{"status": "already queued", "job_id": job.ID, "subject": subject})
	}
	// After commit: a failed invocation leaves the job pending for redrive.
	jobs.Dispatch(ctx, r.inv, []jobs.Job{job})
	log.Info().Msg("scheduled run queued")
	return JSON(http.StatusAccepted, map[string]string{"status": "queued", "job_id": job.ID, "subject": subject})
}

func (r *Runner) enqueueOnce(ctx context.Context, k jobs.Kind, subject, traceID string) (jobs.Job, bool, error) {
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return jobs.Job{}, false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	job, created, err := jobs.EnqueueOnce(ctx, tx, k, subject, traceID)
	if err != nil {
		return jobs.Job{}, false, err
	}
	return job, created, tx.Commit(ctx)
}
