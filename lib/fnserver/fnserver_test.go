package fnserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/endpoint"
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
		res := endpoint.Error(fault.Wrap(fault.Unavailable, errors.New("dial tcp 10.1.2.3:5432: connection refused; guest ana@example.com"), "database unavailable"))
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
	if rec.Header().Get(endpoint.CauseHeader) != "" || rec.Header().Get(endpoint.CauseKindHeader) != "" {
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
