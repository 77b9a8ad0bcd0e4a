package config

// The settings every function shares (logging, database, gateway, job
// signing) and the webhooks' own. Every other setting is registered beside
// the code that reads it (a package-level config.Register, e.g. in
// lib/guesty/api.go or lib/bot/settings.go). The README table is generated
// from the registry, All, by `go run ./cmd/concierge config-table`, which
// links every function, and a test keeps the two in step.
var (
	LogLevel         = Register(Setting{Name: "LOG_LEVEL", Default: "info", Help: "zerolog level: debug, info, warn, error", Used: "all"})
	SecretsDir       = Register(Setting{Name: "SECRETS_DIR", Default: DefaultSecretsDir, Help: "folder holding the secret files", Used: "all"})
	DatabaseURL      = Register(Setting{Name: "DATABASE_URL", Secret: "database-url", Help: "PostgreSQL connection string (the runner starts its own cluster when unset)", Used: "all"})
	DatabaseMaxConns = Register(Setting{Name: "DATABASE_MAX_CONNS", Default: "4", Help: "pgxpool size per replica (production: 34 replicas at most x 4 stay under max_connections=200 beside Chatwoot and Keycloak)", Used: "all"})
	GatewayURL       = Register(Setting{Name: "GATEWAY_URL", Default: "http://gateway:8080", Help: "OpenFaaS gateway for async invocations", Used: "hooks, steps"})
	MaxBodyBytes     = Register(Setting{Name: "MAX_BODY_BYTES", Default: "1048576", Help: "largest request body accepted (413 above)", Used: "all"})
	PhoneRegion      = Register(Setting{Name: "DEFAULT_PHONE_REGION", Default: "US", Help: "region for phone numbers written without a country code", Used: "hooks"})
	JobSigningKey    = Register(Setting{Name: "JOB_SIGNING_KEY", Secret: "job-signing-key", Help: "HMAC key (32+ characters) that signs job invocations between functions; comma-separated to rotate: the first signs, every one verifies (make run generates one per run)", Used: "hooks, steps, redrive, concierge replay"})

	AircallTokens = Register(Setting{Name: "AIRCALL_WEBHOOK_TOKEN", Secret: "aircall-webhook-token", Help: "Aircall webhook token(s), comma-separated to allow rotation", Used: "aircall-hook"})

	GuestySecret    = Register(Setting{Name: "GUESTY_WEBHOOK_SECRET", Secret: "guesty-webhook-secret", Help: "Svix signing secret of the Guesty webhook (whsec_...)", Used: "guesty-hook"})
	GuestySignature = Register(Setting{Name: "GUESTY_SIGNATURE", Default: "required", Help: "required, or off for unsigned deliveries (not recommended)", Used: "guesty-hook"})
)
