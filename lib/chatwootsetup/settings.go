package chatwootsetup

import "github.com/harborstays/concierge/lib/config"

// Settings of the setup. CHATWOOT_URL is lib/chatwoot's.
var (
	SettingPlatformToken = config.Register(config.Setting{Name: "CHATWOOT_PLATFORM_TOKEN", Secret: "chatwoot-platform-token",
		Help: "access token of the Chatwoot platform app that sets the account up (the chatwoot_setup role creates the app; or Super Admin > Platform Apps)",
		Used: "concierge chatwoot-setup"})
	SettingFile = config.Register(config.Setting{Name: "CHATWOOT_SETUP_FILE",
		Help: "desired state of the Chatwoot account (YAML, e.g. ansible/roles/chatwoot_setup/files/chatwoot.yml); doctor checks it when set, else what the code needs (labels, contact attributes, a widget with identity validation, an API inbox, the bot on an inbox)",
		Used: "concierge chatwoot-setup, concierge doctor"})
	SettingIMAPPassword = config.Register(config.Setting{Name: "CHATWOOT_EMAIL_IMAP_PASSWORD", Secret: "chatwoot-email-imap-password",
		Help: "password of the e-mail inbox's IMAP login (incoming mail)", Used: "concierge chatwoot-setup"})
	SettingSMTPPassword = config.Register(config.Setting{Name: "CHATWOOT_EMAIL_SMTP_PASSWORD", Secret: "chatwoot-email-smtp-password",
		Help: "password of the e-mail inbox's SMTP login (replies sent from the inbox's address)", Used: "concierge chatwoot-setup"})
)
