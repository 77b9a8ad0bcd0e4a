package function

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/console/consoletest"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/fntest"
)

const csrfKey = "console-csrf-key-for-tests-0123456789abcdef"

// deployed starts the console as production runs it (New): behind the
// realm's sign-in.
func deployed(t *testing.T, d *dbtest.DB, r *consoletest.Realm) *faastest.Harness {
	t.Helper()
	return faastest.StartWith(t, d, Name, New, map[string]string{
		"KNOWLEDGE_DIR": fntest.Knowledge(t), "CONSOLE_OIDC_ISSUER": r.Issuer, "CONSOLE_OIDC_JWKS_URL": r.URL,
		"CONSOLE_CSRF_KEY": csrfKey,
	})
}

type reply struct {
	code   int
	body   string
	header http.Header
}

func call(t *testing.T, h *faastest.Harness, method, query string, header http.Header, form url.Values) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.URL+"/?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, string(b), res.Header}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// The deployed console lets in only a valid token of the realm for the
// team: checked against a local JWKS, as Keycloak publishes it.
func TestTokenVerification(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	r.Key(t, "k2", false)
	h := deployed(t, dbtest.New(t), r)
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"valid", bearer(r.Token(t, "k1", consoletest.Claims{})), http.StatusOK},
		// What the platform's oauth2-proxy sends (pass_access_token).
		{"valid, as oauth2-proxy forwards it", http.Header{"X-Forwarded-Access-Token": {r.Token(t, "k1", consoletest.Claims{})}}, http.StatusOK},
		{"forged access token header", http.Header{"X-Forwarded-Access-Token": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."}}, http.StatusUnauthorized},
		{"expired", bearer(r.Token(t, "k1", consoletest.Claims{Expiry: time.Now().Add(-5 * time.Minute)})), http.StatusUnauthorized},
		{"wrong audience", bearer(r.Token(t, "k1", consoletest.Claims{Audience: []string{"account"}})), http.StatusUnauthorized},
		{"wrong issuer", bearer(r.Token(t, "k1", consoletest.Claims{Issuer: "https://auth.example.test/realms/other"})), http.StatusUnauthorized},
		{"wrong group", bearer(r.Token(t, "k1", consoletest.Claims{Groups: []string{"guests"}})), http.StatusForbidden},
		{"unknown key id", bearer(r.Token(t, "k2", consoletest.Claims{})), http.StatusUnauthorized},
		{"bare headers", http.Header{"X-Forwarded-User": {"admin"}, "X-Forwarded-Email": {"admin@example.test"},
			"X-Auth-Request-User": {"admin"}, "X-Auth-Request-Groups": {"staff"}, "X-Forwarded-Preferred-Username": {"admin"}}, http.StatusUnauthorized},
		{"nothing", nil, http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := call(t, h, http.MethodGet, "page=overview", c.header, nil)
			if got.code != c.want {
				t.Fatalf("status %d, want %d: %.300s", got.code, c.want, got.body)
			}
			if c.want != http.StatusOK && (strings.Contains(got.body, `id="figures"`) || strings.Contains(got.body, "guest messages")) {
				t.Error("a refused request saw the page")
			}
			if c.want == http.StatusUnauthorized && got.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The unknown key id read the key set again once; the realm then
	// publishes it (a rotation), and after the refresh floor it is taken.
	reads := r.Reads.Load()
	if got := call(t, h, http.MethodGet, "page=overview", bearer(r.Token(t, "k2", consoletest.Claims{})), nil); got.code != http.StatusUnauthorized {
		t.Fatalf("unknown key again: %d", got.code)
	}
	if r.Reads.Load() != reads {
		t.Error("a second unknown key id within 30 s read the key set again")
	}
	r.Publish("k2")
	h.Clock.Set(time.Now().Add(31 * time.Second))
	if got := call(t, h, http.MethodGet, "page=overview", bearer(r.Token(t, "k2", consoletest.Claims{})), nil); got.code != http.StatusOK {
		t.Fatalf("the rotated key after the floor: %d", got.code)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Writes need the CSRF token the console put in the page, issued for this
// sign-in session: none, a made-up one, or one of another session of the
// same person is refused, and the job stays as it was.
func TestWritesNeedTheSessionsCSRFToken(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	d := dbtest.New(t)
	h := deployed(t, d, r)
	var id string
	if err := d.Pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject, status, attempts, last_error)
		VALUES ('guesty-fetch', 'guesty-fetch', 'listing:x1', 'failed', 12, 'guesty: 429') RETURNING id::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	mine := bearer(r.Token(t, "k1", consoletest.Claims{Session: "s1"}))
	other := bearer(r.Token(t, "k1", consoletest.Claims{Session: "s2"}))
	page := call(t, h, http.MethodGet, "page=jobs", mine, nil)
	m := csrfField.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil {
		t.Fatalf("jobs page: %d, token found %v", page.code, m != nil)
	}
	token := m[1]
	for _, c := range []struct {
		name   string
		header http.Header
		form   url.Values
	}{
		{"no token", mine, url.Values{"id": {id}}},
		{"made-up token", mine, url.Values{"id": {id}, "csrf": {"1700000000.AAAAAAAA"}}},
		{"another session's page", other, url.Values{"id": {id}, "csrf": {token}}},
		{"the token without the sign-in", nil, url.Values{"id": {id}, "csrf": {token}}},
	} {
		got := call(t, h, http.MethodPost, "page=jobs", c.header, c.form)
		if got.code != http.StatusForbidden && got.code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 403 or 401", c.name, got.code)
		}
	}
	if got := call(t, h, http.MethodPost, "page=playground", mine, url.Values{"as": {"stranger"}, "question": {"wifi?"}}); got.code != http.StatusForbidden {
		t.Errorf("playground without a token: %d, want 403", got.code)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'failed'", id); n != 1 || len(h.Invoked.Calls()) != 0 {
		t.Fatal("a refused write replayed the job")
	}
	got := call(t, h, http.MethodPost, "page=jobs", mine, url.Values{"id": {id}, "csrf": {token}})
	if got.code != http.StatusSeeOther || !strings.HasPrefix(got.header.Get("Location"), "?") {
		t.Fatalf("replay with the page's token: %d, Location %q (want 303 to a page-relative ?…)", got.code, got.header.Get("Location"))
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'pending'", id); n != 1 || len(h.Invoked.Calls()) != 1 {
		t.Error("the replay with the token did not replay")
	}
}

// CONSOLE_AUTH=off opens the console only in the local runner, and even
// there only to loopback Host names.
func TestOpenAccessOnlyOnLoopback(t *testing.T) {
	d := dbtest.New(t)
	_, _, err := faas.Build(context.Background(), faas.Options{Name: Name, DB: d.Pool, Invoker: &fntest.Recorder{}, LogOutput: io.Discard,
		Lookup: config.FromMap(map[string]string{"CONSOLE_AUTH": "off", "JOB_SIGNING_KEY": fntest.JobKey, "SECRETS_DIR": t.TempDir()})}, New)
	if err == nil || !strings.Contains(err.Error(), "CONSOLE_AUTH") {
		t.Fatalf("the deployed console with CONSOLE_AUTH=off: %v, want a configuration error naming it", err)
	}
	h := faastest.StartWith(t, d, Name, Local, map[string]string{"CONSOLE_AUTH": "off"})
	for host, want := range map[string]int{"127.0.0.1": 200, "localhost:8080": 200, "[::1]:8080": 200,
		"console.example.com": 401, "127.0.0.1.nip.io": 401} {
		req, _ := http.NewRequest(http.MethodGet, h.URL+"/?page=jobs", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, res.StatusCode, want)
		}
	}
}

// Behind the sign-in, in Chromium: the browser sends the token as
// oauth2-proxy would; the pages show, the person is named, and the replay
// button works with the page's token.
func TestConsoleBehindSignInInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	d := dbtest.New(t)
	h := deployed(t, d, r)
	var id string
	if err := d.Pool.QueryRow(context.Background(), `INSERT INTO jobs (kind, function, subject, status, attempts, last_error)
		VALUES ('guesty-fetch', 'guesty-fetch', 'listing:x1', 'failed', 12, 'guesty: 429') RETURNING id::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if code := b.open(t, h.URL+"/?page=overview"); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", code)
	}
	b.expect(t, "status of 401")
	b.clean(t)
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Expiry: time.Now().Add(10 * time.Minute)})}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"overview", "gaps", "conversations", "jobs", "backups", "playground"} {
		if code := b.open(t, h.URL+"/?page="+p); code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
		if who := b.text(t, "header .who"); who != "sam.staff" {
			t.Errorf("%s names %q, want the signed-in sam.staff", p, who)
		}
	}
	b.open(t, h.URL+"/?page=jobs")
	if code := b.submit(t, "#replay-"+id); code != http.StatusOK {
		t.Fatalf("replay: %d", code)
	}
	if !strings.Contains(b.text(t, "#flash"), "1 re-queued") {
		t.Errorf("after the replay: %s", b.text(t, "main"))
	}
	b.clean(t)
}
