package console

import (
	"time"

	"github.com/harborstays/concierge/lib/config"
)

// Access modes (CONSOLE_AUTH).
const (
	AuthOIDC = "oidc"
	AuthOff  = "off"
)

// Settings of the console.
var (
	SettingAuth = config.Register(config.Setting{Name: "CONSOLE_AUTH",
		Help: "oidc (the default): every request needs the Keycloak access token oauth2-proxy forwards (X-Forwarded-Access-Token, or Authorization: Bearer); off: open, accepted only by the local runner (make run, where it is the default), which serves 127.0.0.1", Used: "console"})
	SettingIssuer = config.Register(config.Setting{Name: "CONSOLE_OIDC_ISSUER",
		Help: "the realm's issuer, exactly as tokens carry it in iss: https://auth.<domain>/realms/<realm>", Used: "console"})
	SettingJWKS = config.Register(config.Setting{Name: "CONSOLE_OIDC_JWKS_URL",
		Help: "where the realm's signing keys are read (cached; read again for an unknown key id at most every 30 s, and hourly); default: the issuer's /protocol/openid-connect/certs", Used: "console"})
	SettingAudience = config.Register(config.Setting{Name: "CONSOLE_OIDC_AUDIENCE", Default: "oauth2-proxy",
		Help: "a value the token's aud must hold: the oauth2-proxy client of the realm", Used: "console"})
	SettingGroup = config.Register(config.Setting{Name: "CONSOLE_REQUIRED_GROUP", Default: "staff",
		Help: "the Keycloak group (groups claim) or realm or client role that may use the console; other signed-in users get 403", Used: "console"})
	SettingCSRFKey = config.Register(config.Setting{Name: "CONSOLE_CSRF_KEY", Secret: "console-csrf-key",
		Help: "HMAC key (32+ bytes) of the tokens the console's forms carry (replay, playground); required with CONSOLE_AUTH=oidc, random per run when off", Used: "console"})
)

// AccessFromConfig returns how the console admits requests. local says
// the caller is the local runner, which listens on 127.0.0.1 only: only
// then is CONSOLE_AUTH=off accepted, and only then does an unset
// CONSOLE_AUTH mean off (the runner's choice, made in its code, never a
// guess from a request). Problems are recorded in c.
func AccessFromConfig(c *config.Config, local bool, now func() time.Time) (Authenticator, *CSRF) {
	mode := c.String(SettingAuth)
	switch {
	case mode == "" && local:
		mode = AuthOff
	case mode == "":
		mode = AuthOIDC
	default:
		mode = c.Enum(SettingAuth, AuthOIDC, AuthOff)
	}
	key := c.String(SettingCSRFKey)
	if mode == AuthOff {
		if !local {
			c.Reject(SettingAuth, "off is accepted only by the local runner (make run), which serves 127.0.0.1; a deployed console verifies the Keycloak token")
			return nil, nil
		}
		csrf, err := NewCSRF([]byte(key), now)
		if err != nil {
			c.Reject(SettingCSRFKey, "%v", err)
		}
		return OpenAccess{}, csrf
	}
	issuer := c.URL(SettingIssuer)
	if issuer == "" {
		c.Require(SettingIssuer)
	}
	jwks := c.URL(SettingJWKS)
	if jwks == "" {
		jwks = issuer + "/protocol/openid-connect/certs"
	}
	audience := c.Require(SettingAudience)
	group := c.Require(SettingGroup)
	if key == "" {
		c.Require(SettingCSRFKey)
		return nil, nil
	}
	csrf, err := NewCSRF([]byte(key), now)
	if err != nil {
		c.Reject(SettingCSRFKey, "%v", err)
		return nil, nil
	}
	keys := NewKeySet(jwks)
	if now != nil {
		keys.Now = now
	}
	return &Verifier{Issuer: issuer, Audience: audience, Group: group, Keys: keys, Now: now}, csrf
}
