package faas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/faas"
)

// gateway plays the OpenFaaS gateway 0.18.18 of the production stack
// (openfaas/faas gateway/ at commit 802461dd, the source of the rehearsal
// rig's binary in shared/openfaas-swarm) on its async route, as main.go,
// handlers/queue_proxy.go (MakeQueuedProxy), handlers/callid_middleware.go,
// plugin/external.go and the NATS queue (nats-queue-worker 8e9eefd,
// handler/nats_queue.go) answer:
//
//   - the routes are gorilla/mux's "/async-function/{name:[-a-zA-Z_0-9.]+}"
//     (with "/" and "/{params:.*}" variants), POST only: another method on
//     them is 405 with no body, any other path 404 "404 page not found";
//   - the handler reads the whole body (no limit of its own), then parses
//     X-Callback-Url (a malformed one is 400 with url.Parse's error);
//   - it asks the provider for the function's annotations (the queue
//     name): for a function the provider does not know, GetReplicas fails
//     with "server returned non-200 status code (404) for function, NAME"
//     and the gateway answers 500 with that text, not 404;
//   - it publishes the queue.Request as JSON (the body base64-encoded) to
//     NATS Streaming: a message over NATS' max_payload (1 MB by default)
//     fails with "nats: maximum payload exceeded", a lost connection with
//     "stan: connection closed"; either is 500 with the error's text;
//   - otherwise 202 with no body; the call-id middleware adds X-Call-Id to
//     the request (forwarded to the function) and the response when the
//     caller sent none, and X-Start-Time to both;
//   - the request's headers are queued with it and the queue-worker
//     replays them to the function: every header the caller set arrives.
type gateway struct {
	t         *testing.T
	functions map[string]bool // deployed
	natsDown  bool
	// hold, when set, keeps a request waiting until it is closed or the
	// request's context ends.
	hold chan struct{}

	mu     sync.Mutex
	queued []queued
	conns  int
	srv    *httptest.Server
}

// queued is what the gateway published for the queue-worker.
type queued struct {
	Function    string
	Body        []byte
	Method      string
	Path        string
	QueryString string
	Header      http.Header
	CallbackURL *url.URL
}

// natsMaxPayload is NATS' default max_payload.
const natsMaxPayload = 1 << 20

var nameRoute = regexp.MustCompile(`^/async-function/([-a-zA-Z_0-9.]+)(/.*)?$`)

func newGateway(t *testing.T, functions ...string) *gateway {
	g := &gateway{t: t, functions: map[string]bool{}}
	for _, f := range functions {
		g.functions[f] = true
	}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.mu.Lock()
			g.conns++
			g.mu.Unlock()
		}
	}
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	m := nameRoute.FindStringSubmatch(r.URL.Path)
	if m == nil {
		http.NotFound(w, r) // gorilla/mux's default: "404 page not found"
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	// MakeCallIDMiddleware
	start := strconv.FormatInt(time.Now().UnixNano(), 10)
	if r.Header.Get("X-Call-Id") == "" {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", time.Now().UnixNano()&0xffffffff)
		r.Header.Add("X-Call-Id", id)
		w.Header().Add("X-Call-Id", id)
	}
	r.Header.Add("X-Start-Time", start)
	w.Header().Add("X-Start-Time", start)
	if g.hold != nil {
		select {
		case <-g.hold:
		case <-r.Context().Done():
			return
		}
	}
	// MakeQueuedProxy
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var callback *url.URL
	if v := r.Header.Get("X-Callback-Url"); v != "" {
		if callback, err = url.Parse(v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	name := m[1]
	fn := name
	if i := strings.LastIndex(name, "."); i > 0 {
		fn = name[:i] // "NAME.NAMESPACE"
	}
	if !g.functions[fn] {
		http.Error(w, fmt.Sprintf("server returned non-200 status code (%d) for function, %s", http.StatusNotFound, fn), http.StatusInternalServerError)
		return
	}
	req := queued{Function: name, Body: body, Method: r.Method, Path: m[2], QueryString: r.URL.RawQuery,
		Header: r.Header.Clone(), CallbackURL: callback}
	msg, _ := json.Marshal(req)
	switch {
	case g.natsDown:
		http.Error(w, "stan: connection closed", http.StatusInternalServerError)
		return
	case len(msg) > natsMaxPayload:
		http.Error(w, "nats: maximum payload exceeded", http.StatusInternalServerError)
		return
	}
	g.mu.Lock()
	g.queued = append(g.queued, req)
	g.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (g *gateway) calls() []queued {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]queued(nil), g.queued...)
}

func (g *gateway) connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns
}

// An accepted invocation reaches the queue with its function, body and
// every header the caller set (the job id, trace id and signature the step
// checks, the callback the gateway reads), values and repeats intact.
func TestAsyncQueuesTheCall(t *testing.T) {
	g := newGateway(t, "vectorize", "chatwoot-reply")
	body := []byte(`{"job_id":"5f0c…","kind":"vectorize","subject":"listing:L1"}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Job-Id", "8d7f3c52-1b1e-4a47-9d1c-2f6a0c1e9b11")
	h.Set("X-Trace-Id", "trace-42")
	h.Set("X-Job-Timestamp", "1767225600")
	h.Set("X-Job-Signature", "v1=00ff v1=ab12")
	h.Set("X-Callback-Url", "http://gateway:8080/function/redrive")
	h.Add("X-Multi", "one")
	h.Add("X-Multi", "two")

	gw := faas.NewGateway(g.srv.URL)
	if err := gw.Async(context.Background(), "vectorize", body, h); err != nil {
		t.Fatalf("Async: %v", err)
	}
	calls := g.calls()
	if len(calls) != 1 {
		t.Fatalf("gateway queued %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Function != "vectorize" || c.Method != http.MethodPost || c.Path != "" || c.QueryString != "" {
		t.Errorf("queued %s %q path %q query %q, want POST vectorize with no path or query", c.Method, c.Function, c.Path, c.QueryString)
	}
	if !bytes.Equal(c.Body, body) {
		t.Errorf("queued body %q, want %q", c.Body, body)
	}
	for k, want := range h {
		if got := c.Header.Values(k); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("header %s arrived as %q, want %q", k, got, want)
		}
	}
	if c.CallbackURL == nil || c.CallbackURL.String() != "http://gateway:8080/function/redrive" {
		t.Errorf("callback %v, want the X-Callback-Url sent", c.CallbackURL)
	}
	if c.Header.Get("X-Call-Id") == "" {
		t.Error("the gateway gave the call no X-Call-Id")
	}
	// The caller's header is not changed by the call.
	if len(h.Values("X-Call-Id")) != 0 || len(h) != 7 {
		t.Errorf("Async changed the caller's header: %v", h)
	}
}

// Every answer but 202 means the call was not queued: an error that names
// the function and the gateway's status, so the job stays for redrive and
// the log says which function and why.
func TestAsyncRefusedIsAnError(t *testing.T) {
	for _, c := range []struct {
		name     string
		function string
		body     []byte
		header   http.Header
		setup    func(*gateway)
		status   string
	}{
		// The provider does not know the function: 0.18's gateway says so
		// with a 500, not a 404.
		{name: "unknown function", function: "vectorise", status: "500"},
		{name: "NATS down", function: "vectorize", setup: func(g *gateway) { g.natsDown = true }, status: "500"},
		// 800 kB base64-encodes past NATS' 1 MB max_payload.
		{name: "body over NATS' max payload", function: "vectorize", body: bytes.Repeat([]byte("a"), 800<<10), status: "500"},
		{name: "malformed callback URL", function: "vectorize", header: http.Header{"X-Callback-Url": {"http://[::1"}}, status: "400"},
		// A name outside [-a-zA-Z_0-9.] matches no route.
		{name: "name no route matches", function: "vector!ze", status: "404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t, "vectorize")
			if c.setup != nil {
				c.setup(g)
			}
			body := c.body
			if body == nil {
				body = []byte(`{}`)
			}
			err := faas.NewGateway(g.srv.URL).Async(context.Background(), c.function, body, c.header)
			if err == nil {
				t.Fatal("Async succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, c.function) || !strings.Contains(msg, c.status) {
				t.Errorf("error %q does not name the function %q and status %s", msg, c.function, c.status)
			}
			if n := len(g.calls()); n != 0 {
				t.Errorf("gateway queued %d calls", n)
			}
		})
	}
}

// What stands in front of the gateway (Traefik, a load balancer) answers
// for it when it is away or busy; 2xx answers other than 202 are not the
// gateway's queue either.
func TestAsyncOtherStatusesAreErrors(t *testing.T) {
	for _, code := range []int{
		http.StatusCreated, http.StatusNoContent, http.StatusMovedPermanently,
		http.StatusUnauthorized, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge,
		http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if code == http.StatusMovedPermanently {
					// A redirect elsewhere is followed as a GET; the gateway
					// refuses a GET on its async route.
					if r.Method == http.MethodPost {
						http.Redirect(w, r, "/elsewhere", code)
						return
					}
					w.WriteHeader(http.StatusMethodNotAllowed)
					return
				}
				w.WriteHeader(code)
			}))
			defer srv.Close()
			err := faas.NewGateway(srv.URL).Async(context.Background(), "tts", []byte(`{}`), nil)
			if err == nil {
				t.Fatalf("Async succeeded on %d", code)
			}
			want := strconv.Itoa(code)
			if code == http.StatusMovedPermanently {
				want = "405"
			}
			if !strings.Contains(err.Error(), "tts") || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the function and status %s", err, want)
			}
		})
	}
}

// The caller's context bounds the call: a cancelled or expired context
// ends it at once, with an error that says so and names the function.
func TestAsyncHonoursTheContext(t *testing.T) {
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t, "stt")
			g.hold = make(chan struct{})
			defer close(g.hold)
			ctx, cancel := c.ctx()
			defer cancel()
			start := time.Now()
			err := faas.NewGateway(g.srv.URL).Async(ctx, "stt", []byte(`{}`), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("Async = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), "stt") {
				t.Errorf("error %q does not name the function", err)
			}
			// Well before the client's own timeout.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Async returned after %s", d)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		g := newGateway(t, "stt")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := faas.NewGateway(g.srv.URL).Async(ctx, "stt", []byte(`{}`), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Async = %v, want context.Canceled", err)
		}
		if n := len(g.calls()); n != 0 {
			t.Errorf("gateway queued %d calls", n)
		}
	})
}

// A gateway nobody listens on is an error naming the function.
func TestAsyncGatewayDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	err := faas.NewGateway(u).Async(context.Background(), "purge", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "purge") {
		t.Fatalf("Async = %v, want an error naming purge", err)
	}
}

// Every delivery invokes: calls one after another share one connection
// (the answer is read to its end, the connection kept), and NewGateway
// bounds a call's time so a stuck gateway cannot hold a hook.
func TestGatewayKeepsItsConnection(t *testing.T) {
	g := newGateway(t, "vectorize")
	gw := faas.NewGateway(g.srv.URL)
	for i := range 20 {
		if err := gw.Async(context.Background(), "vectorize", []byte(`{}`), nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := g.connections(); n != 1 {
		t.Errorf("20 calls opened %d connections, want 1", n)
	}
	if to := gw.Client.Timeout; to <= 0 || to > 30*time.Second {
		t.Errorf("client timeout %s: want a bound of seconds", to)
	}
}
