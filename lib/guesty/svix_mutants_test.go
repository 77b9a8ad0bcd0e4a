package guesty

// Tests written for `make mutate`: each names the gremlins mutant of
// svix.go it kills.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// svixKey is the raw key of the test secret below.
var svixKey = []byte("mutation-test-key")

func svixSecret() string { return "whsec_" + base64.StdEncoding.EncodeToString(svixKey) }

func svixSign(id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, svixKey)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func svixVerifier(t *testing.T, now time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(svixSecret())
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	return v
}

// Each of the three headers is required on its own: a delivery missing
// any one is refused as unsigned, before any MAC is computed.
// Kills: Verify's `id == "" || ts == "" || sigs == ""` with either || made
// && (a delivery missing one header would go on to the MAC check, which an
// empty id or timestamp could still pass for a sender who signed those).
func TestVerifyNeedsEveryHeader(t *testing.T) {
	now := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"event":"reservation.new"}`)
	v := svixVerifier(t, now)
	for _, missing := range []string{"id", "timestamp", "signature"} {
		t.Run(missing, func(t *testing.T) {
			// Signed over what is sent, so only the missing header can
			// make it fail.
			id := "msg_2mU0mutants"
			sentID, sentTS := id, ts
			switch missing {
			case "id":
				sentID = ""
			case "timestamp":
				sentTS = ""
			}
			h := http.Header{}
			if sentID != "" {
				h.Set("svix-id", sentID)
			}
			if sentTS != "" {
				h.Set("svix-timestamp", sentTS)
			}
			if missing != "signature" {
				h.Set("svix-signature", "v1,"+svixSign(sentID, sentTS, body))
			}
			_, err := v.Verify(h, body)
			if fault.KindOf(err) != fault.Unauthorized || !strings.Contains(err.Error(), "missing svix-id, svix-timestamp or svix-signature") {
				t.Fatalf("Verify without svix-%s = %v, want the missing-header refusal", missing, err)
			}
		})
	}
}

// Only v1 signatures count: a correct MAC labelled with another version
// is not a v1 signature.
// Kills: `!ok || version != "v1"` made && (a "v2,<mac>" entry would be
// checked as v1).
func TestVerifyOnlyV1(t *testing.T) {
	now := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"event":"listing.updated"}`)
	v := svixVerifier(t, now)
	mac := svixSign("msg_v", ts, body)
	for _, c := range []struct {
		sig string
		ok  bool
	}{
		{"v1," + mac, true},
		{"v1a,bad v1," + mac, true}, // several entries, the good one last
		{"v2," + mac, false},
		{"v1" + mac, false}, // no comma
		{"v1,not-base64!", false},
	} {
		h := http.Header{}
		h.Set("svix-id", "msg_v")
		h.Set("svix-timestamp", ts)
		h.Set("svix-signature", c.sig)
		id, err := v.Verify(h, body)
		if c.ok && (err != nil || id != "msg_v") {
			t.Errorf("%q: Verify = %q, %v; want accepted", c.sig, id, err)
		}
		if !c.ok && fault.KindOf(err) != fault.Unauthorized {
			t.Errorf("%q: Verify = %q, %v; want refused", c.sig, id, err)
		}
	}
}

// The webhook-* names (Standard Webhooks, which Svix also sends) are read
// when the svix-* ones are absent.
func TestVerifyWebhookAliases(t *testing.T) {
	now := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_alias")
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+svixSign("msg_alias", ts, body))
	if id, err := svixVerifier(t, now).Verify(h, body); err != nil || id != "msg_alias" {
		t.Fatalf("Verify = %q, %v", id, err)
	}
}

// A message id of exactly maxSvixIDLength bytes is accepted; one byte
// more is refused before any MAC.
// Kills: CheckID's `len(id) > maxSvixIDLength` made >=.
func TestCheckIDBound(t *testing.T) {
	if err := CheckID(strings.Repeat("m", maxSvixIDLength)); err != nil {
		t.Errorf("an id of %d bytes: %v", maxSvixIDLength, err)
	}
	if err := CheckID(strings.Repeat("m", maxSvixIDLength+1)); fault.KindOf(err) != fault.Invalid {
		t.Errorf("an id of %d bytes: %v, want Invalid", maxSvixIDLength+1, err)
	}
	now := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	id := strings.Repeat("m", maxSvixIDLength)
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", "v1,"+svixSign(id, ts, nil))
	if got, err := svixVerifier(t, now).Verify(h, nil); err != nil || got != id {
		t.Errorf("Verify with a %d-byte id = %v", maxSvixIDLength, err)
	}
}

// The tolerance is Svix's five minutes, in absolute terms: a delivery
// signed 4m59s ago or ahead is accepted, one signed 5m01s away refused.
// (TestVerifierKnownAnswer measures its bounds with svixTolerance itself,
// so it cannot tell a wrong constant.)
// Kills: `svixTolerance = 5 * time.Minute` made 5 / time.Minute (no
// tolerance: every real delivery, a second late, refused).
func TestVerifyToleranceIsFiveMinutes(t *testing.T) {
	signed := time.Unix(1767225600, 0)
	ts := strconv.FormatInt(signed.Unix(), 10)
	body := []byte(`{"event":"reservation.updated"}`)
	h := http.Header{}
	h.Set("svix-id", "msg_tol")
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", "v1,"+svixSign("msg_tol", ts, body))
	for _, c := range []struct {
		now time.Duration // after the signing time
		ok  bool
	}{
		{time.Second, true}, {4*time.Minute + 59*time.Second, true}, {-4*time.Minute - 59*time.Second, true},
		{5*time.Minute + time.Second, false}, {-5*time.Minute - time.Second, false},
	} {
		_, err := svixVerifier(t, signed.Add(c.now)).Verify(h, body)
		if c.ok != (err == nil) {
			t.Errorf("verified %s after signing: %v", c.now, err)
		}
	}
}
