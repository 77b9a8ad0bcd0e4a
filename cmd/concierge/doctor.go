package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/doctor"
)

const doctorUsage = `usage: concierge doctor [--stack stack.yml] [--timeout 10s] [--json]

Checks every configured provider for real (PostgreSQL, embeddings and
Qdrant, Azure Speech, the backup bucket, the model, Chatwoot, the Aircall
API) with the configuration the functions read: the environment, then the
secret files under SECRETS_DIR. One line per check: ✓ ok, ✗ failed (with
the setting to change), – skipped (not configured: the local default is in
use). The exit status is 1 when any check failed.

  --stack    the stack file the functions were deployed from (replicas per
             function, for the database connection budget)
  --timeout  time budget of each check
  --json     one JSON document instead of lines
`

// errChecksFailed ends the command with status 1 after the report.
type errChecksFailed int

func (e errChecksFailed) Error() string {
	if e == 1 {
		return "1 check failed"
	}
	return fmt.Sprintf("%d checks failed", int(e))
}

// doctorCommand runs the checks and prints the report to out; it returns
// an error when a check failed or the arguments are wrong.
func doctorCommand(ctx context.Context, env config.LookupFunc, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stackFile := fs.String("stack", "./"+doctor.DefaultStackFile, "")
	timeout := fs.Duration("timeout", doctor.DefaultTimeout, "")
	asJSON := fs.Bool("json", false, "")
	if help, err := parseArgs(fs, args, doctorUsage, out); help || err != nil {
		return err
	}
	if *timeout <= 0 {
		*timeout = doctor.DefaultTimeout
	}
	d := doctor.New(doctor.Options{Lookup: env, StackFile: *stackFile})
	defer d.Close()
	outs := doctor.Run(ctx, d.Checks(), *timeout)
	var err error
	if *asJSON {
		err = doctor.WriteJSON(out, outs)
	} else {
		err = doctor.WriteText(out, outs)
	}
	if err != nil {
		return err
	}
	if n := doctor.Failures(outs); n > 0 {
		return errChecksFailed(n)
	}
	return nil
}
