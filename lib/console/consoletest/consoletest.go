// Package consoletest plays Keycloak's side of the console's sign-in for
// tests: a realm's signing keys, its JWKS endpoint (which counts its
// reads and publishes only the keys it is told to), and signed tokens.
package consoletest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Realm plays Keycloak's side: signing keys, the JWKS endpoint (counting
// its reads), and tokens.
type Realm struct {
	Issuer string
	URL    string // its JWKS
	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey
	served map[string]bool // kids the JWKS publishes
	Reads  atomic.Int64
}

// NewRealm starts a realm's JWKS endpoint.
func NewRealm(t testing.TB) *Realm {
	t.Helper()
	r := &Realm{Issuer: "https://auth.example.test/realms/concierge", keys: map[string]*rsa.PrivateKey{}, served: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.Reads.Add(1)
		r.mu.Lock()
		defer r.mu.Unlock()
		var set jose.JSONWebKeySet
		for kid := range r.served {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &r.keys[kid].PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Key makes a signing key; published says whether the JWKS serves it.
func (r *Realm) Key(t testing.TB, kid string, published bool) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[kid] = k
	if published {
		r.served[kid] = true
	}
}

// Publish makes the JWKS serve kid (a rotation).
func (r *Realm) Publish(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served[kid] = true
}

// Claims of a test token; zero fields take the realm's valid defaults.
type Claims struct {
	Issuer   string
	Audience []string
	Subject  string
	Session  string
	Groups   []string
	Roles    []string
	Expiry   time.Time
	NoExpiry bool
}

// Token signs c with kid.
func (r *Realm) Token(t testing.TB, kid string, c Claims) string {
	t.Helper()
	r.mu.Lock()
	key := r.keys[kid]
	r.mu.Unlock()
	if key == nil {
		t.Fatalf("no key %s", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer == "" {
		c.Issuer = r.Issuer
	}
	if c.Audience == nil {
		c.Audience = []string{"oauth2-proxy"}
	}
	if c.Subject == "" {
		c.Subject = "f3b1c2d4-staff-member"
	}
	if c.Session == "" {
		c.Session = "session-1"
	}
	if c.Groups == nil {
		c.Groups = []string{"staff"}
	}
	if c.Expiry.IsZero() {
		c.Expiry = time.Now().Add(5 * time.Minute)
	}
	std := jwt.Claims{Issuer: c.Issuer, Audience: jwt.Audience(c.Audience), Subject: c.Subject,
		IssuedAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))}
	if !c.NoExpiry {
		std.Expiry = jwt.NewNumericDate(c.Expiry)
	}
	extra := map[string]any{"sid": c.Session, "groups": c.Groups, "preferred_username": "sam.staff",
		"realm_access": map[string]any{"roles": c.Roles}, "typ": "ID"}
	tok, err := jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
