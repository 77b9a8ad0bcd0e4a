package backup

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/objstore"
)

// Settings of the backup function and the restore commands (the store's own
// settings are in lib/objstore).
var (
	KeepDaily = config.Register(config.Setting{Name: "BACKUP_KEEP_DAILY", Default: "7",
		Help: "retention: the newest verified backup of each of the last N days that have one", Used: "backup"})
	KeepWeekly = config.Register(config.Setting{Name: "BACKUP_KEEP_WEEKLY", Default: "4",
		Help: "retention: the newest verified backup of each of the last M ISO weeks that have one", Used: "backup"})
	KeyPrefix = config.Register(config.Setting{Name: "BACKUP_PREFIX",
		Help: "prefix of the object keys (e.g. production/ when environments share a bucket)", Used: "backup, make restore"})
	Databases = config.Register(config.Setting{Name: "BACKUP_DATABASES",
		Help: "databases backed up on DATABASE_URL's server with its role, comma-separated (default: DATABASE_URL's own; production: concierge,chatwoot,keycloak — grants in docs/recovery.md)", Used: "backup, make restore"})
	VerifyTemplate = config.Register(config.Setting{Name: "BACKUP_VERIFY_TEMPLATE", Default: DefaultTemplate,
		Help: "template of the scratch databases that verify each dump (and of make restore's); one holding the extensions the backup role may not create, e.g. chatwoot's vector (docs/recovery.md)", Used: "backup, make restore"})
	PGBinDir = config.Register(config.Setting{Name: "PG_BINDIR",
		Help: "folder of pg_dump and pg_restore (default: /usr/lib/postgresql/MAJOR/bin for the server's major version); also the server binaries of make run and the tests", Used: "backup, make restore, make run, tests"})
)

// FromConfig builds the Service over pool from the settings; the database
// itself is DATABASE_URL, which pg_dump and pg_restore connect to.
func FromConfig(cfg *config.Config, pool *pgxpool.Pool, now func() time.Time) (*Service, error) {
	dbURL := cfg.Require(config.DatabaseURL)
	policy := Policy{Daily: cfg.Int(KeepDaily), Weekly: cfg.Int(KeepWeekly)}
	prefix := cfg.String(KeyPrefix)
	binDir := cfg.String(PGBinDir)
	databases := cfg.List(Databases)
	template := cfg.String(VerifyTemplate)
	crypt := CryptFromConfig(cfg)
	for _, d := range databases {
		if d == GlobalsName || strings.ContainsAny(d, "/?#%") {
			cfg.Reject(Databases, "%q is not a database name this function can back up", d)
		}
	}
	store, storeErr := objstore.FromConfig(cfg)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if storeErr != nil {
		return nil, fmt.Errorf("configuration: %w", storeErr)
	}
	if policy.Daily < 0 || policy.Weekly < 0 {
		return nil, fmt.Errorf("configuration: BACKUP_KEEP_DAILY and BACKUP_KEEP_WEEKLY must be 0 or more")
	}
	conn, err := parseConnInfo(dbURL)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &Service{DB: pool, conn: conn, Store: store, Policy: policy, Prefix: prefix, BinDir: binDir, Now: now,
		Databases: slices.Compact(databases), Crypt: crypt, Template: template}, nil
}
