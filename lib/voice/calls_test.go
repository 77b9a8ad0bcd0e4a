package voice

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/aircall/aircallapi"
	"github.com/harborstays/concierge/lib/aircall/aircalltest"
	"github.com/harborstays/concierge/lib/fault"
)

// A recording whose signed link expired is fetched again through Aircall's
// API (a freshly signed link, downloaded without credentials); the asset
// URL is never asked for.
func TestFetchCallRecording(t *testing.T) {
	ctx := context.Background()
	fake := aircalltest.New(t)
	fake.AddCall(aircalltest.Call{ID: 1, Audio: []byte("ID3 call audio")})
	fake.AddCall(aircalltest.Call{ID: 2})
	api := aircallapi.New(fake.URL, fake.ID, fake.Token, nil, nil)
	expired := fake.SignedLink(1, time.Now().Add(-2*time.Hour))
	stored := storedCall{recording: expired, asset: "https://assets.aircall.io/calls/1/recording"}
	c := &Calls{HTTP: NewHTTPClient(5 * time.Second), Aircall: api}

	b, err := c.fetch(ctx, 1, storedCall{recording: fake.SignedLink(1, time.Now()), asset: stored.asset})
	if err != nil || string(b) != "ID3 call audio" || fake.APIRequests() != 0 {
		t.Fatalf("valid link: %q %v (%d API requests)", b, err, fake.APIRequests())
	}
	b, err = c.fetch(ctx, 1, stored)
	if err != nil || string(b) != "ID3 call audio" || fake.APIRequests() != 1 {
		t.Fatalf("expired link: %q %v (%d API requests)", b, err, fake.APIRequests())
	}
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "assets") || (!strings.HasPrefix(r.Path, "/v1/") && r.Auth != "none") {
			t.Errorf("request %+v", r)
		}
	}

	// Without credentials: the reason says what to set.
	_, err = (&Calls{HTTP: c.HTTP}).fetch(ctx, 1, stored)
	if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "set AIRCALL_API_ID and AIRCALL_API_TOKEN") {
		t.Errorf("no credentials: %v", err)
	}
	// Refused credentials: permanent, naming the settings.
	_, err = (&Calls{HTTP: c.HTTP, Aircall: aircallapi.New(fake.URL, fake.ID, "revoked", nil, nil)}).fetch(ctx, 1, stored)
	if fault.KindOf(err) != fault.Permanent || !errors.Is(err, aircallapi.ErrUnauthorized) || !strings.Contains(fault.Public(err), "AIRCALL_API_TOKEN") {
		t.Errorf("refused credentials: %v", err)
	}
	// Aircall has the call but no recording any more.
	if _, err := c.fetch(ctx, 2, stored); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "no longer has the call's recording") {
		t.Errorf("recording gone: %v", err)
	}
	// Rate limited: retryable, with the wait until the reset.
	fake.Limit, fake.Window = 1, 10*time.Minute
	_, _ = c.fetch(ctx, 1, stored) // spends the window
	_, err = c.fetch(ctx, 1, stored)
	if !fault.Retryable(err) || fault.RetryAfter(err) < 9*time.Minute {
		t.Errorf("rate limited: %v, retry after %s", err, fault.RetryAfter(err))
	}
}
