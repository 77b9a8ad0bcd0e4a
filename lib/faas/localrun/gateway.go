// Package localrun is the local stand-in for the OpenFaaS gateway and
// queue-worker: it serves /function/NAME and /async-function/NAME for the
// functions compiled into the runner, runs async calls on an in-process
// queue with bounded concurrency, and honours X-Callback-Url the way the
// queue-worker does.
package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/rs/zerolog"
)

// ErrQueueFull is returned by Async when the queue holds too many calls;
// the caller's job row stays pending and redrive picks it up.
var ErrQueueFull = errors.New("local queue full")

// Options configure a Gateway.
type Options struct {
	// Workers bounds concurrent async calls (the queue-worker's max_inflight).
	Workers int
	// QueueSize bounds waiting async calls.
	QueueSize int
	// MaxBody is the request body limit of every function.
	MaxBody int64
	// Timeout bounds one async call.
	Timeout time.Duration
	// Health reports whether the system can serve (the database answers).
	Health func(context.Context) error
	Log    zerolog.Logger
	// Extra serves more routes beside the OpenFaaS ones, keyed by
	// http.ServeMux pattern (e.g. "GET /outbox").
	Extra map[string]http.Handler
	// JobKeys sign the jobs invoked through Async (jobs.Invoke), as the
	// functions' own invokers do. Calls that come in over HTTP are passed
	// on as they are: like the OpenFaaS gateway, the runner signs nothing
	// on a caller's behalf.
	JobKeys *jobs.Keys
}

type call struct {
	id       string
	function string
	body     []byte
	header   http.Header
}

// Gateway routes calls to functions.
type Gateway struct {
	opts     Options
	mu       sync.RWMutex
	handlers map[string]http.Handler
	declared map[string]string // name -> why it is not built
	queue    chan call
	wg       sync.WaitGroup
	client   *http.Client
	qmu      sync.RWMutex
	shut     bool
}

// New starts a Gateway's workers.
func New(opts Options) *Gateway {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	g := &Gateway{
		opts:     opts,
		handlers: map[string]http.Handler{},
		declared: map[string]string{},
		queue:    make(chan call, opts.QueueSize),
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	for i := 0; i < opts.Workers; i++ {
		g.wg.Add(1)
		go g.worker()
	}
	return g
}

// Register serves fn under name.
func (g *Gateway) Register(name string, fn faas.HandleFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handlers[name] = faas.Handler(fn, g.opts.MaxBody)
	delete(g.declared, name)
}

// Declare records a function of stack.yml that is not available, and why;
// calls to it answer 501 with that reason.
func (g *Gateway) Declare(name, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.handlers[name]; !ok {
		g.declared[name] = why
	}
}

// Functions lists the names served and the names declared only.
func (g *Gateway) Functions() (served, unavailable []string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for n := range g.handlers {
		served = append(served, n)
	}
	for n := range g.declared {
		unavailable = append(unavailable, n)
	}
	sort.Strings(served)
	sort.Strings(unavailable)
	return served, unavailable
}

func (g *Gateway) lookup(name string) (http.Handler, int, string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if h, ok := g.handlers[name]; ok {
		return h, 0, ""
	}
	if why, ok := g.declared[name]; ok {
		return nil, http.StatusNotImplemented, fmt.Sprintf("function %s is not built yet: %s", name, why)
	}
	return nil, http.StatusNotFound, fmt.Sprintf("no function named %s", name)
}

func newCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// Handler serves the OpenFaaS routes and /healthz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if g.opts.Health != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := g.opts.Health(ctx); err != nil {
				jsonError(w, http.StatusServiceUnavailable, "unhealthy: "+err.Error())
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		served, unavailable := g.Functions()
		fmt.Fprintf(w, "{\"status\":\"ok\",\"functions\":%q,\"not_built\":%q}\n", served, unavailable)
	})
	mux.HandleFunc("/function/", g.serveSync)
	mux.HandleFunc("/async-function/", g.serveAsync)
	for pattern, h := range g.opts.Extra {
		mux.Handle(pattern, h)
	}
	return mux
}

// route splits "/function/NAME/rest" into NAME and "/rest".
func route(prefix, path string) (string, string) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(path, prefix), "/")
	return name, "/" + rest
}

func (g *Gateway) serveSync(w http.ResponseWriter, r *http.Request) {
	name, rest := route("/function/", r.URL.Path)
	h, code, msg := g.lookup(name)
	if h == nil {
		jsonError(w, code, msg)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	if r.Header.Get(logging.CallIDHeader) == "" {
		r2.Header.Set(logging.CallIDHeader, newCallID())
	}
	h.ServeHTTP(w, r2)
}

func (g *Gateway) serveAsync(w http.ResponseWriter, r *http.Request) {
	name, _ := route("/async-function/", r.URL.Path)
	if _, code, msg := g.lookup(name); code != 0 {
		jsonError(w, code, msg)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		jsonError(w, http.StatusMethodNotAllowed, "async invocations take POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody()))
	if err != nil {
		jsonError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	id := newCallID()
	if err := g.enqueue(call{id: id, function: name, body: body, header: r.Header.Clone()}); err != nil {
		jsonError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set(logging.CallIDHeader, id)
	w.WriteHeader(http.StatusAccepted)
}

func (g *Gateway) maxBody() int64 {
	if g.opts.MaxBody > 0 {
		return g.opts.MaxBody
	}
	return faas.DefaultMaxBodyBytes
}

func (g *Gateway) enqueue(c call) error {
	// The read lock keeps Close from closing the channel mid-send.
	g.qmu.RLock()
	defer g.qmu.RUnlock()
	if g.shut {
		return errors.New("local gateway is shutting down")
	}
	select {
	case g.queue <- c:
		return nil
	default:
		return ErrQueueFull
	}
}

// Async queues a call of function; it implements jobs.Invoker so functions
// in the runner hand work on without an HTTP round trip.
func (g *Gateway) Async(_ context.Context, function string, body []byte, header http.Header) error {
	if _, code, msg := g.lookup(function); code == http.StatusNotFound {
		return errors.New(msg)
	}
	return g.enqueue(call{id: newCallID(), function: function, body: body, header: header.Clone()})
}

// JobKeys makes the Gateway a jobs.KeyedInvoker: a job handed to it
// directly (the runner's first-run seed) is signed like any other.
func (g *Gateway) JobKeys() *jobs.Keys { return g.opts.JobKeys }

func (g *Gateway) worker() {
	defer g.wg.Done()
	for c := range g.queue {
		g.run(c)
	}
}

func (g *Gateway) run(c call) {
	log := g.opts.Log.With().Str("function", c.function).Str("call_id", c.id).Logger()
	h, code, msg := g.lookup(c.function)
	rec := httptest.NewRecorder()
	if h == nil {
		// Like the queue-worker, a call to a missing function is reported to
		// the callback; its job stays pending for redrive.
		rec.WriteHeader(code)
		rec.WriteString(msg)
		log.Warn().Int("status", code).Msg("async call to a function that is not built")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.Timeout)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(c.body))
		req.Header = c.header.Clone()
		req.Header.Set(logging.CallIDHeader, c.id)
		h.ServeHTTP(rec, req)
		cancel()
		ev := log.Debug()
		if rec.Code >= 400 {
			ev = log.Warn()
		}
		ev.Int("status", rec.Code).Msg("async call done")
	}
	if cb := c.header.Get("X-Callback-Url"); cb != "" {
		g.callback(cb, c, rec)
	}
}

func (g *Gateway) callback(url string, c call, rec *httptest.ResponseRecorder) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		g.opts.Log.Warn().Err(err).Msg("bad X-Callback-Url")
		return
	}
	req.Header.Set("X-Function-Status", strconv.Itoa(rec.Code))
	req.Header.Set(logging.CallIDHeader, c.id)
	req.Header.Set("X-Function-Name", c.function)
	if ct := rec.Header().Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := g.client.Do(req)
	if err != nil {
		g.opts.Log.Warn().Err(err).Str("call_id", c.id).Msg("callback failed")
		return
	}
	res.Body.Close()
}

// Close stops taking calls and waits for queued ones to finish.
func (g *Gateway) Close() {
	g.qmu.Lock()
	if !g.shut {
		g.shut = true
		close(g.queue)
	}
	g.qmu.Unlock()
	g.wg.Wait()
}
