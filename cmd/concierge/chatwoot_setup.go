package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwootsetup"
	"github.com/harborstays/concierge/lib/config"
)

const chatwootSetupUsage = `usage: concierge chatwoot-setup [--config FILE] [--account-id N] [--out DIR] [--dry-run]

Sets the Chatwoot account up as the setup file declares, through Chatwoot's
Platform API (the account, an administrator to act as) and account API
(agents and roles, teams, inboxes, labels, contact attributes, the agent
bot), and prints one line per object: created, updated, unchanged, skipped,
or console (what no API sets). A second run changes nothing.

Settings: CHATWOOT_URL, CHATWOOT_PLATFORM_TOKEN (secret
chatwoot-platform-token), CHATWOOT_EMAIL_IMAP_PASSWORD and
CHATWOOT_EMAIL_SMTP_PASSWORD for an e-mail inbox; the environment names
the setup file uses (${NAME}).

  --config      the setup file (default CHATWOOT_SETUP_FILE, else
                ansible/roles/chatwoot_setup/files/chatwoot.yml)
  --account-id  the account to set up, one the platform app created or was
                granted (default: found by name, or created)
  --out         write the secrets the functions need there, one file per
                secret named like it (chatwoot-webhook-secret, ...), and
                chatwoot-setup.json with the ids
  --dry-run     change nothing: compare with CHATWOOT_CONTACTS_TOKEN (an
                administrator's) on CHATWOOT_ACCOUNT_ID and print the plan
`

// defaultSetupFile is the desired state the Ansible role ships.
const defaultSetupFile = "ansible/roles/chatwoot_setup/files/chatwoot.yml"

func chatwootSetupCommand(ctx context.Context, env config.LookupFunc, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chatwoot-setup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", "", "")
	accountID := fs.Int64("account-id", 0, "")
	outDir := fs.String("out", "", "")
	dry := fs.Bool("dry-run", false, "")
	if help, err := parseArgs(fs, args, chatwootSetupUsage, out); help || err != nil {
		return err
	}
	cfg := config.New(env)
	base := cfg.URL(chatwoot.SettingURL)
	if *file == "" {
		*file = cfg.String(chatwootsetup.SettingFile)
	}
	if *file == "" {
		*file = defaultSetupFile
	}
	var platformToken, imap, smtp, contacts string
	if *dry {
		contacts = cfg.Require(chatwoot.SettingContactsToken)
		if *accountID == 0 {
			*accountID = int64(cfg.Int(chatwoot.SettingAccountID))
		}
	} else {
		platformToken = cfg.Require(chatwootsetup.SettingPlatformToken)
		imap, smtp = cfg.String(chatwootsetup.SettingIMAPPassword), cfg.String(chatwootsetup.SettingSMTPPassword)
	}
	if base == "" {
		cfg.Require(chatwoot.SettingURL)
	}
	if err := cfg.Err(); err != nil {
		return err
	}
	st, err := chatwootsetup.Load(*file, env)
	if err != nil {
		return err
	}
	var rep chatwootsetup.Report
	if *dry {
		rep, err = chatwootsetup.Inspect(ctx, chatwootsetup.InspectOptions{BaseURL: base, AccountID: *accountID, Token: contacts, State: &st})
	} else {
		rep, err = chatwootsetup.Run(ctx, chatwootsetup.Options{BaseURL: base, PlatformToken: platformToken, AccountID: *accountID,
			State: st, IMAPPassword: imap, SMTPPassword: smtp})
	}
	if werr := rep.WriteText(out); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("chatwoot-setup: %w", err)
	}
	if *outDir != "" && !*dry {
		if err := chatwootsetup.WriteOutputs(*outDir, rep.Outputs); err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "chatwoot-setup: account %d; secrets and ids written to %s\n", rep.Outputs.AccountID, *outDir)
	}
	return err
}
