// This file builds what every function needs at start — validated
// configuration, a logger, the database pool and the async invoker — and
// wraps a handler with the per-request plumbing (trace id, request logger,
// body limit, panic recovery).
//
// Functions export the go-http Handle; behind it an Entry builds the
// function once from the process environment. The local runner calls the
// same constructors with its own environment and invoker.

package faas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/db"

	"github.com/harborstays/concierge/lib/fault"

	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

// Env is what a function's constructor gets.
type Env struct {
	Name    string
	Config  *config.Config
	Log     zerolog.Logger
	DB      *pgxpool.Pool
	Invoker jobs.Invoker
	MaxBody int64
	// Now is the clock; tests replace it to check tolerance windows.
	Now func() time.Time
	// JobKeys sign and verify job invocations (Invoker signs with them);
	// nil when JOB_SIGNING_KEY is not set (see RequireJobKeys).
	JobKeys *jobs.Keys

	redactor *logging.Redactor
}

// Options say where an Env's parts come from. Zero values mean "from the
// environment", which is what a deployed function uses.
type Options struct {
	Name      string
	Lookup    config.LookupFunc
	LogOutput io.Writer
	// DB, when set, is shared instead of opening DATABASE_URL.
	DB      *pgxpool.Pool
	Invoker jobs.Invoker
	Now     func() time.Time
}

// Constructor builds a function's handler from its Env. It reads its own
// settings from env.Config and returns env.Config.Err() if any is wrong.
type Constructor func(ctx context.Context, env *Env) (HandleFunc, error)

// Open validates the common settings and connects the database.
func Open(ctx context.Context, o Options) (*Env, error) {
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	if o.LogOutput == nil {
		o.LogOutput = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg := config.New(o.Lookup)
	env := &Env{Name: o.Name, Config: cfg, Now: o.Now}
	level := cfg.String(config.LogLevel)
	env.MaxBody = int64(cfg.Int(config.MaxBodyBytes))
	if o.DB == nil {
		url := cfg.Require(config.DatabaseURL)
		maxConns := cfg.Int(config.DatabaseMaxConns)
		if err := cfg.Err(); err != nil {
			return nil, err
		}
		pool, err := db.Open(ctx, url, maxConns)
		if err != nil {
			return nil, err
		}
		if err := db.Migrate(ctx, pool); err != nil {
			pool.Close()
			return nil, fault.Wrap(fault.Unavailable, err, "database unavailable")
		}
		env.DB = pool
	} else {
		env.DB = o.DB
	}
	env.Invoker = o.Invoker
	if env.Invoker == nil {
		env.Invoker = NewGateway(cfg.URL(config.GatewayURL))
	}
	// Read before the redactor is made, so it scrubs the key from logs.
	env.JobKeys = jobs.KeysFrom(cfg)
	env.Invoker = jobs.WithKeys(env.Invoker, env.JobKeys)
	env.redactor = logging.NewRedactor(o.LogOutput, cfg.SecretValues()...)
	env.Log = logging.New(o.Name, env.redactor, level)
	return env, cfg.Err()
}

// RequireJobKeys returns the job-signing keys for a function that runs or
// invokes jobs: without them it records a configuration error naming the
// setting, so such a function stops at start instead of sending or taking
// invocations every step refuses. Functions that do neither (purge) do
// not call it and need no key.
func (e *Env) RequireJobKeys() *jobs.Keys {
	if e.JobKeys == nil {
		e.Config.Require(config.JobSigningKey)
	}
	return e.JobKeys
}

// Build opens an Env and runs ctor; the logger learns any secret ctor read.
func Build(ctx context.Context, o Options, ctor Constructor) (HandleFunc, *Env, error) {
	env, err := Open(ctx, o)
	if err != nil {
		return nil, env, err
	}
	// Constructors log through the context, as handlers do, so the domain
	// packages they call never need the Env.
	h, err := ctor(logging.WithLogger(ctx, env.Log), env)
	if err != nil {
		return nil, env, err
	}
	if err := env.Config.Err(); err != nil {
		return nil, env, err
	}
	// The constructor read its own secrets: scrub those from logs too.
	env.redactor.AddSecrets(env.Config.SecretValues()...)
	return Wrap(env, h), env, nil
}

// Wrap adds per-request plumbing around h: a logger with fn, trace_id and
// call_id in the context, the body limit, one access log line, and a 500
// instead of a crash on panic.
func Wrap(env *Env, h HandleFunc) HandleFunc {
	return func(req handler.Request) (res handler.Response, err error) {
		start := time.Now()
		ctx := req.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		trace := logging.TraceID(req.Header)
		lc := env.Log.With().Str("trace_id", trace)
		if id := req.Header.Get(logging.CallIDHeader); id != "" && len(id) <= 64 {
			lc = lc.Str("call_id", id)
		}
		log := lc.Logger()
		ctx = logging.WithTrace(logging.WithLogger(ctx, log), trace)
		req.WithContext(ctx)
		defer func() {
			if p := recover(); p != nil {
				log.Error().Str("panic", fmt.Sprint(p)).Msg("handler panicked")
				res, err = Error(errors.New("panic")), nil
			}
			if res.Header == nil {
				res.Header = http.Header{}
			}
			res.Header.Set(logging.TraceHeader, trace)
			ev := log.Info()
			if res.StatusCode >= 500 {
				ev = log.Error()
			}
			ev.Str("method", req.Method).Int("status", res.StatusCode).Dur("elapsed", time.Since(start)).Msg("request")
		}()
		if err := Size(req, env.MaxBody); err != nil {
			return Error(err), nil
		}
		return h(req)
	}
}

// Entry builds a function lazily from the process environment. A failed
// build is retried on the next request (the database may come up later),
// and until then requests get 503 with the reason.
type Entry struct {
	name string
	ctor Constructor
	mu   sync.Mutex
	h    HandleFunc
}

// NewEntry returns an Entry for the function name.
func NewEntry(name string, ctor Constructor) *Entry {
	return &Entry{name: name, ctor: ctor}
}

// Init builds the function now; the template calls it at start so a bad
// configuration is reported before the first request.
func (e *Entry) Init() error {
	_, err := e.get()
	return err
}

func (e *Entry) get() (HandleFunc, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h != nil {
		return e.h, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, _, err := Build(ctx, Options{Name: e.name}, e.ctor)
	if err != nil {
		return nil, err
	}
	e.h = h
	return h, nil
}

// Handle serves req, building the function first if needed.
func (e *Entry) Handle(req handler.Request) (handler.Response, error) {
	h, err := e.get()
	if err != nil {
		l := logging.New(e.name, os.Stderr, "info")
		l.Error().Err(err).Msg("function not ready")
		return Error(fault.Wrap(fault.Unavailable, err, "function not ready; see its log")), nil
	}
	return h(req)
}
