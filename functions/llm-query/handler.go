// Package function is the llm-query OpenFaaS function, Chatwoot's agent
// bot. A Chatwoot event (the bot's webhook URL points at
// /function/llm-query) is stored and acknowledged at once; a guest message
// queues an answer job, which the same function runs asynchronously once
// the guest's burst of messages has settled.
package function

import (
	"context"
	"net/http"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/bot"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
)

// Name is the function's name in stack.yml.
const Name = "llm-query"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// intakeBudget keeps the answer to Chatwoot far inside its webhook
// timeout (WEBHOOK_TIMEOUT, 5 s): Chatwoot does not retry a timeout, it
// moves the pending conversation to open, where the bot never answers.
const intakeBudget = 3 * time.Second

// chatwootError answers a failed event the way Chatwoot's agent-bot job
// understands: it retries 429 and 500 only (3 attempts, 3 s apart), and any
// other status, 503 included, hands the conversation to a person at once.
// A passing failure (the database away) is therefore a 500.
func chatwootError(err error) handler.Response {
	res := faas.Error(err)
	if res.StatusCode >= 500 {
		res.StatusCode = http.StatusInternalServerError
	}
	return res
}

// New builds the handler from env.
func New(ctx context.Context, env *faas.Env) (faas.HandleFunc, error) {
	b, err := bot.FromConfig(ctx, env.Config, env.DB, env.Invoker, env.Now)
	if err != nil {
		return nil, err
	}
	b.Answerer.Attempts = jobs.Answer.Policy.MaxAttempts
	steps, err := faas.NewRunner(env, jobs.Answer)
	if err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost); err != nil {
			return faas.Error(err), nil
		}
		if req.Header.Get(jobs.JobIDHeader) != "" {
			// A job invocation (the header is only a route: the runner
			// refuses it unless it is signed for this job and kind).
			return steps.Run(req, b.Answerer.Run), nil
		}
		ctx, cancel := context.WithTimeout(req.Context(), intakeBudget)
		defer cancel()
		out, err := b.Intake.Receive(ctx, req.Header, req.Body)
		if err != nil {
			return chatwootError(err), nil
		}
		return faas.JSON(http.StatusOK, map[string]string{"status": string(out)}), nil
	}, nil
}
