package main

// realm plays the Keycloak realm the console trusts in production, for the
// rehearsal: the realm's JWKS where Keycloak publishes it, and tokens signed
// with its key as Keycloak issues them to oauth2-proxy (RS256, kid, iss,
// aud, exp, sub, groups). The console function fetches the keys through the
// swarm's DNS as it fetches Keycloak's; the rehearsal asks /_token for a
// staff member's token, an expired one and an outsider's, and shows the
// console each.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

func realm(args []string) error {
	fs := flag.NewFlagSet("realm", flag.ExitOnError)
	listen := fs.String("listen", ":8080", "address to serve on")
	issuer := fs.String("issuer", "", "the realm's issuer URL, as tokens carry it in iss")
	audience := fs.String("audience", "oauth2-proxy", "the client tokens are for")
	_ = fs.Parse(args)
	if *issuer == "" {
		return fmt.Errorf("-issuer is required")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	const kid = "rehearsal-rs256"
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/{realm}/protocol/openid-connect/certs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	// /_token?group=G&ttl=SECONDS (negative: already expired).
	mux.HandleFunc("GET /_token", func(w http.ResponseWriter, r *http.Request) {
		ttl, err := strconv.Atoi(r.URL.Query().Get("ttl"))
		if err != nil {
			ttl = 300
		}
		now := time.Now()
		head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
		claims, _ := json.Marshal(map[string]any{
			"iss": *issuer, "aud": []string{*audience}, "azp": *audience,
			"sub": "rehearsal-agent", "preferred_username": "rehearsal",
			"iat": now.Unix(), "exp": now.Add(time.Duration(ttl) * time.Second).Unix(),
			"groups": []string{r.URL.Query().Get("group")},
		})
		signing := b64(head) + "." + b64(claims)
		sum := sha256.Sum256([]byte(signing))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprint(w, signing+"."+b64(sig))
	})
	return (&http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe()
}
