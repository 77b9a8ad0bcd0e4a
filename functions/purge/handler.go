// Package function is the purge OpenFaaS function: cron-connector invokes
// it with an empty POST (stack.yml schedule) and it deletes the voice
// clips — guests' voice messages and spoken replies — whose VOICE_TTL has
// passed, answering the counts.
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/voice"
)

// Name is the function's name in stack.yml.
const Name = "purge"

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		// The function's clock, the one stt and tts set expires_at with.
		res, err := voice.Purge(req.Context(), env.DB, env.Now())
		if err != nil {
			return endpoint.Error(err), nil
		}
		logging.From(req.Context()).Info().Int64("deleted", res.Deleted).Int64("bytes", res.Bytes).Msg("voice clips purged")
		return endpoint.JSON(http.StatusOK, map[string]any{"status": "done", "result": res}), nil
	}, nil
}
