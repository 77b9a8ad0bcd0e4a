package faas

import (
	"io"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
)

func TestServeHTTP(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.String()+" "+r.Host+" "+r.Header.Get("X-Token")+" "+string(body))
		switch r.URL.Query().Get("page") {
		case "gone":
			w.WriteHeader(http.StatusGone)
			w.WriteHeader(http.StatusOK) // a second WriteHeader is ignored, as net/http does
		case "silent":
		default:
			_, _ = io.WriteString(w, "page")
		}
	})
	tests := []struct {
		name   string
		req    handler.Request
		status int
		seen   string
		body   string
	}{
		{"GET by default, query as the URL", handler.Request{QueryString: "page=a", Host: "h"}, 200, "GET /?page=a h  ", "page"},
		{"method, headers and body", handler.Request{Method: "POST", QueryString: "page=b", Body: []byte("x=1"),
			Header: http.Header{"X-Token": {"t"}}, Host: "h"}, 200, "POST /?page=b h t x=1", "page"},
		{"the first status holds", handler.Request{QueryString: "page=gone"}, 410, "GET /?page=gone   ", ""},
		{"nothing written is 200", handler.Request{QueryString: "page=silent"}, 200, "GET /?page=silent   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ServeHTTP(echo, tt.req)
			if res.StatusCode != tt.status || res.Header.Get("X-Seen") != tt.seen || string(res.Body) != tt.body {
				t.Errorf("got %d %q %q, want %d %q %q", res.StatusCode, res.Header.Get("X-Seen"), res.Body, tt.status, tt.seen, tt.body)
			}
		})
	}
}
