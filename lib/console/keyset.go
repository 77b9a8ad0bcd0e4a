package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Bounds of the realm's key set (JWKS) as the console reads it.
const (
	// jwksMaxBytes: a realm's key set is a few kB; more is not a key set.
	jwksMaxBytes = 1 << 20
	// jwksTimeout bounds one read of the key set inside a page's budget.
	jwksTimeout = 5 * time.Second
	// jwksRefreshFloor: an unknown key id reads the set again at most this
	// often, so tokens with made-up key ids cannot turn every request into
	// a request to Keycloak (go-oidc's RemoteKeySet reads it again for each).
	jwksRefreshFloor = 30 * time.Second
	// jwksMaxAge: the set is read again after this long even when every key
	// id is known, so a key the realm removed stops being trusted.
	jwksMaxAge = time.Hour
)

// ErrUnknownKey: the token names a key the realm's key set does not hold,
// even after reading it again.
var ErrUnknownKey = errors.New("token signed with a key the realm does not publish")

// KeySet is the realm's public signing keys, read from its JWKS URL,
// cached, and read again when a token names a key id not in the cache (at
// most every jwksRefreshFloor) or the cache is older than jwksMaxAge.
type KeySet struct {
	URL    string
	Client *http.Client
	Now    func() time.Time

	mu      sync.Mutex // guards keys and fetched
	keys    map[string]jose.JSONWebKey
	fetched time.Time
	fetch   sync.Mutex // one read of the set at a time
}

// NewKeySet returns the key set at url.
func NewKeySet(url string) *KeySet {
	return &KeySet{URL: url, Client: &http.Client{Timeout: jwksTimeout}, Now: time.Now}
}

// Key returns the public key with id kid.
func (k *KeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if key, ok, stale, _ := k.lookup(kid); ok && !stale {
		return key, nil
	}
	k.fetch.Lock()
	defer k.fetch.Unlock()
	// Another request may have read the set while this one waited.
	key, ok, stale, fresh := k.lookup(kid)
	switch {
	case ok && !stale:
		return key, nil
	case !ok && fresh:
		// Read within the floor: a made-up key id costs no request.
		return jose.JSONWebKey{}, ErrUnknownKey
	}
	err := k.refresh(ctx)
	if err != nil {
		if ok {
			// Keycloak unreachable: the key it published before still
			// holds until it answers again.
			return key, nil
		}
		return jose.JSONWebKey{}, err
	}
	if key, ok, _, _ := k.lookup(kid); ok {
		return key, nil
	}
	return jose.JSONWebKey{}, ErrUnknownKey
}

// lookup reports the cached key, whether the cache is past its age, and
// whether it was read within the floor.
func (k *KeySet) lookup(kid string) (key jose.JSONWebKey, ok, stale, fresh bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok = k.keys[kid]
	age := k.Now().Sub(k.fetched)
	return key, ok, k.fetched.IsZero() || age >= jwksMaxAge, !k.fetched.IsZero() && age < jwksRefreshFloor
}

func (k *KeySet) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.URL, nil)
	if err != nil {
		return fmt.Errorf("read the realm's keys: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.Client.Do(req)
	// Whatever the outcome, the floor applies from now.
	k.mu.Lock()
	k.fetched = k.Now()
	k.mu.Unlock()
	if err != nil {
		return fmt.Errorf("read the realm's keys: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("read the realm's keys: %s answered %d", k.URL, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, jwksMaxBytes+1))
	if err != nil {
		return fmt.Errorf("read the realm's keys: %w", err)
	}
	if len(body) > jwksMaxBytes {
		return fmt.Errorf("read the realm's keys: more than %d bytes", jwksMaxBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("read the realm's keys: %w", err)
	}
	keys := map[string]jose.JSONWebKey{}
	for _, key := range set.Keys {
		// Signing keys only, public parts only (a set that carries a
		// private key by mistake does not make us hold it).
		if key.KeyID == "" || key.Use == "enc" || !key.Valid() {
			continue
		}
		keys[key.KeyID] = key.Public()
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}
