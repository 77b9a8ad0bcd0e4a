package doctor

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/harborstays/concierge/lib/config"
)

// Options configure the checks of a deployment.
type Options struct {
	// Lookup reads settings as the functions do (os.LookupEnv; secret
	// files under SECRETS_DIR fill in what it lacks).
	Lookup config.LookupFunc
	// StackFile is the stack the functions were deployed from (replicas
	// per function); default DefaultStackFile.
	StackFile string
	// Headroom is the connections the database keeps for everyone but the
	// functions (DefaultHeadroom when 0).
	Headroom int
	// HTTPClient, when set, replaces the HTTP client of every provider
	// probed over HTTP (tests route the providers' hosts to fakes).
	HTTPClient *http.Client
}

// DefaultStackFile is the stack file read when Options names none.
const DefaultStackFile = "stack.yml"

// Doctor holds what several checks share: the database connection, the
// embedder's vector size, the Qdrant inspection, the Azure key verdict.
// Close releases it after Run.
type Doctor struct {
	o       Options
	secrets []string

	pg        memo[pgInfo]
	embedding memo[embedInfo]
	inspect   memo[qdrantInfo]
	azureKey  memo[azureInfo]
	chatwoot  memo[chatwootInfo]
}

// New prepares the checks of o.
func New(o Options) *Doctor {
	if o.StackFile == "" {
		o.StackFile = DefaultStackFile
	}
	if o.Headroom <= 0 {
		o.Headroom = DefaultHeadroom
	}
	d := &Doctor{o: o}
	// Learn every secret's value once, so no report line can show one.
	cfg := config.New(o.Lookup)
	for _, s := range config.All() {
		if s.Secret != "" {
			cfg.String(&s)
		}
	}
	d.secrets = cfg.SecretValues()
	return d
}

// Checks are every check, in report order.
func (d *Doctor) Checks() []Check {
	return []Check{
		d.check("postgres", "DATABASE_URL", d.postgres),
		d.check("postgres migrations", "DATABASE_URL", d.migrations),
		d.check("postgres createdb", "DATABASE_URL", d.createDB),
		d.check("postgres connections", "DATABASE_URL", d.connections),
		d.check("embeddings", "EMBEDDINGS_URL", d.embeddings),
		d.check("qdrant collection", "QDRANT_URL", d.qdrantCollection),
		d.check("qdrant payload indexes", "QDRANT_URL", d.qdrantIndexes),
		d.check("azure speech key", "AZURE_SPEECH_REGION", d.azureKeyCheck),
		d.check("azure speech voices", "AZURE_SPEECH_REGION", d.azureVoices),
		d.check("backup bucket", "BACKUP_S3_ENDPOINT", d.backupBucket),
		d.check("llm model", "LLM_BASE_URL", d.llmModel),
		d.check("chatwoot", "CHATWOOT_URL", d.chatwootServer),
		d.check("chatwoot api token", "CHATWOOT_URL", d.chatwootAPIToken),
		d.check("chatwoot contacts token", "CHATWOOT_URL", d.chatwootContactsToken),
		d.check("chatwoot account", "CHATWOOT_URL", d.chatwootAccount),
		d.check("chatwoot contact inbox", "CHATWOOT_URL", d.chatwootInbox),
		d.check("chatwoot agent bot", "CHATWOOT_URL", d.chatwootBot),
		d.check("chatwoot setup", "CHATWOOT_URL", d.chatwootSetup),
		d.check("aircall api", "AIRCALL_API_ID", d.aircallAPI),
		d.check("guesty api", "", d.guestyAPI),
	}
}

// Close releases what the checks opened.
func (d *Doctor) Close() {
	if pg, ok := d.pg.peek(); ok && pg.pool != nil {
		pg.pool.Close()
	}
}

// check wraps f: a fresh view of the configuration for each run, and no
// secret value in what it reports.
func (d *Doctor) check(name, setting string, f func(ctx context.Context, cfg *config.Config) Result) Check {
	return Check{Name: name, Setting: setting, Run: func(ctx context.Context) Result {
		r := f(ctx, config.New(d.o.Lookup))
		r.Found, r.Fix = d.redact(r.Found), d.redact(r.Fix)
		return r
	}}
}

func (d *Doctor) redact(s string) string {
	for _, v := range d.secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// configured reports whether setting has a value (environment or secret
// file); problems reading it are left to the check's own reading.
func configured(cfg *config.Config, s *config.Setting) bool {
	return cfg.String(s) != ""
}

// settingsFailed is the result of settings that do not parse.
func settingsFailed(err error) Result {
	return Failed(err.Error(), "correct the setting named (environment, or the secret file under SECRETS_DIR)")
}

// memo computes a value once for the checks that share it.
type memo[T any] struct {
	once sync.Once
	mu   sync.Mutex
	v    T
	done bool
}

func (m *memo[T]) get(f func() T) T {
	m.once.Do(func() {
		v := f()
		m.mu.Lock()
		m.v, m.done = v, true
		m.mu.Unlock()
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}

// peek returns the value if it was computed.
func (m *memo[T]) peek() (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, m.done
}
