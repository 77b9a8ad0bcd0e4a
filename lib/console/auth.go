package console

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/harborstays/concierge/lib/fault"
)

// Identity is who a request comes from.
type Identity struct {
	// Subject is the token's sub; "local" when access is open.
	Subject string
	// Session is the Keycloak session (sid): the CSRF tokens are bound to it.
	Session string
	// Name is what the page shows: preferred_username, name or email.
	Name string
	// Open: no sign-in (CONSOLE_AUTH=off in the local runner).
	Open bool
}

// Authenticator decides who a request comes from, or refuses it.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (Identity, error)
}

// Why a request is refused. ErrNoToken and ErrBadToken are 401,
// ErrNotInTeam 403.
var (
	ErrNoToken   = errors.New("no bearer token")
	ErrBadToken  = errors.New("invalid token")
	ErrNotInTeam = errors.New("signed in, but not in the team's group")
)

// OpenAccess lets in every request addressed to loopback: the local
// runner's console, which serves 127.0.0.1 only. A request naming any other
// Host (a DNS-rebinding page, a proxy in front of the runner) is refused
// even so: the open console is never reachable under another name.
type OpenAccess struct{}

// Authenticate returns the local identity for a loopback Host.
func (OpenAccess) Authenticate(_ context.Context, r *http.Request) (Identity, error) {
	if !loopback(r.Host) {
		return Identity{}, fmt.Errorf("%w: the open console answers on 127.0.0.1 only", ErrNoToken)
	}
	return Identity{Subject: "local", Name: "local", Open: true}, nil
}

// loopback reports whether a Host header names 127.0.0.1, localhost or ::1.
func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	switch strings.ToLower(strings.Trim(host, "[]")) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// tokenLeeway absorbs clock skew between Keycloak and the function.
const tokenLeeway = 30 * time.Second

// maxTokenBytes: Keycloak's tokens are 1–3 kB; a larger header is not one.
const maxTokenBytes = 16 << 10

// signingAlgs are what Keycloak signs with (RS256 by default; the others
// if the realm is set to them). HMAC and "none" are never accepted.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

// Verifier checks the Keycloak-issued access token oauth2-proxy forwards
// (AccessTokenHeader, or Authorization: Bearer): its signature against
// the realm's keys, the issuer, the audience, the expiry, and that the
// user is in the team's group (groups claim) or has it as a realm or
// client role. Nothing else identifies a request: headers such as
// X-Forwarded-User or X-Auth-Request-Email are ignored, since anyone who
// reaches the gateway can set them.
type Verifier struct {
	Issuer   string
	Audience string
	Group    string
	Keys     *KeySet
	Now      func() time.Time
}

type teamClaims struct {
	Groups      []string `json:"groups"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
	ResourceAccess map[string]struct {
		Roles []string `json:"roles"`
	} `json:"resource_access"`
	SID               string `json:"sid"`
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name"`
	Email             string `json:"email"`
}

// Authenticate verifies the request's bearer token.
func (v *Verifier) Authenticate(ctx context.Context, r *http.Request) (Identity, error) {
	raw, ok := forwardedToken(r.Header)
	if !ok {
		return Identity{}, ErrNoToken
	}
	if len(raw) > maxTokenBytes {
		return Identity{}, fmt.Errorf("%w: too long", ErrBadToken)
	}
	tok, err := jwt.ParseSigned(raw, signingAlgs)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return Identity{}, fmt.Errorf("%w: no key id", ErrBadToken)
	}
	key, err := v.Keys.Key(ctx, tok.Headers[0].KeyID)
	if errors.Is(err, ErrUnknownKey) {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if err != nil {
		return Identity{}, fault.Wrap(fault.Unavailable, err, "the sign-in keys cannot be read; try again shortly")
	}
	if key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm {
		return Identity{}, fmt.Errorf("%w: signed with %s, the key is for %s", ErrBadToken, tok.Headers[0].Algorithm, key.Algorithm)
	}
	var std jwt.Claims
	var team teamClaims
	if err := tok.Claims(key.Key, &std, &team); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if std.Expiry == nil {
		return Identity{}, fmt.Errorf("%w: no expiry", ErrBadToken)
	}
	if std.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no subject", ErrBadToken)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{v.Audience}, Time: now()}, tokenLeeway); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if !team.member(v.Group, v.Audience) {
		return Identity{}, ErrNotInTeam
	}
	name := team.PreferredUsername
	if name == "" {
		name = team.Name
	}
	if name == "" {
		name = team.Email
	}
	return Identity{Subject: std.Subject, Session: team.SID, Name: name}, nil
}

// member reports whether the claims name group: as a group (Keycloak's
// group membership mapper, with or without the full path), a realm role,
// or a role of the client the token is for.
func (c teamClaims) member(group, client string) bool {
	if group == "" {
		return false
	}
	for _, g := range c.Groups {
		if g == group || strings.TrimPrefix(g, "/") == strings.TrimPrefix(group, "/") {
			return true
		}
	}
	return slices.Contains(c.RealmAccess.Roles, group) || slices.Contains(c.ResourceAccess[client].Roles, group)
}

// AccessTokenHeader is where oauth2-proxy (pass_access_token, as the
// platform's oauth2-proxy.cfg sets it) forwards the user's Keycloak access
// token to the console; it drops a client's own. The token is verified like
// any other: the header's presence proves nothing.
const AccessTokenHeader = "X-Forwarded-Access-Token"

// forwardedToken returns the token oauth2-proxy forwarded: the access token
// header first, else an "Authorization: Bearer" value.
func forwardedToken(h http.Header) (string, bool) {
	if tok := strings.TrimSpace(h.Get(AccessTokenHeader)); tok != "" {
		return tok, true
	}
	return bearer(h.Get("Authorization"))
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}
