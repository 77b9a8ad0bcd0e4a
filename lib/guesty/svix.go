package guesty

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// svixTolerance is Svix's own: a signed timestamp older or newer than this
// is a replay or a badly wrong clock.
const svixTolerance = 5 * time.Minute

// maxSvixIDLength bounds the message id, which becomes the dedupe key of a
// unique index: Svix ids are "msg_" and a 27-character KSUID, so 256 bytes
// leave room for any other sender while an index row cannot overflow.
const maxSvixIDLength = 256

// CheckID returns an Invalid fault naming svix-id when id is longer than
// maxSvixIDLength.
func CheckID(id string) error {
	if len(id) > maxSvixIDLength {
		return fault.Field("svix-id", "must be at most %d bytes", maxSvixIDLength)
	}
	return nil
}

// Verifier checks Svix webhook signatures (Guesty signs with Svix).
//
// Written out rather than taken from svix-webhooks/go: that module pulls the
// whole Svix API client in, and its clock cannot be injected, which the
// tolerance tests need. The algorithm is a dozen lines and the contract's
// known-answer vector pins it.
type Verifier struct {
	key [][]byte
	Now func() time.Time
}

// NewVerifier decodes secrets of the form whsec_<base64>. Several secrets
// (space- or comma-separated by the caller) allow rotation.
func NewVerifier(secrets ...string) (*Verifier, error) {
	v := &Verifier{Now: time.Now}
	for _, s := range secrets {
		raw := strings.TrimPrefix(strings.TrimSpace(s), "whsec_")
		k, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(k) == 0 {
			return nil, errors.New("guesty: webhook secret is not whsec_<base64>")
		}
		v.key = append(v.key, k)
	}
	if len(v.key) == 0 {
		return nil, errors.New("guesty: no webhook secret")
	}
	return v, nil
}

// header reads a svix-* header or its webhook-* alias.
func header(h http.Header, name string) string {
	if v := h.Get("svix-" + name); v != "" {
		return v
	}
	return h.Get("webhook-" + name)
}

// Verify checks the signature of body and returns the message id.
func (v *Verifier) Verify(h http.Header, body []byte) (string, error) {
	id, ts, sigs := header(h, "id"), header(h, "timestamp"), header(h, "signature")
	if id == "" || ts == "" || sigs == "" {
		return "", fault.New(fault.Unauthorized, "missing svix-id, svix-timestamp or svix-signature header")
	}
	if err := CheckID(id); err != nil {
		// Before the MAC: a huge id is refused without hashing it.
		return "", err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fault.New(fault.Unauthorized, "svix-timestamp is not a Unix time")
	}
	if d := v.Now().Sub(time.Unix(sec, 0)); d > svixTolerance || d < -svixTolerance {
		return "", fault.New(fault.Unauthorized, "svix-timestamp outside the %s tolerance", svixTolerance)
	}
	for _, key := range v.key {
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.", id, ts)
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range strings.Fields(sigs) {
			version, b64, ok := strings.Cut(sig, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				return id, nil
			}
		}
	}
	return "", fault.New(fault.Unauthorized, "no valid v1 signature")
}
