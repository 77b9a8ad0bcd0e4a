// Command handler is the process of-watchdog starts (fprocess=./handler): it
// serves the function's Handle on 127.0.0.1:8082 (upstream_url) through
// lib/faas, with the read/write timeouts the watchdog reads too, until
// SIGTERM.
//
// build.sh places this file at cmd/handler/ in a copy of the monorepo tree and
// the function's handler directory at functions/handler/ (see README.md).
// Every function of the monorepo exports Init and Handle.
package main

import (
	"fmt"
	"os"

	function "github.com/harborstays/concierge/functions/handler"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fault"
)

func main() {
	// Validate the configuration before serving: a missing setting stops the
	// container with a message naming it. A database that is not up yet
	// does not: requests get 503 until it answers, and senders retry.
	if err := function.Init(); err != nil {
		if fault.KindOf(err) != fault.Unavailable {
			fmt.Fprintf(os.Stderr, "handler: %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "handler: starting without a database: %v\n", err)
	}
	if err := faas.Run(function.Handle); err != nil {
		fmt.Fprintf(os.Stderr, "handler: %v\n", err)
		os.Exit(1)
	}
}
