package console_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/console"
	"github.com/harborstays/concierge/lib/console/consoletest"
)

// clock is a settable time for the key set's refresh floor and age.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func verifier(r *consoletest.Realm, now func() time.Time) *console.Verifier {
	keys := console.NewKeySet(r.URL)
	keys.Now = now
	return &console.Verifier{Issuer: r.Issuer, Audience: "oauth2-proxy", Group: "staff", Keys: keys}
}

func request(header map[string]string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "/?page=overview", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

func TestVerifierDecides(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	r.Key(t, "rogue", false)
	v := verifier(r, time.Now)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		header map[string]string
		want   error
	}{
		{"valid", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{})}, nil},
		{"scheme in lower case", map[string]string{"Authorization": "bearer " + r.Token(t, "k1", consoletest.Claims{})}, nil},
		{"group with its full path", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Groups: []string{"/staff"}})}, nil},
		{"team as a realm role", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Groups: []string{}, Roles: []string{"staff"}})}, nil},
		{"expired", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Expiry: time.Now().Add(-2 * time.Minute)})}, console.ErrBadToken},
		{"no expiry", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{NoExpiry: true})}, console.ErrBadToken},
		{"wrong audience", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Audience: []string{"account"}})}, console.ErrBadToken},
		{"wrong issuer", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Issuer: "https://auth.example.test/realms/master"})}, console.ErrBadToken},
		{"not in the group", map[string]string{"Authorization": "Bearer " + r.Token(t, "k1", consoletest.Claims{Groups: []string{"guests"}})}, console.ErrNotInTeam},
		{"signed by a key the realm does not publish", map[string]string{"Authorization": "Bearer " + r.Token(t, "rogue", consoletest.Claims{})}, console.ErrBadToken},
		{"tampered claims", map[string]string{"Authorization": "Bearer " + tamper(r.Token(t, "k1", consoletest.Claims{Groups: []string{"guests"}}), r.Token(t, "k1", consoletest.Claims{}))}, console.ErrBadToken},
		{"no header", nil, console.ErrNoToken},
		// oauth2-proxy's own headers (set_xauthrequest) and the usual
		// proxy ones: anyone reaching the gateway can send them.
		{"bare identity headers", map[string]string{"X-Forwarded-User": "admin", "X-Forwarded-Email": "admin@example.test",
			"X-Auth-Request-User": "admin", "X-Auth-Request-Groups": "staff", "X-Forwarded-Groups": "staff"}, console.ErrNoToken},
		{"basic auth", map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, console.ErrNoToken},
		{"not a token", map[string]string{"Authorization": "Bearer not.a.token"}, console.ErrBadToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Authenticate(ctx, request(c.header))
			if c.want == nil {
				if err != nil || id.Subject != "f3b1c2d4-staff-member" || id.Session == "" || id.Open {
					t.Fatalf("got %+v, %v; want the staff member", id, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %+v, %v; want %v", id, err, c.want)
			}
		})
	}
}

// tamper puts the payload of a token onto the signature of another.
func tamper(payloadFrom, signatureFrom string) string {
	a, b := strings.Split(payloadFrom, "."), strings.Split(signatureFrom, ".")
	return b[0] + "." + a[1] + "." + b[2]
}

// Tokens signed with HMAC (keyed with anything a client can know) or
// with no signature at all are never accepted.
func TestVerifierRefusesSymmetricAndUnsigned(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	v := verifier(r, time.Now)
	claims := jwt.Claims{Issuer: r.Issuer, Audience: jwt.Audience{"oauth2-proxy"}, Subject: "x", Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("the realm's public key, or any text at all")},
		(&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := jwt.Signed(signer).Claims(claims).Claims(map[string]any{"groups": []string{"staff"}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	unsigned := "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ." + strings.Split(hs, ".")[1] + "."
	for _, tok := range []string{hs, unsigned} {
		if _, err := v.Authenticate(context.Background(), request(map[string]string{"Authorization": "Bearer " + tok})); !errors.Is(err, console.ErrBadToken) {
			t.Errorf("token %.20s…: %v, want ErrBadToken", tok, err)
		}
	}
}

// The key set is read once and cached; a token naming a key id it does
// not hold reads it again (a rotation), at most once per 30 s, so made-up
// key ids cannot make every request a request to Keycloak.
func TestKeySetRefreshesOnUnknownKeyWithAFloor(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	r.Key(t, "k2", false)
	clk := &clock{t: time.Now()}
	v := verifier(r, clk.Now)
	ctx := context.Background()
	auth := func(kid string) error {
		_, err := v.Authenticate(ctx, request(map[string]string{"Authorization": "Bearer " + r.Token(t, kid, consoletest.Claims{})}))
		return err
	}
	for i := 0; i < 3; i++ {
		if err := auth("k1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Reads.Load(); n != 1 {
		t.Fatalf("JWKS read %d times for three requests, want once", n)
	}
	// k2 is not published yet: one read, then refused; more tokens naming
	// it within the floor read nothing.
	clk.Add(time.Minute)
	for i := 0; i < 5; i++ {
		if err := auth("k2"); !errors.Is(err, console.ErrBadToken) {
			t.Fatalf("unpublished key: %v", err)
		}
	}
	if n := r.Reads.Load(); n != 2 {
		t.Fatalf("JWKS read %d times, want 2 (once more for the unknown key, then the floor)", n)
	}
	// The realm rotates: k2 is published. Within the floor it is still
	// unknown; after it, the next token reads the set and is accepted.
	r.Publish("k2")
	if err := auth("k2"); !errors.Is(err, console.ErrBadToken) {
		t.Fatalf("within the floor: %v", err)
	}
	clk.Add(31 * time.Second)
	if err := auth("k2"); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if err := auth("k1"); err != nil {
		t.Fatalf("the old key still published: %v", err)
	}
	if n := r.Reads.Load(); n != 3 {
		t.Fatalf("JWKS read %d times, want 3", n)
	}
	// After an hour the set is read again even for known keys.
	clk.Add(61 * time.Minute)
	if err := auth("k1"); err != nil {
		t.Fatal(err)
	}
	if n := r.Reads.Load(); n != 4 {
		t.Fatalf("JWKS read %d times after an hour, want 4", n)
	}
}

func TestAccessFromConfig(t *testing.T) {
	key := strings.Repeat("k", 40)
	for _, c := range []struct {
		name  string
		local bool
		env   map[string]string
		open  bool
		fails string
	}{
		{"runner without a setting is open", true, nil, true, ""},
		{"runner may say off", true, map[string]string{"CONSOLE_AUTH": "off"}, true, ""},
		{"runner may ask for sign-in", true, map[string]string{"CONSOLE_AUTH": "oidc", "CONSOLE_OIDC_ISSUER": "https://auth.example.test/realms/concierge", "CONSOLE_CSRF_KEY": key}, false, ""},
		{"deployed without a setting needs the issuer", false, map[string]string{"CONSOLE_CSRF_KEY": key}, false, "CONSOLE_OIDC_ISSUER"},
		{"deployed refuses off", false, map[string]string{"CONSOLE_AUTH": "off", "CONSOLE_CSRF_KEY": key}, false, "CONSOLE_AUTH"},
		{"deployed needs the CSRF key", false, map[string]string{"CONSOLE_OIDC_ISSUER": "https://auth.example.test/realms/concierge"}, false, "console-csrf-key"},
		{"a short CSRF key", false, map[string]string{"CONSOLE_OIDC_ISSUER": "https://auth.example.test/realms/concierge", "CONSOLE_CSRF_KEY": "short"}, false, "CONSOLE_CSRF_KEY"},
		{"a mode that is not one", true, map[string]string{"CONSOLE_AUTH": "maybe"}, false, "CONSOLE_AUTH"},
		{"deployed and complete", false, map[string]string{"CONSOLE_OIDC_ISSUER": "https://auth.example.test/realms/concierge", "CONSOLE_CSRF_KEY": key}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"SECRETS_DIR": t.TempDir()}
			for k, v := range c.env {
				env[k] = v
			}
			cfg := config.New(config.FromMap(env))
			auth, csrf := console.AccessFromConfig(cfg, c.local, nil)
			err := cfg.Err()
			if c.fails != "" {
				if err == nil || !strings.Contains(err.Error(), c.fails) {
					t.Fatalf("err %v, want one naming %s", err, c.fails)
				}
				return
			}
			if err != nil || auth == nil || csrf == nil {
				t.Fatalf("auth %T csrf %v err %v", auth, csrf != nil, err)
			}
			if _, open := auth.(console.OpenAccess); open != c.open {
				t.Fatalf("open %v, want %v", open, c.open)
			}
		})
	}
}

func TestCSRFTokens(t *testing.T) {
	clk := &clock{t: time.Now()}
	c, err := console.NewCSRF([]byte(strings.Repeat("x", 32)), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := console.NewCSRF([]byte(strings.Repeat("y", 32)), clk.Now)
	me := console.Identity{Subject: "alice", Session: "s1"}
	tok := c.Token(me)
	if err := c.Check(me, tok); err != nil {
		t.Fatalf("own token refused: %v", err)
	}
	for _, bad := range []struct {
		name string
		id   console.Identity
		tok  string
	}{
		{"empty", me, ""},
		{"another session of the same user", console.Identity{Subject: "alice", Session: "s2"}, tok},
		{"another user", console.Identity{Subject: "bob", Session: "s1"}, tok},
		{"another key", me, other.Token(me)},
		{"time changed", me, "1" + tok},
		{"signature changed", me, tok[:len(tok)-2] + "AA"},
	} {
		if err := c.Check(bad.id, bad.tok); !errors.Is(err, console.ErrCSRF) {
			t.Errorf("%s: %v, want ErrCSRF", bad.name, err)
		}
	}
	clk.Add(11 * time.Hour)
	if err := c.Check(me, tok); err != nil {
		t.Errorf("after 11 hours: %v", err)
	}
	clk.Add(2 * time.Hour)
	if err := c.Check(me, tok); !errors.Is(err, console.ErrCSRF) {
		t.Errorf("after 13 hours: %v, want ErrCSRF", err)
	}
	if _, err := console.NewCSRF([]byte("short"), nil); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

// Requests arriving together with a key id the cache lacks read the key
// set once between them.
func TestKeySetReadsOnceForConcurrentRequests(t *testing.T) {
	r := consoletest.NewRealm(t)
	r.Key(t, "k1", true)
	v := verifier(r, time.Now)
	tok := r.Token(t, "k1", consoletest.Claims{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Authenticate(context.Background(), request(map[string]string{"Authorization": "Bearer " + tok}))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := r.Reads.Load(); n != 1 {
		t.Errorf("20 concurrent first requests read the key set %d times, want once", n)
	}
}
