package localrun

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"
)

func TestRoutes(t *testing.T) {
	g := New(Options{Workers: 1, Log: zerolog.Nop()})
	defer g.Close()
	done := make(chan string, 1)
	g.Register("echo", func(req handler.Request) (handler.Response, error) {
		done <- string(req.Body)
		return handler.Response{StatusCode: 200, Body: req.Body}, nil
	})
	g.Declare("later", "its issue has not landed")
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for _, tt := range []struct {
		path string
		code int
		body string
	}{
		{"/function/echo", 200, "hi"},
		{"/function/later", 501, "not built yet"},
		{"/async-function/later", 501, "not built yet"},
		{"/function/nope", 404, "no function"},
		{"/async-function/echo", 202, ""},
	} {
		res, err := http.Post(srv.URL+tt.path, "text/plain", strings.NewReader("hi"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.code || !strings.Contains(string(b), tt.body) {
			t.Errorf("%s: %d %s, want %d containing %q", tt.path, res.StatusCode, b, tt.code, tt.body)
		}
		if tt.code == 202 && res.Header.Get("X-Call-Id") == "" {
			t.Errorf("%s: no X-Call-Id", tt.path)
		}
	}
	<-done // the sync call
	select {
	case got := <-done:
		if got != "hi" {
			t.Errorf("async call body %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("async call never ran")
	}
}
