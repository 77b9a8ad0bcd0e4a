// Package config reads typed settings from the environment and from secret
// files named like OpenFaaS secrets, and reports every missing or malformed
// setting by name at start-up.
//
// Every setting is declared once with Register, beside the code that reads
// it (the shared ones in settings.go), so the README's configuration table
// can be generated from, and checked against, one registry (All).
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Setting describes one knob.
type Setting struct {
	// Name is the environment variable.
	Name string
	// Secret, when set, is the file under SECRETS_DIR that holds the value
	// (the OpenFaaS secret name). The environment variable overrides it.
	Secret string
	// Default applies when neither source has a value.
	Default string
	// Help is one line for the README table.
	Help string
	// Used lists the functions or tools that read the setting.
	Used string
}

var (
	mu       sync.Mutex
	registry = map[string]*Setting{}
)

// Register adds s to the list of known settings; names are unique.
func Register(s Setting) *Setting {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[s.Name]; dup {
		panic("config: setting registered twice: " + s.Name)
	}
	p := &s
	registry[s.Name] = p
	return p
}

// All returns every registered setting sorted by name.
func All() []Setting {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Setting, 0, len(registry))
	for _, s := range registry {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Unset, as the whole content of a secret file, means the secret is not
// set: Docker Swarm refuses empty secrets, and an optional provider (Azure
// Speech, the Aircall API, Groq) must still be switchable off in production.
const Unset = "none"

// DefaultSecretsDir is where OpenFaaS mounts secrets.
const DefaultSecretsDir = "/var/openfaas/secrets"

// LookupFunc reads one environment variable, like os.LookupEnv.
type LookupFunc func(string) (string, bool)

// Config reads settings and collects errors, so one start-up message names
// every problem at once.
type Config struct {
	env        LookupFunc
	secretsDir string
	errs       []error
	secrets    []string
}

// New returns a Config over env (os.LookupEnv in production; a map in tests).
func New(env LookupFunc) *Config {
	c := &Config{env: env, secretsDir: DefaultSecretsDir}
	if v, ok := env("SECRETS_DIR"); ok && v != "" {
		c.secretsDir = v
	}
	return c
}

// FromMap is a LookupFunc over a map, for tests and the local runner.
func FromMap(m map[string]string) LookupFunc {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Layered looks names up in each source in turn.
func Layered(sources ...LookupFunc) LookupFunc {
	return func(k string) (string, bool) {
		for _, s := range sources {
			if v, ok := s(k); ok {
				return v, true
			}
		}
		return "", false
	}
}

func (c *Config) raw(s *Setting) (string, error) {
	if v, ok := c.env(s.Name); ok && v != "" {
		if s.Secret != "" {
			c.secrets = append(c.secrets, v)
		}
		return v, nil
	}
	if s.Secret != "" {
		b, err := os.ReadFile(filepath.Join(c.secretsDir, s.Secret))
		switch {
		case err == nil:
			v := strings.TrimSpace(string(b))
			if strings.EqualFold(v, Unset) {
				// A Swarm secret cannot be empty: "none" leaves an
				// optional one unset.
				return s.Default, nil
			}
			if v != "" {
				c.secrets = append(c.secrets, v)
			}
			return v, nil
		case errors.Is(err, os.ErrNotExist):
		default:
			return "", fmt.Errorf("%s: read secret %q: %w", s.Name, s.Secret, err)
		}
	}
	return s.Default, nil
}

func (c *Config) fail(s *Setting, format string, args ...any) {
	where := s.Name
	if s.Secret != "" {
		where = fmt.Sprintf("%s (secret %s in %s, or env %s)", s.Secret, s.Secret, c.secretsDir, s.Name)
	}
	c.errs = append(c.errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
}

// String returns the value or the default.
func (c *Config) String(s *Setting) string {
	v, err := c.raw(s)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	return v
}

// Require returns the value and records an error when it is empty.
func (c *Config) Require(s *Setting) string {
	v := c.String(s)
	if v == "" {
		c.fail(s, "missing")
	}
	return v
}

// List splits a comma- or space-separated value.
func (c *Config) List(s *Setting) []string {
	return strings.FieldsFunc(c.String(s), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// Int parses an integer.
func (c *Config) Int(s *Setting) int {
	v := c.String(s)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.fail(s, "not an integer: %q", v)
	}
	return n
}

// Duration parses a Go duration ("90s", "5m").
func (c *Config) Duration(s *Setting) time.Duration {
	v := c.String(s)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		c.fail(s, "not a duration (like 30s or 5m): %q", v)
	}
	return d
}

// Bool parses true/false/1/0.
func (c *Config) Bool(s *Setting) bool {
	v := c.String(s)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.fail(s, "not a boolean: %q", v)
	}
	return b
}

// Enum returns the value if it is one of allowed.
func (c *Config) Enum(s *Setting, allowed ...string) string {
	v := c.String(s)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	c.fail(s, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return v
}

// URL parses an absolute http(s) URL; empty is allowed unless required.
func (c *Config) URL(s *Setting) string {
	v := c.String(s)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.fail(s, "not an absolute http(s) URL")
	}
	return strings.TrimRight(v, "/")
}

// Reject records that s holds a value its reader cannot use (a key too
// short), so the start-up message names the setting like any other.
func (c *Config) Reject(s *Setting, format string, args ...any) {
	c.fail(s, format, args...)
}

// Err returns every problem found so far, joined, or nil.
func (c *Config) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(c.errs...))
}

// SecretValues returns the secret values read so far, for the log redactor.
func (c *Config) SecretValues() []string { return append([]string(nil), c.secrets...) }

// SecretsDir is the folder secrets are read from.
func (c *Config) SecretsDir() string { return c.secretsDir }
