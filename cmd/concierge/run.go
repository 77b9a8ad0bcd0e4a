package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/db"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/localrun"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/pgcluster"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/stack"
)

// Settings of the runner itself.
var (
	portSetting    = config.Register(config.Setting{Name: "PORT", Default: "8080", Help: "port of the local gateway on 127.0.0.1", Used: "make run"})
	dataDirSetting = config.Register(config.Setting{Name: "DATA_DIR", Default: ".data", Help: "where the local PostgreSQL cluster, secrets and backups live", Used: "make run"})
	stackSetting   = config.Register(config.Setting{Name: "STACK_FILE", Default: "stack.yml", Help: "stack file whose functions, environment and schedules the runner honours", Used: "make run"})
)

// localSecrets seeds the runner's secrets folder with the contract test
// secrets, so the README's sample deliveries authenticate.
var localSecrets = map[string]string{
	"aircall-webhook-token":   fixtures.AircallToken,
	"guesty-webhook-secret":   fixtures.GuestySecret,
	"chatwoot-webhook-secret": fixtures.ChatwootSecret,
}

// system is a running local stack.
type system struct {
	URL     string
	Gateway *localrun.Gateway
	Cron    *localrun.Cron
	Pool    *pgxpool.Pool
	close   []func()
}

func (s *system) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
	s.close = nil
}

func run(ctx context.Context, env config.LookupFunc) error {
	sys, err := start(ctx, env, os.Stderr)
	if err != nil {
		return err
	}
	defer sys.Close()
	<-ctx.Done()
	return nil
}

// start brings the stack up and returns once it serves.
func start(ctx context.Context, env config.LookupFunc, logOut *os.File) (sys *system, err error) {
	cfg := config.New(env)
	port := cfg.Int(portSetting)
	dataDir := cfg.String(dataDirSetting)
	stackFile := cfg.String(stackSetting)
	level := cfg.String(config.LogLevel)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	log := logging.New("runner", logOut, level)
	// A failed start returns a nil sys; close what was started through a
	// copy, or the deferred Close dereferences nil and PostgreSQL stays up.
	started := &system{}
	sys = started
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	st, err := stack.Load(stackFile)
	if err != nil {
		return nil, err
	}

	// Local stand-ins for production paths of stack.yml.
	// CHATWOOT_URL empty: replies go to the local outbox (GET /outbox)
	// unless the environment names a Chatwoot. BACKUP_DATABASES empty: the
	// backup dumps the local database, not production's list, unless the
	// environment names databases. QDRANT_URL and EMBEDDINGS_URL empty:
	// retrieval is PostgreSQL full text alone, unless the environment names
	// a Qdrant (and an embeddings API).
	defaults := map[string]string{"LOG_LEVEL": level, "KNOWLEDGE_DIR": "knowledge", "CHATWOOT_URL": "", "BACKUP_DATABASES": "",
		"QDRANT_URL": "", "EMBEDDINGS_URL": ""}
	if _, ok := env("SECRETS_DIR"); !ok {
		dir, err := seedSecrets(filepath.Join(dataDir, "secrets"))
		if err != nil {
			return nil, err
		}
		defaults["SECRETS_DIR"] = dir
	}
	dbURL, _ := env("DATABASE_URL")
	if dbURL == "" {
		dbURL, err = localDatabase(ctx, sys, dataDir, log)
		if err != nil {
			return nil, err
		}
		defaults["DATABASE_URL"] = dbURL
	}
	pool, err := db.Open(ctx, dbURL, 16)
	if err != nil {
		return nil, err
	}
	sys.close = append(sys.close, pool.Close)
	sys.Pool = pool
	if err := db.Migrate(ctx, pool); err != nil {
		return nil, err
	}

	// Job invocations are signed (issue 13): the runner's functions share the
	// configured key or, by default, a random one for this run that never
	// touches the disk.
	keyCfg := config.New(config.Layered(env, config.FromMap(defaults)))
	if len(keyCfg.List(config.JobSigningKey)) == 0 {
		defaults["JOB_SIGNING_KEY"] = jobs.RandomKey()
		keyCfg = config.New(config.Layered(env, config.FromMap(defaults)))
	}
	jobKeys := jobs.KeysFrom(keyCfg)
	if err := keyCfg.Err(); err != nil {
		return nil, err
	}

	ask := &devAsk{db: pool, secretsDir: defaults["SECRETS_DIR"]}
	if d, ok := env("SECRETS_DIR"); ok {
		ask.secretsDir = d
	}
	gw := localrun.New(localrun.Options{
		Workers: 4,
		MaxBody: int64(cfg.Int(config.MaxBodyBytes)),
		Health:  func(ctx context.Context) error { return pool.Ping(ctx) },
		Log:     log,
		JobKeys: jobKeys,
		// Replies chatwoot-reply kept locally because no Chatwoot is set.
		Extra: map[string]http.Handler{"GET /outbox": replies.OutboxHandler(pool), "POST /dev/ask": ask,
			"GET /dev/audio/{name}": http.HandlerFunc(ask.serveAudio), "GET /dev/clip/{id}": http.HandlerFunc(ask.serveClip)},
	})
	ask.gw = gw.Handler()
	sys.close = append(sys.close, gw.Close)
	sys.Gateway = gw
	for _, name := range st.Names() {
		ctor, ok := builtin[name]
		if !ok {
			gw.Declare(name, "no handler compiled into the runner yet")
			continue
		}
		fn := st.Functions[name]
		lookup := config.Layered(env, config.FromMap(defaults), config.FromMap(fn.Environment))
		h, _, err := faas.Build(ctx, faas.Options{Name: name, Lookup: lookup, LogOutput: logOut, DB: pool, Invoker: gw}, ctor)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		gw.Register(name, h)
	}
	if cfg.Bool(seedSetting) {
		if err := seedSample(ctx, ask, gw, env, log, time.Now()); err != nil {
			return nil, err
		}
	}
	// cron-connector's part: the stack's schedules, through the async queue.
	cron, err := localrun.StartCron(gw, localrun.StackSchedules(st), localrun.CronOptions{Log: log})
	if err != nil {
		return nil, err
	}
	sys.close = append(sys.close, cron.Close)
	sys.Cron = cron

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%d (set PORT to change it): %w", port, err)
	}
	srv := localrun.NewServer(gw.Handler()) // loopback Host only, no cross-site /dev/*, read timeouts
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("server stopped")
		}
	}()
	sys.close = append(sys.close, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	sys.URL = "http://" + ln.Addr().String()
	ask.base = sys.URL
	served, unavailable := gw.Functions()
	log.Info().Str("url", sys.URL).Strs("functions", served).Strs("not_built", unavailable).Msg("local stack ready; try " + sys.URL + "/healthz")
	fmt.Fprintf(logOut, "\nThe console (the assistant's day, knowledge gaps, jobs, backups, a playground to ask as any guest):\n  %s/function/console\n"+
		"Ask the assistant as Jordan (or ?as=casey, sam, dana or visitor; &voice=1 sends it as a voice message):\n  curl -s %s/dev/ask -d 'What time can we check in?'\nReplies: %s/outbox\n\n", sys.URL, sys.URL, sys.URL)
	return sys, nil
}

func seedSecrets(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("secrets folder: %w", err)
	}
	for name, value := range localSecrets {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("seed secret %s: %w", name, err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// localDatabase starts (or restarts) the cluster under dataDir and returns
// the URL of its concierge database.
func localDatabase(ctx context.Context, sys *system, dataDir string, log zerolog.Logger) (string, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return "", err
	}
	if !pgcluster.Reachable(dir, "postgres") {
		// As root with the checkout under a private home, the postgres user
		// cannot enter ./.data: keep the cluster in a per-checkout folder
		// under the system temp dir instead.
		sum := sha256.Sum256([]byte(dir))
		dir = filepath.Join(os.TempDir(), "concierge-"+hex.EncodeToString(sum[:6]), "postgres")
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", err
		}
		log.Info().Str("dir", dir).Msg("data folder not reachable by the postgres user; using the temp dir")
	} else if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	} else {
		_ = os.Chmod(filepath.Dir(dir), 0o755)
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Durable: true})
	if err != nil {
		return "", err
	}
	sys.close = append(sys.close, func() {
		if err := c.Stop(context.Background()); err != nil {
			log.Warn().Err(err).Msg("stop PostgreSQL")
		}
	})
	log.Info().Int("port", c.Port()).Str("dir", dir).Msg("local PostgreSQL started")
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to local PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'concierge')").Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE concierge"); err != nil {
			return "", fmt.Errorf("create database: %w", err)
		}
	}
	return c.URL("concierge"), nil
}
