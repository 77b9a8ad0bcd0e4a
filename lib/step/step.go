// Package step runs one async step of the pipeline for a job: claim the job,
// do the work, mark it done or record the failure for redrive, and answer
// the invocation with a status the queue-worker's callback reports.
package step

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Snooze is returned by Work whose input is not ready yet: the job waits
// Wait without the attempt counting (jobs.Snooze), and redrive runs it again.
type Snooze struct {
	Wait   time.Duration
	Reason string
}

func (s *Snooze) Error() string { return "waiting: " + s.Reason }

// Work does a claimed job and returns a JSON-able summary.
type Work func(ctx context.Context, job jobs.Claimed) (any, error)

// Run handles an invocation whose body is a jobs.Message.
func Run(db *pgxpool.Pool, policy jobs.Policy, req handler.Request, work Work) handler.Response {
	return RunFor(db, func(string) jobs.Policy { return policy }, req, work)
}

// RunFor is Run for a function whose job kinds need different policies
// (stt: seconds for a voice message, minutes for a call recording).
func RunFor(db *pgxpool.Pool, policyOf func(kind string) jobs.Policy, req handler.Request, work Work) handler.Response {
	ctx := req.Context()
	var msg jobs.Message
	if err := endpoint.Decode(req.Body, &msg); err != nil {
		return endpoint.Error(err)
	}
	policy := policyOf(msg.Kind)
	log := logging.From(ctx).With().Str("job_id", msg.JobID).Str("kind", msg.Kind).Logger()
	ctx = logging.WithLogger(ctx, log)
	job, err := jobs.Start(ctx, db, msg.JobID, policy)
	switch {
	case errors.Is(err, jobs.ErrFinished), errors.Is(err, jobs.ErrBusy), errors.Is(err, jobs.ErrNotDue):
		// A repeated or concurrent invocation: the queue redelivered, or
		// redrive raced a slow attempt. Nothing to do twice.
		log.Info().Err(err).Msg("job skipped")
		return endpoint.JSON(http.StatusOK, map[string]string{"status": "skipped", "reason": err.Error()})
	case err != nil:
		return endpoint.Error(err)
	}
	out, err := work(ctx, job)
	var sn *Snooze
	if errors.As(err, &sn) {
		if serr := jobs.Snooze(context.WithoutCancel(ctx), db, job, sn.Wait, sn.Reason); serr != nil {
			log.Error().Err(serr).Msg("could not snooze; the lease expiry hands the job to redrive")
		}
		log.Info().Str("reason", sn.Reason).Dur("wait", sn.Wait).Msg("job waiting")
		return endpoint.JSON(http.StatusOK, map[string]string{"status": "waiting", "reason": sn.Reason})
	}
	if err != nil {
		status, ferr := jobs.Fail(context.WithoutCancel(ctx), db, job, err, policy)
		if ferr != nil {
			log.Error().Err(ferr).Msg("could not record the failure; the lease expiry hands the job to redrive")
		}
		log.Warn().Err(err).Str("status", status).Int("attempt", job.Attempt).Msg("job failed")
		res := endpoint.Error(err)
		if status == jobs.StatusRetrying && res.StatusCode < 500 {
			res.StatusCode = http.StatusServiceUnavailable
		}
		return res
	}
	if err := jobs.Done(ctx, db, job); err != nil {
		// The work is idempotent: the job stays running, its lease expires
		// and redrive runs it again, changing nothing.
		return endpoint.Error(fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	log.Info().Int("attempt", job.Attempt).Msg("job done")
	return endpoint.JSON(http.StatusOK, map[string]any{"status": "done", "job_id": job.ID, "result": out})
}
