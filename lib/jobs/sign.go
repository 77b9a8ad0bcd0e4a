package jobs

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/config"
)

// Headers of a signed job invocation. The functions are public behind the
// gateway, so a job invocation proves it comes from a holder of the
// job-signing key: without the proof, anyone could run (or fail) a job by
// naming its id.
const (
	// TimestampHeader is the signing time, Unix seconds.
	TimestampHeader = "X-Job-Timestamp"
	// SignatureHeader is "v1=<hex HMAC-SHA256>"; several space-separated
	// entries are accepted, unknown versions ignored.
	SignatureHeader = "X-Job-Signature"
)

// Signature window. The queue-worker may hold an invocation while earlier
// ones run; one that arrives later than SignatureMaxAge is refused and
// redrive re-invokes its job with a fresh signature (every invocation is
// signed anew), so a refusal delays the job, it never loses it.
// SignatureMaxSkew allows the clocks of two Swarm nodes to disagree.
const (
	SignatureMaxAge  = 15 * time.Minute
	SignatureMaxSkew = 2 * time.Minute
)

// MinKeyLen is the shortest key accepted: 32 characters keep HMAC-SHA256 at
// full strength for a random hex or base64 key (the playbook generates 64
// hex characters).
const MinKeyLen = 32

// maxSignatures bounds the entries of a SignatureHeader checked: a request
// must not buy unbounded HMAC work.
const maxSignatures = 4

// maxSignatureHeader bounds the header parsed: four v1 entries and spaces.
const maxSignatureHeader = 4 * (len("v1=") + 2*sha256.Size + 1)

// ErrNoKeys: a keyed invoker without a key cannot sign, and an unsigned
// invocation would be refused by the step it starts.
var ErrNoKeys = errors.New("no job-signing key (secret job-signing-key or JOB_SIGNING_KEY): invocation not sent")

// Keys sign and verify job invocations. The first key signs; every key
// verifies, so a key is rotated by deploying "new,old" and, once no
// invocation signed with the old one can still arrive, "new".
type Keys struct {
	keys [][]byte
	// Now is the wall clock that signs and judges freshness: the window is
	// between two processes' clocks, not the business time tests move.
	Now func() time.Time
}

// NewKeys returns Keys over values, the signing key first.
func NewKeys(values ...string) (*Keys, error) {
	if len(values) == 0 {
		return nil, errors.New("no key")
	}
	k := &Keys{Now: time.Now}
	for i, v := range values {
		if len(v) < MinKeyLen {
			// The position, never the value: keys are not logged.
			return nil, fmt.Errorf("key %d of %d is shorter than %d characters", i+1, len(values), MinKeyLen)
		}
		k.keys = append(k.keys, []byte(v))
	}
	return k, nil
}

// KeysFrom reads JOB_SIGNING_KEY: nil when it is not set (a function that
// needs it requires it: fnenv.Env.RequireJobKeys); a key too short is
// recorded in cfg as an error naming the setting.
func KeysFrom(cfg *config.Config) *Keys {
	vals := cfg.List(config.JobSigningKey)
	if len(vals) == 0 {
		return nil
	}
	k, err := NewKeys(vals...)
	if err != nil {
		cfg.Reject(config.JobSigningKey, "%v", err)
		return nil
	}
	return k
}

// RandomKey returns a fresh random key, for a runner that has none
// configured (make run): 32 random bytes in hex.
func RandomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// payload is what a signature covers: the version, the time, the function
// the invocation is for (a signed call to one function is no use at
// another) and the body, which carries the job id, kind and subject. The
// body is signed as sent, so the step checks it before parsing it. Neither
// the timestamp (digits) nor a function name holds a newline, so the
// fields cannot run into each other.
func payload(ts, function string, body []byte) []byte {
	p := make([]byte, 0, len("v1\n")+len(ts)+len(function)+2+len(body))
	p = append(p, "v1\n"...)
	p = append(p, ts...)
	p = append(p, '\n')
	p = append(p, function...)
	p = append(p, '\n')
	return append(p, body...)
}

func mac(key, p []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(p)
	return m.Sum(nil)
}

// Sign sets the timestamp and signature headers of an invocation of
// function with body, signed now.
func (k *Keys) Sign(h http.Header, function string, body []byte) {
	k.SignAt(h, function, body, k.now())
}

// SignAt is Sign at time t (tests sign stale and future invocations).
func (k *Keys) SignAt(h http.Header, function string, body []byte, t time.Time) {
	ts := strconv.FormatInt(t.Unix(), 10)
	h.Set(TimestampHeader, ts)
	h.Set(SignatureHeader, "v1="+hex.EncodeToString(mac(k.keys[0], payload(ts, function, body))))
}

func (k *Keys) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// Verify checks that h signs an invocation of function with body, within
// the window. The error says why not, for the log line only: it never
// holds a signature or a key, and the caller answers every refusal alike.
func (k *Keys) Verify(h http.Header, function string, body []byte) error {
	if k == nil || len(k.keys) == 0 {
		return errors.New("no job-signing key to verify with")
	}
	ts, sig := h.Get(TimestampHeader), h.Get(SignatureHeader)
	if ts == "" || sig == "" {
		return errors.New("unsigned")
	}
	if len(sig) > maxSignatureHeader {
		return errors.New("malformed signature")
	}
	if len(ts) > 12 || strings.Trim(ts, "0123456789") != "" {
		return errors.New("malformed timestamp")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("malformed timestamp")
	}
	age := k.now().Sub(time.Unix(sec, 0))
	switch {
	case age > SignatureMaxAge:
		return fmt.Errorf("stale: signed %s ago", age.Round(time.Second))
	case age < -SignatureMaxSkew:
		return fmt.Errorf("signed %s in the future", (-age).Round(time.Second))
	}
	p := payload(ts, function, body)
	var want [][]byte
	for _, key := range k.keys {
		want = append(want, mac(key, p))
	}
	for i, f := range strings.Fields(strings.ReplaceAll(sig, ",", " ")) {
		if i == maxSignatures {
			break
		}
		v, ok := strings.CutPrefix(f, "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(v)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	return errors.New("signature does not match")
}

// KeyedInvoker is an Invoker that holds the job-signing keys: Invoke signs
// every invocation it sends through one. fnenv gives every function one;
// the local runner's queue is one too.
type KeyedInvoker interface {
	Invoker
	JobKeys() *Keys
}

// WithKeys returns inv signing with keys. With nil keys, Invoke fails with
// ErrNoKeys rather than send what every step refuses.
func WithKeys(inv Invoker, keys *Keys) KeyedInvoker {
	return keyed{Invoker: inv, keys: keys}
}

type keyed struct {
	Invoker
	keys *Keys
}

func (k keyed) JobKeys() *Keys { return k.keys }
