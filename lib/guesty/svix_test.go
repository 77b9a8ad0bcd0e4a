package guesty

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
)

func TestVerifierKnownAnswer(t *testing.T) {
	v, err := NewVerifier("whsec_bm90IHRoZSBrZXk=", fixtures.GuestySecret)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(fixtures.SvixTimestamp, 10, 64)
	body := fixtures.Read("guesty/reservation.new.json")
	h := http.Header{}
	h.Set("svix-id", fixtures.SvixID)
	h.Set("svix-timestamp", fixtures.SvixTimestamp)
	h.Set("svix-signature", fixtures.SvixSignature)
	tests := []struct {
		name string
		now  time.Time
		body []byte
		ok   bool
	}{
		{"in window", time.Unix(ts, 0), body, true},
		{"just inside, late", time.Unix(ts, 0).Add(svixTolerance), body, true},
		{"just inside, early", time.Unix(ts, 0).Add(-svixTolerance), body, true},
		{"too late", time.Unix(ts, 0).Add(svixTolerance + time.Second), body, false},
		{"too early", time.Unix(ts, 0).Add(-svixTolerance - time.Second), body, false},
		{"body changed", time.Unix(ts, 0), append(append([]byte{}, body...), ' '), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.Now = func() time.Time { return tt.now }
			id, err := v.Verify(h, tt.body)
			if tt.ok && (err != nil || id != fixtures.SvixID) {
				t.Fatalf("Verify = %q, %v; want ok", id, err)
			}
			if !tt.ok && fault.KindOf(err) != fault.Unauthorized {
				t.Fatalf("Verify = %v; want unauthorized", err)
			}
		})
	}
}

func TestNewVerifierRejectsMalformedSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := NewVerifier(s); err == nil {
			t.Errorf("NewVerifier(%q) accepted", s)
		}
	}
}
