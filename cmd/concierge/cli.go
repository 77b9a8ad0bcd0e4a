package main

import (
	"context"
	"os"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/logging"
)

// cliEnv opens what an operator command needs, the way the runner does:
// DATABASE_URL when set, else the local cluster under DATA_DIR (started
// for the command and stopped after it). close releases everything.
func cliEnv(ctx context.Context, env config.LookupFunc, name string) (e *fnenv.Env, close func(), err error) {
	sys := &system{}
	defer func() {
		if err != nil {
			sys.Close()
		}
	}()
	cfg := config.New(env)
	dataDir := cfg.String(dataDirSetting)
	vars := map[string]string{"KNOWLEDGE_DIR": "knowledge"}
	if u, _ := env("DATABASE_URL"); u == "" {
		url, err := localDatabase(ctx, sys, dataDir, logging.New(name, os.Stderr, cfg.String(config.LogLevel)))
		if err != nil {
			return nil, nil, err
		}
		vars["DATABASE_URL"] = url
	}
	e, err = fnenv.Open(ctx, fnenv.Options{Name: name, Lookup: config.Layered(env, config.FromMap(vars))})
	if err != nil {
		return nil, nil, err
	}
	sys.close = append(sys.close, e.DB.Close)
	return e, sys.Close, nil
}
