package faas

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
)

func TestTextRefusedBeforeTheFunction(t *testing.T) {
	ran := false
	h := Handler(func(req handler.Request) (handler.Response, error) {
		ran = true
		return handler.Response{StatusCode: 200}, nil
	}, 0)
	for _, tt := range []struct {
		name, ctype, body string
		want              int
		contains          string
	}{
		{"NUL in JSON", "application/json", `{"data":{"content":"a\u0000b"}}`, 400, "data.content: must not contain NUL"},
		{"NUL without a type", "", `{"data":{"content":"a\u0000b"}}`, 400, "data.content"},
		{"invalid UTF-8", "application/json; charset=utf-8", "{\"a\":\"\xff\"}", 400, "a: must be UTF-8"},
		{"binary is left alone", "application/octet-stream", "\xff\x00", 200, ""},
		{"clean JSON", "application/json", `{"a":"b"}`, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ran = false
			req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("%d %s, want %d containing %q", rec.Code, rec.Body, tt.want, tt.contains)
			}
			if ran != (tt.want == 200) {
				t.Errorf("function ran: %v", ran)
			}
		})
	}
}

func TestCauseOf5xxLoggedOnceAndKeptInside(t *testing.T) {
	var logs bytes.Buffer
	log := logging.New("test-fn", &logs, "info")
	h := Handler(func(req handler.Request) (handler.Response, error) {
		res := Error(fault.Wrap(fault.Unavailable, errors.New("dial tcp 10.1.2.3:5432: connection refused; guest ana@example.com"), "database unavailable"))
		res.Header.Set(logging.TraceHeader, "trace-1")
		return res, nil
	}, 0)
	// The runner and tests may carry a logger in the request's context.
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`)).WithContext(logging.WithLogger(context.Background(), log))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if rec.Header().Get(CauseHeader) != "" || rec.Header().Get(CauseKindHeader) != "" {
		t.Errorf("cause headers left the process: %v", rec.Header())
	}
	b, _ := io.ReadAll(rec.Body)
	if strings.Contains(string(b), "10.1.2.3") {
		t.Errorf("internal text in the body: %s", b)
	}
	out := logs.String()
	if strings.Count(out, `"request failed"`) != 1 {
		t.Fatalf("want one cause line, got %q", out)
	}
	for _, want := range []string{`"status":503`, `"kind":"unavailable"`, `connection refused`, `"trace_id":"trace-1"`, `"fn":"test-fn"`} {
		if !strings.Contains(out, want) {
			t.Errorf("cause line lacks %s: %s", want, out)
		}
	}
	if strings.Contains(out, "ana@example.com") {
		t.Errorf("personal data logged: %s", out)
	}

	// A function error that is not a response is a 500 with its cause too.
	logs.Reset()
	h = Handler(func(req handler.Request) (handler.Response, error) { return handler.Response{}, errors.New("nil map") }, 0)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 500 || !strings.Contains(logs.String(), "nil map") || strings.Contains(rec.Body.String(), "nil map") {
		t.Errorf("%d %s; log %s", rec.Code, rec.Body, logs.String())
	}
}

// of-watchdog forwards SIGTERM to the handler at once and keeps accepting
// and forwarding requests for its healthcheck_interval; only then does it
// drain. The handler must keep answering through that window (closing at
// the signal turned 42 of 300 requests of a rolling update into 500s in
// the rehearsal on the real stack), then finish what is in flight.
func TestServesThroughTheWatchdogsGraceThenDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fn := func(req handler.Request) (handler.Response, error) {
		if string(req.Body) == "slow" {
			started <- struct{}{}
			<-release
		}
		return handler.Response{StatusCode: http.StatusOK, Body: []byte("ok")}, nil
	}
	ctx, signal := context.WithCancel(context.Background())
	s := Settings{ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second, Grace: 2 * time.Second}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, fn, s) }()
	url := "http://" + ln.Addr().String() + "/"
	post := func(body string) (int, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := c.Post(url, "text/plain", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		return res.StatusCode, nil
	}
	if code, err := post("before"); err != nil || code != http.StatusOK {
		t.Fatalf("before SIGTERM: %d %v", code, err)
	}
	signal()
	// Inside the grace window: still served.
	if code, err := post("after the signal"); err != nil || code != http.StatusOK {
		t.Fatalf("after SIGTERM, inside the watchdog's grace: %d %v", code, err)
	}
	slow := make(chan int, 1)
	go func() {
		code, err := post("slow")
		if err != nil {
			t.Errorf("request in flight at shutdown: %v", err)
		}
		slow <- code
	}()
	<-started
	// After the grace the listener closes, while the slow request is still
	// being served.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := post("probe"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still accepting long after the grace window")
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	close(release)
	if code := <-slow; code != http.StatusOK {
		t.Errorf("request in flight at shutdown: status %d", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestGraceDefaultsToWriteTimeout(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{}, 10 * time.Second},
		{map[string]string{"write_timeout": "60s"}, time.Minute},
		{map[string]string{"write_timeout": "60s", "healthcheck_interval": "5s"}, 5 * time.Second},
		{map[string]string{"healthcheck_interval": "3"}, 3 * time.Second},
	} {
		s, err := SettingsFromEnv(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
		if err != nil || s.Grace != c.want {
			t.Errorf("%v: grace %s, %v; want %s", c.env, s.Grace, err, c.want)
		}
	}
	if _, err := SettingsFromEnv(func(k string) (string, bool) { return "soon", k == "healthcheck_interval" }); err == nil || !strings.Contains(err.Error(), "healthcheck_interval") {
		t.Errorf("bad healthcheck_interval: %v", err)
	}
}
