package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/guesty/guestytest"
)

// Mutation tried: reporting Pass whatever List returned makes "wrong
// secret" and "forbidden" pass.
func TestGuestyAPI(t *testing.T) {
	fake := guestytest.New(t)
	fake.AddListing(map[string]any{"_id": "l1", "active": true})
	forbidden := guestytest.New(t)
	forbidden.Forbid("/v1/listings")
	for _, tc := range []struct {
		name       string
		env        map[string]string
		state      State
		found, fix string
	}{
		{"right", map[string]string{"GUESTY_API_URL": fake.URL, "GUESTY_CLIENT_ID": fake.ClientID, "GUESTY_CLIENT_SECRET": fake.ClientSecret}, OK, "1 listings", ""},
		{"wrong secret", map[string]string{"GUESTY_API_URL": fake.URL, "GUESTY_CLIENT_ID": fake.ClientID, "GUESTY_CLIENT_SECRET": "not-the-secret-0123"}, Fail, "401", "guesty-client-secret"},
		{"forbidden", map[string]string{"GUESTY_API_URL": forbidden.URL, "GUESTY_CLIENT_ID": forbidden.ClientID, "GUESTY_CLIENT_SECRET": forbidden.ClientSecret}, Fail, "403", "read access to listings"},
		{"id without secret", map[string]string{"GUESTY_CLIENT_ID": fake.ClientID}, Fail, "without GUESTY_CLIENT_SECRET", "guesty-client-secret"},
		{"not configured", map[string]string{}, Skip, "local default in use: no Guesty API", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := report(t, tc.env, Options{})
			want(t, res, "guesty api", tc.state, tc.found, tc.fix)
		})
	}
	if n := fake.Stats().Requests; n != 1 {
		t.Fatalf("%d API requests, want the one read of the right case", n)
	}
}
