// Package logging sets up zerolog JSON logs for functions: one logger per
// request in the context, with the function name and a trace id that follows
// a job across async hops, and a writer that scrubs secrets and contact
// details that slipped into a message.
package logging

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// TraceHeader carries the trace id from a webhook through every async step.
const TraceHeader = "X-Trace-Id"

// CallIDHeader is set by the OpenFaaS gateway on async invocations.
const CallIDHeader = "X-Call-Id"

func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond
}

// New returns a JSON logger that writes to w through a Redactor.
func New(fn string, w io.Writer, level string, secrets ...string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(NewRedactor(w, secrets...)).Level(lvl).With().Timestamp().Str("fn", fn).Logger()
}

type ctxKey struct{}

// WithLogger stores l in ctx.
func WithLogger(ctx context.Context, l zerolog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger stored in ctx, or a disabled one.
func From(ctx context.Context) *zerolog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(zerolog.Logger); ok {
		return &l
	}
	nop := zerolog.Nop()
	return &nop
}

type traceKey struct{}

// WithTrace stores the trace id in ctx so outgoing invocations carry it.
func WithTrace(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceKey{}, id)
}

// Trace returns the trace id in ctx, or "".
func Trace(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

var traceRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// TraceID returns the caller's trace id if it is well-formed, else a new one.
// Untrusted header values are never logged unchecked.
func TraceID(h http.Header) string {
	if v := h.Get(TraceHeader); traceRe.MatchString(v) {
		return v
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Ref returns a short stable digest of a personal value (phone, email) so
// logs can correlate events without holding the value.
func Ref(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:6])
}

// Redactor scrubs known secrets, email addresses and phone numbers from every
// line before it reaches the underlying writer. It is the second line of
// defence: code never logs these on purpose.
type Redactor struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
}

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	// Phone numbers with a leading + or in grouped national form; bare digit
	// runs are left alone because provider ids and timestamps look the same.
	phoneRe  = regexp.MustCompile(`\+\d[\d ().-]{6,}\d|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b`)
	redacted = []byte("[redacted]")
)

// NewRedactor wraps w. Secrets shorter than 6 bytes are ignored: scrubbing
// them would mangle ordinary words.
func NewRedactor(w io.Writer, secrets ...string) *Redactor {
	r := &Redactor{w: w}
	r.AddSecrets(secrets...)
	return r
}

// AddSecrets registers more values to scrub.
func (r *Redactor) AddSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 6 {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
}

// Write scrubs p and writes it whole; zerolog writes one event per call.
func (r *Redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	out := p
	for _, s := range secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, redacted)
		}
	}
	if bytes.IndexByte(out, '@') >= 0 {
		out = emailRe.ReplaceAll(out, redacted)
	}
	if mayHoldPhone(out) {
		out = phoneRe.ReplaceAll(out, redacted)
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// mayHoldPhone is a necessary condition for phoneRe to match, checked in
// one pass so the regular expression (the costliest part of a log line)
// runs only on the rare line that could hold a phone number: either a '+'
// followed by a digit, or three digits, an optional ')', a separator and
// three more digits.
func mayHoldPhone(b []byte) bool {
	digit := func(i int) bool { return i < len(b) && b[i] >= '0' && b[i] <= '9' }
	for i, c := range b {
		if c == '+' {
			if digit(i + 1) {
				return true
			}
			continue
		}
		if !digit(i) || !digit(i+1) || !digit(i+2) {
			continue
		}
		j := i + 3
		if j < len(b) && b[j] == ')' {
			j++
		}
		if j < len(b) && (b[j] == ' ' || b[j] == '.' || b[j] == '-') && digit(j+1) && digit(j+2) && digit(j+3) {
			return true
		}
	}
	return false
}
