package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/aircall/aircalltest"
)

func TestAircallAPI(t *testing.T) {
	fake := aircalltest.New(t)
	for _, tc := range []struct {
		name       string
		env        map[string]string
		state      State
		found, fix string
	}{
		{"right", map[string]string{"AIRCALL_API_URL": fake.URL, "AIRCALL_API_ID": fake.ID, "AIRCALL_API_TOKEN": fake.Token}, OK, "ping: pong", ""},
		{"wrong token", map[string]string{"AIRCALL_API_URL": fake.URL, "AIRCALL_API_ID": fake.ID, "AIRCALL_API_TOKEN": "not-the-token-0123"}, Fail, "401", "AIRCALL_API_TOKEN"},
		{"id without token", map[string]string{"AIRCALL_API_URL": fake.URL, "AIRCALL_API_ID": fake.ID}, Fail, "without AIRCALL_API_TOKEN", "AIRCALL_API_TOKEN"},
		{"unreachable", map[string]string{"AIRCALL_API_URL": "http://127.0.0.1:1", "AIRCALL_API_ID": fake.ID, "AIRCALL_API_TOKEN": fake.Token}, Fail, "", "AIRCALL_API_URL"},
		{"not configured", map[string]string{}, Skip, "local default in use", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := report(t, tc.env, Options{})
			want(t, res, "aircall api", tc.state, tc.found, tc.fix)
		})
	}
	if n := fake.APIRequests(); n != 2 {
		t.Fatalf("%d API requests, want one ping per configured case", n)
	}
}
