package guesty

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/fault"
)

const (
	// renewBefore is how long before its expiry a token is renewed: long
	// enough that no request carries a token that expires in flight, short
	// enough that a day costs little more than one token (Guesty allows
	// five per client per 24 h, each valid 24 h).
	renewBefore = 30 * time.Minute
	// tokenScope is the only scope of the Open API.
	tokenScope = "open-api"
	// maxTokenResponse bounds the token answer.
	maxTokenResponse = 64 << 10
)

// tokenSource hands out the client's access token: from this process's
// memory while it is fresh, else from PostgreSQL (guesty_tokens), else a
// new one requested by one caller under an advisory lock while the others
// wait and then read what it stored. Never a token per invocation: Guesty
// refuses a sixth token in 24 hours.
type tokenSource struct {
	api      *API
	db       *pgxpool.Pool
	clientID string
	secret   string

	mu  sync.Mutex
	tok string
	exp time.Time // by this process's monotonic clock

	requested atomic.Int64
}

// clientKey identifies the client's row without storing its id.
func (s *tokenSource) clientKey() string {
	sum := sha256.Sum256([]byte("guesty-client:" + s.clientID))
	return hex.EncodeToString(sum[:])
}

func digest(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// token returns a token valid for at least renewBefore.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && time.Until(s.exp) > renewBefore {
		return s.tok, nil
	}
	if s.db == nil {
		tok, ttl, err := s.request(ctx)
		if err != nil {
			return "", err
		}
		s.tok, s.exp = tok, time.Now().Add(ttl)
		return tok, nil
	}
	tok, left, err := s.shared(ctx)
	if err != nil {
		return "", err
	}
	s.tok, s.exp = tok, time.Now().Add(left)
	return tok, nil
}

// tokenLock is the advisory lock of one client's renewal.
const tokenLock = `SELECT pg_advisory_xact_lock(hashtextextended('guesty-token:' || $1, 0))`

// shared reads the stored token, renewing it under the advisory lock when
// it is missing, unreadable or near its expiry. The database's clock
// decides expiry, so replicas with skewed clocks agree.
func (s *tokenSource) shared(ctx context.Context) (string, time.Duration, error) {
	key := s.clientKey()
	if tok, left, ok := s.read(ctx, s.db, key); ok {
		return tok, left, nil
	}
	var tok string
	var left time.Duration
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, tokenLock, key); err != nil {
			return err
		}
		// Whoever held the lock before us may have renewed it.
		var ok bool
		if tok, left, ok = s.read(ctx, tx, key); ok {
			return nil
		}
		fresh, ttl, err := s.request(ctx)
		if err != nil {
			return err
		}
		sealed, err := seal(s.secret, fresh)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO guesty_tokens (client_key, sealed_token, token_digest, expires_at)
			VALUES ($1, $2, $3, now() + make_interval(secs => $4))
			ON CONFLICT (client_key) DO UPDATE SET sealed_token = EXCLUDED.sealed_token,
				token_digest = EXCLUDED.token_digest, expires_at = EXCLUDED.expires_at, issued_at = now(),
				issued_count = guesty_tokens.issued_count + 1`, key, sealed, digest(fresh), ttl.Seconds()); err != nil {
			return err
		}
		tok, left = fresh, ttl
		return nil
	})
	if err != nil {
		if fault.KindOf(err) != fault.Internal {
			return "", 0, err
		}
		return "", 0, fault.Wrap(fault.Unavailable, fmt.Errorf("guesty token: %w", err), "database unavailable")
	}
	return tok, left, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// read returns the stored token when it stays valid for more than
// renewBefore and opens with this client's secret.
func (s *tokenSource) read(ctx context.Context, q querier, key string) (string, time.Duration, bool) {
	var sealed []byte
	var leftSecs float64
	err := q.QueryRow(ctx, `SELECT sealed_token, extract(epoch FROM expires_at - now())::float8
		FROM guesty_tokens WHERE client_key = $1`, key).Scan(&sealed, &leftSecs)
	if err != nil {
		return "", 0, false
	}
	left := time.Duration(leftSecs * float64(time.Second))
	if left <= renewBefore {
		return "", 0, false
	}
	tok, err := open(s.secret, sealed)
	if err != nil {
		// Sealed with a previous secret: renew with the current one.
		return "", 0, false
	}
	return tok, left, true
}

// invalidate forgets tok after Guesty refused it: in memory, and in the
// database unless another caller stored a newer token meanwhile.
func (s *tokenSource) invalidate(ctx context.Context, tok string) {
	s.mu.Lock()
	if s.tok == tok {
		s.tok = ""
	}
	s.mu.Unlock()
	if s.db != nil {
		_, _ = s.db.Exec(ctx, `UPDATE guesty_tokens SET expires_at = now() WHERE client_key = $1 AND token_digest = $2`,
			s.clientKey(), digest(tok))
	}
}

// request asks Guesty for a new token (POST /oauth2/token, client
// credentials, scope open-api) and returns it with its lifetime.
func (s *tokenSource) request(ctx context.Context) (string, time.Duration, error) {
	const route = "POST /oauth2/token"
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"scope":         {tokenScope},
		"client_id":     {s.clientID},
		"client_secret": {s.secret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.api.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fault.Wrap(fault.Permanent, err, "GUESTY_API_URL is not a usable URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	s.requested.Add(1)
	res, err := s.api.http.Do(req)
	if err != nil {
		return "", 0, fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: %w", route, scrubURL(err)), "Guesty API unreachable")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTokenResponse))
	if err != nil {
		return "", 0, fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: read: %w", route, err), "Guesty API unreachable")
	}
	ae := &APIError{Route: route, Status: res.StatusCode, Message: errorMessage(body)}
	switch st := res.StatusCode; {
	case st == http.StatusOK:
	case st == http.StatusBadRequest || st == http.StatusUnauthorized || st == http.StatusForbidden:
		return "", 0, fault.Wrap(fault.Permanent, ae, fmt.Sprintf("Guesty refused the client credentials (HTTP %d): check GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret)", st))
	case st == http.StatusTooManyRequests:
		// Per Guesty, five tokens per client in 24 hours: more renewals
		// than that mean tokens are not shared (a replica without the
		// database, a second deployment with the same application).
		// The wait can be most of a day: the oldest of the day's tokens
		// must age out.
		d, ok := backoff.ParseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		if !ok {
			d = time.Hour
		}
		ae.RetryAfter = min(max(d, time.Second), 24*time.Hour)
		return "", 0, fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Guesty refused another access token (daily token limit?), retry after %s", ae.RetryAfter))
	case st >= 500:
		return "", 0, fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Guesty token endpoint unavailable (HTTP %d)", st))
	default:
		return "", 0, fault.Wrap(fault.Permanent, ae, fmt.Sprintf("Guesty token endpoint refused the request (HTTP %d)", st))
	}
	var out struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
		TokenType   string  `json:"token_type"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return "", 0, fault.New(fault.Unavailable, "Guesty %s answered without an access_token", route)
	}
	if out.TokenType != "" && !strings.EqualFold(out.TokenType, "bearer") {
		return "", 0, fault.New(fault.Permanent, "Guesty %s answered a %q token, not a bearer token", route, out.TokenType)
	}
	ttl := time.Duration(out.ExpiresIn * float64(time.Second))
	if ttl <= 0 {
		ttl = 24 * time.Hour // Guesty's documented lifetime
	}
	return out.AccessToken, ttl, nil
}

// seal encrypts tok with AES-256-GCM under a key derived from the client
// secret.
func seal(secret, tok string) ([]byte, error) {
	gcm, err := sealer(secret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, []byte(tok), nil), nil
}

func open(secret string, sealed []byte) (string, error) {
	gcm, err := sealer(secret)
	if err != nil {
		return "", err
	}
	if len(sealed) < gcm.NonceSize() {
		return "", errors.New("sealed token too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

func sealer(secret string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("concierge guesty token v1:" + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
