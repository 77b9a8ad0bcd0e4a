// The server serves a go-http template Handle function over HTTP.
//
// The OpenFaaS template's main.go and the local runner both use it, so the
// body limit, the request context and the mapping of a returned error are
// identical in production and in `make run`.

package faas

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/logging"
)

// HandleFunc is the signature every function package exports as Handle.
type HandleFunc func(req handler.Request) (handler.Response, error)

// DefaultMaxBodyBytes bounds what a function reads before it answers 413:
// webhooks are a few kB, and an unbounded read is a memory exhaustion vector.
const DefaultMaxBodyBytes = 1 << 20

// Handler adapts fn to net/http. Bodies above maxBody bytes get 413 without
// the function running.
func Handler(fn HandleFunc, maxBody int64) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			defer r.Body.Close()
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					http.Error(w, `{"error":"request body too large"}`, http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, `{"error":"could not read request body"}`, http.StatusBadRequest)
				return
			}
			body = b
		}
		if textBody(r.Header.Get("Content-Type")) {
			// Text PostgreSQL cannot store is refused here, once for every
			// function, before it can turn into a 500 that senders retry.
			if err := Text(body); err != nil {
				write(w, Error(err))
				return
			}
		}
		req := handler.Request{
			Body:        body,
			Header:      r.Header,
			QueryString: r.URL.RawQuery,
			Method:      r.Method,
			Host:        r.Host,
		}
		req.WithContext(r.Context())
		res, err := fn(req)
		if err != nil {
			// Functions map their own errors to statuses; an error here is a bug
			// or a panic-free crash path, and its text may hold internals.
			res = Error(err)
		}
		logCause(r.Context(), res)
		write(w, res)
	})
}

// write sends res without the headers that carry a cause to this edge.
func write(w http.ResponseWriter, res handler.Response) {
	for k, vs := range res.Header {
		if k == CauseHeader || k == CauseKindHeader {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(res.Body)
}

// fallbackLog writes causes when the request's context holds no logger
// (the OpenFaaS template): JSON lines on stderr through the redacting
// writer, which scrubs contact details that slipped into an error text.
var fallbackLog = logging.New("fnserver", os.Stderr, "info")

// logCause logs why a request failed with a 5xx, once, here at the edge:
// the status, the error kind and the internal text that Error
// kept out of the response body, with the trace id the function answered
// with so the line joins the function's own request line.
func logCause(ctx context.Context, res handler.Response) {
	if res.StatusCode < 500 {
		return
	}
	log := logging.From(ctx)
	if log.GetLevel() == zerolog.Disabled {
		log = &fallbackLog
	}
	kind, cause := res.Header.Get(CauseKindHeader), res.Header.Get(CauseHeader)
	if kind == "" {
		kind = "unknown"
	}
	ev := log.Error().Int("status", res.StatusCode).Str("kind", kind)
	if id := res.Header.Get(logging.TraceHeader); id != "" {
		ev = ev.Str("trace_id", id)
	}
	if cause != "" {
		ev = ev.Str("error", cause)
	}
	ev.Msg("request failed")
}

// textBody reports whether a body of this Content-Type is checked for text
// PostgreSQL cannot store: JSON and text, or no type at all (what webhook
// senders and the job invoker mostly send). A binary type is left alone.
func textBody(contentType string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	mt = strings.TrimSpace(mt)
	return mt == "" || strings.HasPrefix(mt, "text/") || mt == "application/json" ||
		strings.HasSuffix(mt, "+json") || mt == "application/x-www-form-urlencoded"
}

// Settings is what the template's HTTP server reads from its environment.
type Settings struct {
	Port         int
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// Grace is how long the server keeps accepting after SIGTERM: of-watchdog
	// (0.10.9, main.go listenUntilShutdown) forwards SIGTERM to this process
	// at once but keeps accepting and forwarding requests for its
	// healthcheck_interval before it drains, so closing the listener at the
	// signal turned every request of that window into a 500.
	Grace        time.Duration
	MaxBodyBytes int64
}

// SettingsFromEnv reads the variables of-watchdog also reads (read_timeout,
// write_timeout, healthcheck_interval, which defaults to write_timeout as
// in the watchdog), so server and watchdog agree on one value from
// stack.yml or the template's Dockerfile.
func SettingsFromEnv(lookup func(string) (string, bool)) (Settings, error) {
	s := Settings{Port: 8082, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxBodyBytes: DefaultMaxBodyBytes}
	if v, ok := lookup("http_upstream_port"); ok && v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			return s, errors.New("http_upstream_port: not a port number")
		}
		s.Port = p
	}
	s.Grace = -1
	for name, dst := range map[string]*time.Duration{"read_timeout": &s.ReadTimeout, "write_timeout": &s.WriteTimeout, "healthcheck_interval": &s.Grace} {
		if v, ok := lookup(name); ok && v != "" {
			d, err := parseDuration(v)
			if err != nil || d < 0 {
				return s, errors.New(name + ": not a duration")
			}
			*dst = d
		}
	}
	if s.Grace < 0 {
		s.Grace = s.WriteTimeout
	}
	if v, ok := lookup("MAX_BODY_BYTES"); ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return s, errors.New("MAX_BODY_BYTES: not a positive integer")
		}
		s.MaxBodyBytes = n
	}
	return s, nil
}

// parseDuration accepts Go durations and bare seconds, as the watchdog does.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// Run serves fn on 127.0.0.1:<port> behind of-watchdog until SIGTERM,
// keeps serving for the watchdog's grace window, then drains in-flight
// requests for up to WriteTimeout.
func Run(fn HandleFunc) error {
	s, err := SettingsFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.Port))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Serve(ctx, ln, fn, s)
}

// Serve serves fn on ln until ctx ends (the signal), then for s.Grace
// more, while the watchdog still forwards what it accepted, and then shuts
// down, waiting up to s.WriteTimeout for requests in flight.
func Serve(ctx context.Context, ln net.Listener, fn HandleFunc, s Settings) error {
	srv := &http.Server{
		Handler:           Handler(fn, s.MaxBodyBytes),
		ReadTimeout:       s.ReadTimeout,
		ReadHeaderTimeout: s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		MaxHeaderBytes:    1 << 20,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(s.Grace):
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.WriteTimeout)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
