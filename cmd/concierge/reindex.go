package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/indexer"
)

// reindex rebuilds the whole retrieval index from PostgreSQL.
func reindex(ctx context.Context, env config.LookupFunc) error {
	e, closeEnv, err := cliEnv(ctx, env, "reindex")
	if err != nil {
		return err
	}
	defer closeEnv()
	x, err := indexer.FromConfig(ctx, e.Config, e.DB)
	if err != nil {
		return err
	}
	res, err := x.Reindex(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
