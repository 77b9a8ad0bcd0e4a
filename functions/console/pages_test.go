package function

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/faas/faastest"
)

func get(t *testing.T, h *faastest.Harness, method, query string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+"/?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// Every page answers over plain HTTP too (what a phone on a slow link or
// a monitoring probe gets), with the security headers; a page that is not
// one, a reply that does not exist and a method no page takes say so.
func TestPagesOverHTTP(t *testing.T) {
	w := newWorld(t)
	h := w.console(t, Local, nil)
	for _, c := range []struct {
		method, query string
		code          int
		contains      string
	}{
		{"GET", "", 200, `id="guest-messages"`},
		{"GET", "page=overview&days=30", 200, "30 days"},
		{"GET", "page=overview&days=30&inbox=4", 200, "inbox 4"},
		{"GET", "page=overview&listing=64f2b7c9d1e8a3f4b5c6d7e8", 200, "HV-LOFT-2"},
		{"GET", "page=overview&inbox=four", 400, "inbox"},
		{"GET", "page=gaps&days=30", 200, "hairdryer"},
		{"GET", "page=conversations&mode=handoff", 200, "the guest asked for a person"},
		{"GET", "page=conversations&mode=shouting", 400, "mode"},
		{"GET", "page=conversations&before=yesterday", 400, "page"},
		{"GET", "page=conversation&id=00000000-0000-0000-0000-000000000000", 404, "no such reply"},
		{"GET", "page=conversation&id=../../etc/passwd", 404, "no such reply"},
		{"GET", "page=jobs", 200, "guesty: 503 Service Unavailable"},
		{"GET", "page=backups", 200, "proven"},
		{"GET", "page=playground", 200, "Jordan Avery"},
		{"GET", "page=secrets", 404, "no such page"},
		{"PUT", "page=jobs", 405, ""},
		{"POST", "page=backups", 405, ""},
		{"HEAD", "page=overview", 200, ""},
	} {
		code, header, body := get(t, h, c.method, c.query)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s ?%s: %d, want %d with %q: %.200s", c.method, c.query, code, c.code, c.contains, body)
		}
		if c.method == "HEAD" && body != "" {
			t.Errorf("HEAD has a body")
		}
		for k, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if !strings.Contains(header.Get(k), want) {
				t.Errorf("%s ?%s: %s is %q", c.method, c.query, k, header.Get(k))
			}
		}
	}
}
