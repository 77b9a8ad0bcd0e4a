package db

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Read-only probes for `concierge doctor`: what the server is, whether its
// schema is this build's, and what the connected role may do. None of them
// writes or takes a lock.

// Querier is what the probes read through (a pool, a connection).
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Server describes the PostgreSQL server and its connection limits.
type Server struct {
	// Version is server_version, e.g. "16.4 (Debian 16.4-1.pgdg120+1)".
	Version string
	// VersionNum is server_version_num, e.g. 160004.
	VersionNum int
	// MaxConnections is max_connections.
	MaxConnections int
	// SuperuserReserved is superuser_reserved_connections and Reserved is
	// reserved_connections (PostgreSQL 16+, else 0): slots other roles
	// cannot use.
	SuperuserReserved, Reserved int
	// InUse counts the connections open now, this one included.
	InUse int
}

// ServerInfo reads the server's version and connection settings.
func ServerInfo(ctx context.Context, q Querier) (Server, error) {
	var s Server
	err := q.QueryRow(ctx, `SELECT current_setting('server_version'),
		current_setting('server_version_num')::int,
		current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int,
		coalesce(current_setting('reserved_connections', true), '0')::int,
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int`).
		Scan(&s.Version, &s.VersionNum, &s.MaxConnections, &s.SuperuserReserved, &s.Reserved, &s.InUse)
	if err != nil {
		return Server{}, fmt.Errorf("read server settings: %w", err)
	}
	return s, nil
}

// Role is the connected role and the attributes the functions rely on.
type Role struct {
	Name      string
	Superuser bool
	// CreateDB: the backup's verification restores every dump into a
	// scratch database it creates and drops.
	CreateDB bool
}

// CurrentRole reads the connected role's attributes.
func CurrentRole(ctx context.Context, q Querier) (Role, error) {
	var r Role
	err := q.QueryRow(ctx, `SELECT rolname, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user`).
		Scan(&r.Name, &r.Superuser, &r.CreateDB)
	if err != nil {
		return Role{}, fmt.Errorf("read role: %w", err)
	}
	return r, nil
}

// MigrationState compares the migrations embedded in this build with the
// ones the database recorded in schema_migrations (see Migrate).
type MigrationState struct {
	// Embedded are this build's migration files, oldest first.
	Embedded []string
	// Pending are embedded migrations the database has not recorded:
	// functions of this build apply them when they start.
	Pending []string
	// Unknown are recorded migrations this build does not embed: a newer
	// build migrated the database.
	Unknown []string
	// Latest is the newest recorded migration ("" when none).
	Latest string
}

// Current reports whether the database is exactly at this build's schema.
func (m MigrationState) Current() bool { return len(m.Pending) == 0 && len(m.Unknown) == 0 }

// Migrations reads schema_migrations (absent: nothing applied yet) and
// compares it with the embedded migrations.
func Migrations(ctx context.Context, q Querier) (MigrationState, error) {
	ms, err := load()
	if err != nil {
		return MigrationState{}, fmt.Errorf("load migrations: %w", err)
	}
	var st MigrationState
	embedded := map[int]bool{}
	for _, m := range ms {
		st.Embedded = append(st.Embedded, m.name)
		embedded[m.version] = true
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return MigrationState{}, fmt.Errorf("look for schema_migrations: %w", err)
	}
	type rec struct {
		version int
		name    string
	}
	var recs []rec
	if exists {
		rows, err := q.Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
		if err != nil {
			return MigrationState{}, fmt.Errorf("read schema_migrations: %w", err)
		}
		recs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (rec, error) {
			var x rec
			err := r.Scan(&x.version, &x.name)
			return x, err
		})
		if err != nil {
			return MigrationState{}, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	applied := map[int]bool{}
	for _, r := range recs {
		applied[r.version] = true
		st.Latest = r.name
		if !embedded[r.version] {
			st.Unknown = append(st.Unknown, r.name)
		}
	}
	for _, m := range ms {
		if !applied[m.version] {
			st.Pending = append(st.Pending, m.name)
		}
	}
	sort.Strings(st.Unknown)
	return st, nil
}
