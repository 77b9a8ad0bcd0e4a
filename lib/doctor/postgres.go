package doctor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/stack"
)

// DefaultHeadroom is the connections left to everything but the functions:
// Chatwoot (Puma's 5 threads, Sidekiq's 10, the one-shot migrate's 5),
// Keycloak (its pool grows with sign-ins; 20 is ample for staff), and 10
// for operators (psql, the backup's pg_dump and pg_restore, this command).
const DefaultHeadroom = 50

// openFaaSMaxReplicas is the gateway's com.openfaas.scale.max when a
// function has none.
const openFaaSMaxReplicas = 20

// doctorConns is the pool size of the doctor's own connection: the four
// database checks run at once.
const doctorConns = 4

type pgInfo struct {
	unset  bool
	pool   *pgxpool.Pool
	server db.Server
	where  string
	err    error
}

// database connects once for the four database checks.
func (d *Doctor) database(ctx context.Context) pgInfo {
	return d.pg.get(func() pgInfo {
		cfg := config.New(d.o.Lookup)
		url := cfg.String(config.DatabaseURL)
		if err := cfg.Err(); err != nil {
			return pgInfo{err: err}
		}
		if url == "" {
			return pgInfo{unset: true}
		}
		pool, err := db.Open(ctx, url, doctorConns)
		if err != nil {
			return pgInfo{err: err}
		}
		pc := pool.Config().ConnConfig
		info := pgInfo{pool: pool, where: fmt.Sprintf("%s:%d/%s as %s", pc.Host, pc.Port, pc.Database, pc.User)}
		info.server, info.err = db.ServerInfo(ctx, pool)
		return info
	})
}

const databaseUnset = "make run's own cluster under DATA_DIR (DATABASE_URL unset)"

func (d *Doctor) postgres(ctx context.Context, _ *config.Config) Result {
	pg := d.database(ctx)
	switch {
	case pg.unset:
		return LocalDefault(databaseUnset)
	case pg.err != nil:
		return Failed(pg.err.Error(), "DATABASE_URL (secret database-url): host, port, database, user and password of the concierge role")
	}
	version, _, _ := strings.Cut(pg.server.Version, " ")
	return Pass("PostgreSQL %s at %s", version, pg.where)
}

// connected returns the pool, or the skip of a check that needs one.
func (d *Doctor) connected(ctx context.Context) (*pgxpool.Pool, *Result) {
	pg := d.database(ctx)
	switch {
	case pg.unset:
		r := Skipped("not checked: DATABASE_URL unset")
		return nil, &r
	case pg.err != nil:
		r := Skipped("not checked: no connection (see postgres)")
		return nil, &r
	}
	return pg.pool, nil
}

func (d *Doctor) migrations(ctx context.Context, _ *config.Config) Result {
	pool, skip := d.connected(ctx)
	if skip != nil {
		return *skip
	}
	st, err := db.Migrations(ctx, pool)
	if err != nil {
		return Failed(err.Error(), "the concierge role must be able to read schema_migrations (DATABASE_URL)")
	}
	switch {
	case len(st.Unknown) > 0:
		return Failed(fmt.Sprintf("the database has %d migration(s) this build lacks: %s (a newer build migrated it)", len(st.Unknown), strings.Join(st.Unknown, ", ")),
			"run the doctor of the build that is deployed, or deploy this build's TAG; or point DATABASE_URL at the right database")
	case len(st.Pending) > 0:
		return Failed(fmt.Sprintf("%d of %d migrations pending: %s", len(st.Pending), len(st.Embedded), strings.Join(st.Pending, ", ")),
			"the functions apply them when they start: deploy this build (faas-cli deploy -f stack.yml) and look at a function's log if they stay pending")
	}
	return Pass("all %d applied (latest %s)", len(st.Embedded), st.Latest)
}

func (d *Doctor) createDB(ctx context.Context, _ *config.Config) Result {
	pool, skip := d.connected(ctx)
	if skip != nil {
		return *skip
	}
	role, err := db.CurrentRole(ctx, pool)
	switch {
	case err != nil:
		return Failed(err.Error(), "DATABASE_URL")
	case role.Superuser:
		return Pass("role %s is a superuser (backup verification can create its scratch database)", role.Name)
	case role.CreateDB:
		return Pass("role %s may CREATEDB (backup verification restores into a scratch database)", role.Name)
	}
	return Failed(fmt.Sprintf("role %s may not create databases: every backup run would fail its verification", role.Name),
		fmt.Sprintf("as postgres: ALTER ROLE %s CREATEDB; (docs/deploy.md, Upgrading a platform deployed before these changes)", role.Name))
}

// connBudget is what the functions may open at most against what the
// server allows.
type connBudget struct {
	replicas  int            // sum of com.openfaas.scale.max
	perFn     map[string]int // function -> replicas x pool size
	functions int            // connections the functions may open at most
	reserved  int            // slots only superusers (or pg_use_reserved_connections) get
	headroom  int
	max       int // max_connections
	defaulted []string
}

func (b connBudget) need() int { return b.functions + b.headroom + b.reserved }

// budget adds up replicas x pool size over the stack's functions: a
// function's own DATABASE_MAX_CONNS in stack.yml wins over poolSize.
func budget(st *stack.Stack, poolSize int, server db.Server, headroom int) (connBudget, error) {
	b := connBudget{perFn: map[string]int{}, headroom: headroom, max: server.MaxConnections,
		reserved: server.SuperuserReserved + server.Reserved}
	for _, name := range st.Names() {
		fn := st.Functions[name]
		replicas := openFaaSMaxReplicas
		if v, ok := fn.Labels["com.openfaas.scale.max"]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return b, fmt.Errorf("function %s: com.openfaas.scale.max %q is not a count", name, v)
			}
			replicas = n
		} else {
			b.defaulted = append(b.defaulted, name)
		}
		size := poolSize
		if v, ok := fn.Environment[config.DatabaseMaxConns.Name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n <= 0 {
				return b, fmt.Errorf("function %s: %s %q is not a count", name, config.DatabaseMaxConns.Name, v)
			}
			size = n
		}
		b.replicas += replicas
		b.perFn[name] = replicas * size
		b.functions += replicas * size
	}
	sort.Strings(b.defaulted)
	return b, nil
}

func (d *Doctor) connections(ctx context.Context, cfg *config.Config) Result {
	_, skip := d.connected(ctx)
	if skip != nil {
		return *skip
	}
	poolSize := cfg.Int(config.DatabaseMaxConns)
	if err := cfg.Err(); err != nil {
		return settingsFailed(err)
	}
	if poolSize <= 0 {
		return Failed(fmt.Sprintf("DATABASE_MAX_CONNS is %d", poolSize), "DATABASE_MAX_CONNS: a positive pool size per replica (default 4)")
	}
	st, err := stack.Load(d.o.StackFile)
	if err != nil {
		return Failed(err.Error(), "pass --stack with the stack file the functions were deployed from")
	}
	pg := d.database(ctx)
	b, err := budget(st, poolSize, pg.server, d.o.Headroom)
	if err != nil {
		return Failed(err.Error(), "correct "+d.o.StackFile)
	}
	sizes := fmt.Sprintf("%d replicas at most × DATABASE_MAX_CONNS %d", b.replicas, poolSize)
	if b.functions != b.replicas*poolSize {
		sizes = fmt.Sprintf("%d replicas at most (pool sizes per function in %s)", b.replicas, d.o.StackFile)
	}
	found := fmt.Sprintf("max_connections %d; functions %s = %d, + %d headroom for Chatwoot, Keycloak and operators, + %d reserved = %d needed (%d open now)",
		b.max, sizes, b.functions, b.headroom, b.reserved, b.need(), pg.server.InUse)
	if len(b.defaulted) > 0 {
		found += fmt.Sprintf("; no com.openfaas.scale.max on %s, counted as %d", strings.Join(b.defaulted, ", "), openFaaSMaxReplicas)
	}
	if b.need() > b.max {
		return Failed(found, fmt.Sprintf("lower DATABASE_MAX_CONNS or com.openfaas.scale.max in %s, or raise max_connections to %d or more (ansible data stack)", d.o.StackFile, b.need()))
	}
	return Pass("%s", found)
}
