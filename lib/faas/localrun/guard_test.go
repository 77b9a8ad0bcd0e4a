package localrun

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	h := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name, method, path, host string
		header                   map[string]string
		want                     int
	}{
		{"curl to /dev/ask", "POST", "/dev/ask", "127.0.0.1:8080", nil, 204},
		{"localhost", "GET", "/outbox", "localhost:8080", nil, 204},
		{"localhost without port", "GET", "/outbox", "localhost", nil, 204},
		{"IPv6 loopback", "GET", "/outbox", "[::1]:8080", nil, 204},
		{"same origin", "POST", "/dev/ask", "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, 204},
		{"rebound name", "GET", "/outbox", "evil.example", nil, 421},
		{"rebound name with port", "POST", "/dev/ask", "evil.example:8080", nil, 421},
		{"other loopback-looking name", "GET", "/outbox", "127.0.0.1.evil.example", nil, 421},
		{"cross-site origin", "POST", "/dev/ask", "127.0.0.1:8080", map[string]string{"Origin": "https://evil.example"}, 403},
		{"null origin", "POST", "/dev/ask", "127.0.0.1:8080", map[string]string{"Origin": "null"}, 403},
		{"other local port", "POST", "/dev/ask", "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:3000"}, 403},
		{"fetch metadata only", "POST", "/dev/ask", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site clip", "GET", "/dev/clip/1", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"webhook from a sender", "POST", "/function/guesty-hook", "127.0.0.1:8080", nil, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("hi"))
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s %s Host %s: %d %s, want %d", tt.method, tt.path, tt.host, rec.Code, rec.Body, tt.want)
			}
		})
	}
}

// TestServerOverLoopback checks the server NewServer builds end to end:
// its read timeouts are set, and a real client on 127.0.0.1 is served
// while a forged Host is not.
func TestServerOverLoopback(t *testing.T) {
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 {
		t.Fatalf("read timeouts not set: header %v, body %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	ts := httptest.NewUnstartedServer(srv.Handler)
	ts.Config = srv
	ts.Start()
	defer ts.Close()
	res, err := http.Post(ts.URL+"/dev/ask", "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Errorf("loopback: %d, want 204", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/outbox", nil)
	req.Host = "evil.example"
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host evil.example: %d, want 421", res.StatusCode)
	}
}
