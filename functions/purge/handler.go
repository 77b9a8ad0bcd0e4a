// Package function is the purge OpenFaaS function: the scheduled retention
// pass. cron-connector invokes it with an empty POST (stack.yml schedule);
// it deletes what has outlived its retention — voice clips after
// VOICE_TTL, voice in Chatwoot, raw webhook events, finished jobs,
// replies (folded into daily counts), messages and transcripts, calls —
// erases the guests Guesty deleted, takes the retrieval index along, and
// answers the figures. GET answers the latest pass as Prometheus metrics.
//
// Retention grew inside purge rather than beside it: purge already was the
// one scheduled function that deletes personal data, with its schedule,
// its single replica (two passes would only skip each other's rows) and
// its place in the runner and the deployment; a second function would
// have split one policy over two schedules.
package function

import (
	"context"
	"io"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/guestdata"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/retention"
)

// Name is the function's name in stack.yml.
const Name = "purge"

var entry = faas.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env.
func New(ctx context.Context, env *faas.Env) (faas.HandleFunc, error) {
	policy := retention.PolicyFrom(env.Config)
	clients, err := chatwoot.FromConfig(env.Config)
	if err != nil {
		return nil, err
	}
	key := guestdata.KeyFrom(env.Config)
	index, err := indexer.OpenIndex(ctx, env.Config, env.DB)
	if err != nil {
		return nil, err
	}
	if err := env.Config.Err(); err != nil {
		return nil, err
	}
	p := &retention.Purger{DB: env.DB, Index: index, Policy: policy, Key: key}
	if clients.Contacts != nil {
		// Deleting a message needs an agent's or administrator's token:
		// the contacts token is one, the bot's is refused.
		p.Chatwoot = retention.AnyAccount{Client: clients.Contacts}
	}
	if key == nil {
		env.Log.Warn().Str("setting", guestdata.SettingLogKey.Name).Msg("no erasure log key: guests Guesty deleted wait for one")
	}
	return func(req handler.Request) (handler.Response, error) {
		if err := faas.Method(req, http.MethodPost, http.MethodGet); err != nil {
			return faas.Error(err), nil
		}
		if req.Method == http.MethodGet {
			return faas.Prometheus(func(w io.Writer) error { return retention.WritePrometheus(req.Context(), env.DB, w) }), nil
		}
		res, err := p.Pass(req.Context(), env.Now())
		if err != nil {
			return faas.Error(err), nil
		}
		return faas.JSON(http.StatusOK, map[string]any{"status": "done", "result": res}), nil
	}, nil
}
