package aircallapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/aircall/aircalltest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

func TestPing(t *testing.T) {
	fake := aircalltest.New(t)
	ctx := context.Background()
	if err := New(fake.URL, fake.ID, fake.Token, nil, nil).Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}

	// Refused credentials: permanent, recognisable, naming the settings.
	err := New(fake.URL, fake.ID, "revoked", nil, nil).Ping(ctx)
	if !errors.Is(err, ErrUnauthorized) || fault.KindOf(err) != fault.Permanent || StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("wrong token: %v (kind %s, status %d), want a permanent ErrUnauthorized", err, fault.KindOf(err), StatusOf(err))
	}
	if msg := fault.Public(err); !strings.Contains(msg, "AIRCALL_API_ID") || !strings.Contains(msg, "AIRCALL_API_TOKEN") {
		t.Errorf("public message %q does not name the settings", msg)
	}
	if strings.Contains(err.Error(), "revoked") || strings.Contains(err.Error(), fake.ID) {
		t.Errorf("the error holds a credential: %v", err)
	}

	// Unreachable: retryable, and not mistaken for refused credentials.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	err = New(down.URL, fake.ID, fake.Token, nil, nil).Ping(ctx)
	if fault.KindOf(err) != fault.Unavailable || errors.Is(err, ErrUnauthorized) || StatusOf(err) != 0 {
		t.Errorf("unreachable: %v (kind %s), want unavailable", err, fault.KindOf(err))
	}
	// An edge that answers 403 to a bad credential counts the same.
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
	}))
	defer forbidden.Close()
	if err := New(forbidden.URL, "a", "b", nil, nil).Ping(ctx); !errors.Is(err, ErrUnauthorized) || fault.KindOf(err) != fault.Permanent {
		t.Errorf("403: %v, want a permanent ErrUnauthorized", err)
	}
	for _, r := range fake.Requests() {
		if r.Path != "/v1/ping" || r.Method != http.MethodGet {
			t.Errorf("unexpected request %+v", r)
		}
	}
}

func TestCall(t *testing.T) {
	fake := aircalltest.New(t)
	fake.AddCall(aircalltest.Call{ID: 1843377012, Audio: []byte("ID3 recording")})
	fake.AddCall(aircalltest.Call{ID: 1843391455, Audio: []byte("ID3 voicemail"), Voicemail: true})
	fake.AddCall(aircalltest.Call{ID: 7})
	api := New(fake.URL+"/", fake.ID, fake.Token, nil, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		id    int64
		audio string
	}{{1843377012, "ID3 recording"}, {1843391455, "ID3 voicemail"}, {7, ""}} {
		c, err := api.Call(ctx, tt.id)
		if err != nil {
			t.Fatalf("call %d: %v", tt.id, err)
		}
		if c.ID != tt.id || c.Status != "done" || c.Direction != "inbound" || c.Asset == nil {
			t.Errorf("call %d decoded as %+v", tt.id, c)
		}
		if tt.audio == "" {
			if c.Audio() != "" {
				t.Errorf("call %d without recording has audio %q", tt.id, c.Audio())
			}
			continue
		}
		// The fresh link works without credentials.
		res, err := http.Get(c.Audio())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := res.Body.Read(buf)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(buf[:n]) != tt.audio {
			t.Errorf("call %d: fresh link answered %d %q", tt.id, res.StatusCode, buf[:n])
		}
	}
	_, err := api.Call(ctx, 99)
	if fault.KindOf(err) != fault.NotFound || StatusOf(err) != http.StatusNotFound || !strings.Contains(fault.Public(err), "no call 99") {
		t.Errorf("unknown call: %v (kind %s)", err, fault.KindOf(err))
	}
}

// A 429 is retryable and carries the wait until the limit resets, so the
// job is not retried sooner.
func TestRateLimit(t *testing.T) {
	fake := aircalltest.New(t)
	fake.AddCall(aircalltest.Call{ID: 1, Audio: []byte("x")})
	start := time.Date(2026, 12, 1, 10, 0, 15, 0, time.UTC)
	now := start
	clock := func() time.Time { return now }
	fake.Now = clock
	fake.Limit = 2
	api := New(fake.URL, fake.ID, fake.Token, nil, clock)
	ctx := context.Background()
	for i := range 2 {
		if _, err := api.Call(ctx, 1); err != nil {
			t.Fatalf("request %d within the limit: %v", i+1, err)
		}
	}
	now = start.Add(20 * time.Second)
	_, err := api.Call(ctx, 1)
	if fault.KindOf(err) != fault.Unavailable || !fault.Retryable(err) || StatusOf(err) != http.StatusTooManyRequests {
		t.Fatalf("over the limit: %v (kind %s), want a retryable 429", err, fault.KindOf(err))
	}
	if got := fault.RetryAfter(err); got != 40*time.Second {
		t.Errorf("retry after %s, want 40s (the window started at the first request)", got)
	}
	now = start.Add(time.Minute)
	if _, err := api.Call(ctx, 1); err != nil {
		t.Errorf("after the reset: %v", err)
	}
}

func TestRateLimitWait(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := New("", "", "", nil, func() time.Time { return now })
	for _, tt := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"reset in seconds", http.Header{"X-Aircallapi-Reset": {"1796119230"}}, 30 * time.Second},
		{"reset in milliseconds", http.Header{"X-Aircallapi-Reset": {"1796119245000"}}, 45 * time.Second},
		{"Retry-After wins", http.Header{"Retry-After": {"12"}, "X-Aircallapi-Reset": {"1796119230"}}, 12 * time.Second},
		{"Retry-After as a date", http.Header{"Retry-After": {"Tue, 01 Dec 2026 10:00:20 GMT"}}, 20 * time.Second},
		{"reset passed", http.Header{"X-Aircallapi-Reset": {"1796119100"}}, time.Second},
		{"no header", http.Header{}, time.Minute},
		{"reset far ahead", http.Header{"X-Aircallapi-Reset": {"1896119200"}}, time.Hour},
	} {
		if got := a.rateLimitWait(tt.header); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestServerErrorsAreRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := New(srv.URL, "a", "b", nil, nil).Call(context.Background(), 1)
	if fault.KindOf(err) != fault.Unavailable || fault.RetryAfter(err) != 7*time.Second {
		t.Errorf("502: %v (kind %s, retry after %s)", err, fault.KindOf(err), fault.RetryAfter(err))
	}
}

func TestFromConfig(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantNil bool
		wantErr string
		base    string
	}{
		{"unset", nil, true, "", ""},
		{"id only", map[string]string{"AIRCALL_API_ID": "i"}, true, "", ""},
		{"default URL", map[string]string{"AIRCALL_API_ID": "i", "AIRCALL_API_TOKEN": "t"}, false, "", DefaultURL},
		{"own URL", map[string]string{"AIRCALL_API_ID": "i", "AIRCALL_API_TOKEN": "t", "AIRCALL_API_URL": "http://127.0.0.1:9/"}, false, "", "http://127.0.0.1:9"},
		{"malformed URL", map[string]string{"AIRCALL_API_ID": "i", "AIRCALL_API_TOKEN": "t", "AIRCALL_API_URL": "api.aircall.io"}, false, "AIRCALL_API_URL", ""},
	} {
		env := map[string]string{"SECRETS_DIR": t.TempDir()}
		for k, v := range tt.env {
			env[k] = v
		}
		cfg := config.New(config.FromMap(env))
		api := FromConfig(cfg)
		if (api == nil) != tt.wantNil {
			t.Errorf("%s: api %v, want nil %v", tt.name, api, tt.wantNil)
		}
		if err := cfg.Err(); (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: config error %v, want %q", tt.name, err, tt.wantErr)
		}
		if api != nil && tt.base != "" && api.base != tt.base {
			t.Errorf("%s: base %q, want %q", tt.name, api.base, tt.base)
		}
	}
}
