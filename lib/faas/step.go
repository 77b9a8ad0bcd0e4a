// Runner runs one async step of the pipeline for a job: authenticate
// the invocation, claim the job, do the work, mark it done or record the
// failure for redrive, and answer the invocation with a status the
// queue-worker's callback reports.
//
// It is the one way a function runs a job, so it is where an invocation
// proves itself: a public function behind the gateway cannot tell the
// queue-worker from anyone else but by the job-signing key.

package faas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"

	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/payload"
)

// Work does a claimed job and returns a JSON-able summary.
type Work func(ctx context.Context, job jobs.Claimed) (any, error)

// Runner runs the jobs of one function.
type Runner struct {
	db       *pgxpool.Pool
	function string
	keys     *jobs.Keys
	// kinds are the kinds it runs, by name: each brings its policy and
	// time budget (stt: seconds for a voice message, minutes for a call
	// recording).
	kinds map[string]jobs.Kind
	// inv and now serve Scheduled: the job a schedule queues is invoked
	// through the gateway like every other.
	inv jobs.Invoker
	now func() time.Time
}

// New returns the runner of env's function for kinds, each run with the
// policy and time budget its declaration gives. A missing job-signing key
// is a configuration error naming it: the function must not start when it
// could only refuse its jobs. A kind of another function is a bug.
func NewRunner(env *Env, kinds ...jobs.Kind) (*Runner, error) {
	keys := env.RequireJobKeys()
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, jobs.ErrNoKeys
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("step: %s runs no job kinds", env.Name)
	}
	r := &Runner{db: env.DB, function: env.Name, keys: keys, kinds: map[string]jobs.Kind{}, inv: env.Invoker, now: env.Now}
	for _, k := range kinds {
		if k.Function != env.Name {
			return nil, fmt.Errorf("step: job kind %s belongs to %s, not %s", k.Name, k.Function, env.Name)
		}
		r.kinds[k.Name] = k
	}
	return r, nil
}

// refusedMessage is the whole answer to any invocation that is not a
// signed, fresh job of this function, whatever the reason: the caller
// learns neither which check failed nor whether the job id exists.
const refusedMessage = "job invocation refused"

// Refused is the answer to every refused invocation (tests compare with it).
func Refused() handler.Response {
	return Error(fault.New(fault.Unauthorized, refusedMessage))
}

// refuse logs why at warn level (never the signature or the key) and
// answers Refused.
func refuse(ctx context.Context, function, reason string) handler.Response {
	logging.From(ctx).Warn().Str("function", function).Str("reason", reason).Msg(refusedMessage)
	return Refused()
}

// Run handles an invocation whose body is a jobs.Message. Before any
// database access it checks the signature over the raw body, that the
// X-Job-Id header (which some functions route on) is the signed job id,
// and that the kind is one of r's; then it claims the row only if the row
// is of that kind.
func (r *Runner) Run(req handler.Request, work Work) handler.Response {
	ctx := req.Context()
	if err := r.keys.Verify(req.Header, r.function, req.Body); err != nil {
		return refuse(ctx, r.function, err.Error())
	}
	var msg jobs.Message
	if err := payload.Unmarshal(req.Body, &msg); err != nil {
		// Signed, so ours: a bug worth a clear 400, not a refusal.
		return Error(err)
	}
	if err := msg.Check(); err != nil {
		return Error(err)
	}
	if h := req.Header.Get(jobs.JobIDHeader); h != "" && !strings.EqualFold(h, msg.JobID) {
		return refuse(ctx, r.function, "X-Job-Id is not the signed job id")
	}
	kind, ok := r.kinds[msg.Kind]
	if !ok {
		return refuse(ctx, r.function, "kind "+clip(msg.Kind)+" is not run by this function")
	}
	log := logging.From(ctx).With().Str("job_id", msg.JobID).Str("kind", msg.Kind).Logger()
	ctx = logging.WithLogger(ctx, log)
	job, err := jobs.StartKind(ctx, r.db, msg.JobID, msg.Kind, kind.Policy)
	switch {
	case errors.Is(err, jobs.ErrWrongKind):
		return refuse(ctx, r.function, "the job row is of another kind")
	case errors.Is(err, jobs.ErrFinished), errors.Is(err, jobs.ErrBusy), errors.Is(err, jobs.ErrNotDue):
		// A repeated or concurrent invocation: the queue redelivered, or
		// redrive raced a slow attempt. Nothing to do twice.
		log.Info().Err(err).Msg("job skipped")
		return JSON(http.StatusOK, map[string]string{"status": "skipped", "reason": err.Error()})
	case err != nil:
		return Error(err)
	}
	out, err := r.work(ctx, kind, job, work)
	var sn *jobs.NotReady
	if errors.As(err, &sn) {
		if serr := jobs.Snooze(context.WithoutCancel(ctx), r.db, job, sn.Wait, sn.Reason); serr != nil {
			log.Error().Err(serr).Msg("could not snooze; the lease expiry hands the job to redrive")
		}
		log.Info().Str("reason", sn.Reason).Dur("wait", sn.Wait).Msg("job waiting")
		return JSON(http.StatusOK, map[string]string{"status": "waiting", "reason": sn.Reason})
	}
	if err != nil {
		status, ferr := jobs.Fail(context.WithoutCancel(ctx), r.db, job, err, kind.Policy)
		if ferr != nil {
			log.Error().Err(ferr).Msg("could not record the failure; the lease expiry hands the job to redrive")
		}
		log.Warn().Err(err).Str("status", status).Int("attempt", job.Attempt).Msg("job failed")
		res := Error(err)
		if status == jobs.StatusRetrying && res.StatusCode < 500 {
			res.StatusCode = http.StatusServiceUnavailable
		}
		if out != nil {
			// Work that reports even when it fails (a backup run names the
			// stage and the databases) keeps its report in the answer.
			code, h := res.StatusCode, res.Header
			res = JSON(code, map[string]any{"status": status, "job_id": job.ID, "error": fault.Public(err), "result": out})
			for k, v := range h {
				if k != "Content-Type" {
					res.Header[k] = v
				}
			}
		}
		return res
	}
	if err := jobs.Done(ctx, r.db, job); err != nil {
		// The work is idempotent: the job stays running, its lease expires
		// and redrive runs it again, changing nothing.
		return Error(fault.Wrap(fault.Unavailable, err, "database unavailable"))
	}
	log.Info().Int("attempt", job.Attempt).Msg("job done")
	return JSON(http.StatusOK, map[string]any{"status": "done", "job_id": job.ID, "result": out})
}

// work runs work for job within its kind's time budget, when it has one.
func (r *Runner) work(ctx context.Context, k jobs.Kind, job jobs.Claimed, work Work) (any, error) {
	if k.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, k.Budget)
		defer cancel()
	}
	return work(ctx, job)
}

// clip bounds a caller's string in a log line.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
