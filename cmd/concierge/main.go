// Command concierge is the local runner and operator tool.
//
//	concierge run            the whole system on 127.0.0.1:$PORT (make run)
//	concierge config-table   the README's configuration table
//	concierge backups        list the backups in the backup store (make restore)
//	concierge restore        restore a backup into a new database (make restore BACKUP=… INTO=…)
//	concierge replay         re-queue failed jobs by kind or id (make replay)
//	concierge replay-events  apply webhook events stored unparsed, once the decoder reads them
//	concierge reindex        rebuild the retrieval index from PostgreSQL (make reindex)
//	concierge quarantine     list the passages held back from the index as instructions to an assistant
//	concierge doctor         check every configured provider for real (make doctor)
//	concierge chatwoot-setup set the Chatwoot account up as code (the chatwoot_setup Ansible role runs it)
//	concierge guesty-import  import the Guesty account through the Open API (make import-guesty)
//	concierge fake-guesty    a fake Guesty Open API on loopback, for make run and make import-guesty (make fake-guesty)
//	concierge forget-guest   erase one guest's personal data (or replay the erasure log after a restore)
//	concierge export-guest   write everything held about one guest as JSON and HTML
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
	case "backups":
		err = backupsCommand(ctx, os.LookupEnv, os.Args[2:], os.Stdout)
	case "restore":
		err = restoreCommand(ctx, os.LookupEnv, os.Args[2:], os.Stdout)
	case "replay":
		err = replay(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	case "replay-events":
		err = replayEvents(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	case "reindex":
		err = reindex(ctx, os.LookupEnv)
	case "quarantine":
		err = quarantineCommand(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	case "doctor":
		err = doctorCommand(ctx, os.LookupEnv, os.Args[2:], os.Stdout)
	case "chatwoot-setup":
		err = chatwootSetupCommand(ctx, os.LookupEnv, os.Args[2:], os.Stdout)
	case "guesty-import":
		err = guestyImport(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	case "fake-guesty":
		err = fakeGuesty(ctx, os.Args[2:], os.Stdout)
	case "forget-guest":
		err = forgetGuest(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	case "export-guest":
		err = exportGuest(ctx, os.Args[2:], os.LookupEnv, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q; use run, doctor, chatwoot-setup, guesty-import, fake-guesty, forget-guest, export-guest, reindex, quarantine, replay, replay-events, backups, restore or config-table", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "concierge:", err)
		os.Exit(1)
	}
}
