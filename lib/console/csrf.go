package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// csrfTTL is how long a form stays good: oauth2-proxy's session
// (cookie_expire, 12h), so a page left open a working day still submits.
const csrfTTL = 12 * time.Hour

// MinCSRFKeyLen is the shortest CONSOLE_CSRF_KEY accepted.
const MinCSRFKeyLen = 32

// ErrCSRF: a write without a token the console issued to this session.
var ErrCSRF = errors.New("the form's token is missing, expired or not this session's; reload the page and submit again")

// CSRF issues and checks the token every form that writes carries
// (replay, the playground): HMAC-SHA256, under a key only the console
// holds, of the signed-in subject, the Keycloak session id and the time it
// was issued. A page of another site can make the browser send the
// oauth2-proxy cookie, but cannot read a console page to learn a token,
// nor compute one; a token from another session or older than csrfTTL is
// refused. No cookie of our own is needed.
type CSRF struct {
	key []byte
	now func() time.Time
}

// NewCSRF returns a CSRF with key (at least MinCSRFKeyLen bytes), or a
// random key when key is empty (the local runner: one process).
func NewCSRF(key []byte, now func() time.Time) (*CSRF, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if len(key) < MinCSRFKeyLen {
		return nil, errors.New("the CSRF key must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &CSRF{key: key, now: now}, nil
}

func (c *CSRF) mac(id Identity, ts string) string {
	m := hmac.New(sha256.New, c.key)
	// NUL-separated: a subject cannot end where a session begins.
	m.Write([]byte("concierge-console-csrf/v1\x00" + id.Subject + "\x00" + id.Session + "\x00" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Token returns a token for id's forms.
func (c *CSRF) Token(id Identity) string {
	ts := strconv.FormatInt(c.now().Unix(), 10)
	return ts + "." + c.mac(id, ts)
}

// Check returns ErrCSRF unless tok is one Token issued for id's session
// within csrfTTL.
func (c *CSRF) Check(id Identity, tok string) error {
	ts, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return ErrCSRF
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrCSRF
	}
	issued := time.Unix(n, 0)
	now := c.now()
	if now.Sub(issued) > csrfTTL || issued.After(now.Add(time.Minute)) {
		return ErrCSRF
	}
	if !hmac.Equal([]byte(sig), []byte(c.mac(id, ts))) {
		return ErrCSRF
	}
	return nil
}
