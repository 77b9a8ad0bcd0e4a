// Command concierge is the local runner and operator tool.
//
//	concierge run            the whole system on 127.0.0.1:$PORT (make run)
//	concierge config-table   the README's configuration table
//	concierge reindex        rebuild the retrieval index from PostgreSQL (make reindex)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "run":
		err = run(ctx, os.LookupEnv)
	case "config-table":
		_, err = fmt.Print(configTable())
	case "reindex":
		err = reindex(ctx, os.LookupEnv)
	default:
		err = fmt.Errorf("unknown command %q; use run or config-table", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "concierge:", err)
		os.Exit(1)
	}
}
