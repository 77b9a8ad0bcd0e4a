// Package function is the backup OpenFaaS function: cron-connector invokes
// it daily (stack.yml schedule); it dumps the database into object storage,
// verifies a restore of what it stored and applies retention (lib/backup).
package function

import (
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/endpoint"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/logging"
)

// Name is the function's name in stack.yml.
const Name = "backup"

var entry = fnenv.NewEntry(Name, New)

// Init builds the function from the environment; the template calls it at start.
func Init() error { return entry.Init() }

// Handle is the OpenFaaS entry point.
func Handle(req handler.Request) (handler.Response, error) { return entry.Handle(req) }

// New builds the handler from env. The request body is ignored: a run takes
// no input.
func New(_ context.Context, env *fnenv.Env) (fnserver.HandleFunc, error) {
	svc, err := backup.FromConfig(env.Config, env.DB, env.Now)
	if err != nil {
		return nil, err
	}
	env.Log.Info().Str("store", svc.Store.String()).Int("keep_daily", svc.Policy.Daily).
		Int("keep_weekly", svc.Policy.Weekly).Msg("backups go to " + svc.Store.String())
	return func(req handler.Request) (handler.Response, error) {
		if err := endpoint.Method(req, http.MethodPost); err != nil {
			return endpoint.Error(err), nil
		}
		ctx := req.Context()
		rep, err := svc.Run(ctx)
		if err != nil {
			// The failure metric: this line, the backups row marked failed,
			// and the non-2xx status the gateway counts
			// (gateway_function_invocation_total{code!~"2.."}).
			logging.From(ctx).Error().Err(err).Str("stage", backup.Stage(err)).Bool("backup_failed", true).Msg("backup failed")
			return endpoint.JSON(endpoint.Status(err), map[string]string{
				"status": "failed", "stage": backup.Stage(err), "error": fault.Public(err),
			}), nil
		}
		return endpoint.JSON(http.StatusOK, rep), nil
	}, nil
}
