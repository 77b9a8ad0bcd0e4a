package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/seed"
	"github.com/harborstays/concierge/lib/testenv"
)

// make run's sample stays are alive whatever today is, and the assistant
// tells each sample guest what the disclosure window allows today: Casey,
// arriving today, and Jordan, mid-stay, get their own home's Wi-Fi (and
// nothing of the other's); Sam, arriving next week, is told from when it
// will be shared; Dana, whose stay is over, that it has ended. The three
// refusals differ: not yet is never told as ended, or the reverse.
func TestSeededStaysAreCurrent(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "SEED_CONVERSATIONS": "false", "BOT_BURST_WINDOW": "0s"})
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Seeded relative to now, in each listing's time zone.
	for _, tc := range []struct {
		id, when string
	}{
		{seed.CaseyReservation, "(check_in AT TIME ZONE 'America/Denver')::date = (now() AT TIME ZONE 'America/Denver')::date"},
		{seed.JordanReservation, "check_in < now() AND check_out > now()"},
		{seed.SamReservation, "check_in > now() + interval '6 days' AND check_in < now() + interval '8 days'"},
		{seed.DanaReservation, "check_out < now() - interval '2 days' AND check_out > now() - interval '4 days'"},
	} {
		if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND status = 'confirmed' AND "+tc.when, tc.id); n != 1 {
			t.Errorf("seeded stay %s: not where planned (%s)", tc.id, tc.when)
		}
	}

	harbor := fixtures.ListingSecrets("guesty/listing.updated.json")
	cedar := fixtures.ListingSecrets("local/guesty.listing.second.json")
	later, _, _ := strings.Cut(lang.SecretsFrom.In("en"), "%s")
	ended := lang.SecretsEnded.In("en")
	type reply struct {
		Mode, Status, Content string
	}
	ask := func(t *testing.T, as, q string) reply {
		t.Helper()
		res, body := call(t, "POST", sys.URL+"/dev/ask?as="+as, []byte(q), nil)
		if res.StatusCode != 200 {
			t.Fatalf("ask as %s: %d %s", as, res.StatusCode, body)
		}
		var r reply
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("ask as %s: %v\n%s", as, err, body)
		}
		t.Logf("as %s: %s", as, r.Content)
		if r.Mode != "auto" || r.Status != "posted" {
			t.Errorf("as %s: %s %s, want an answer posted to the guest", as, r.Mode, r.Status)
		}
		return r
	}
	containsAll := func(s string, vs []string) bool {
		for _, v := range vs {
			if !strings.Contains(s, v) {
				return false
			}
		}
		return true
	}
	containsAny := func(s string, vs []string) bool {
		for _, v := range vs {
			if strings.Contains(s, v) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		as          string
		own, others []string // the guest's home's secrets; the other home's
		shared      bool
		refusal     string // what a refusal starts with
	}{
		{"casey", cedar, harbor, true, ""},
		{"jordan", harbor, cedar, true, ""},
		{"sam", cedar, harbor, false, later},
		{"dana", harbor, cedar, false, ended},
	} {
		t.Run(tc.as, func(t *testing.T) {
			r := ask(t, tc.as, "What is the wifi password?")
			if containsAny(r.Content, tc.others) {
				t.Errorf("%s was told the other home's secrets:\n%s", tc.as, r.Content)
			}
			if tc.shared {
				if !containsAll(r.Content, tc.own) {
					t.Errorf("%s's window is open today, but the reply lacks the Wi-Fi details %q:\n%s", tc.as, tc.own, r.Content)
				}
				return
			}
			if containsAny(r.Content, tc.own) {
				t.Errorf("%s's window is closed today, but the reply shares a secret:\n%s", tc.as, r.Content)
			}
			if !strings.HasPrefix(r.Content, tc.refusal) {
				t.Errorf("%s was told %q, want the reply that starts %q", tc.as, r.Content, tc.refusal)
			}
		})
	}
	// The door code follows the same window for the guest mid-stay.
	if r := ask(t, "jordan", "What is the door code?"); strings.HasPrefix(r.Content, later) || strings.HasPrefix(r.Content, ended) {
		t.Errorf("Jordan, mid-stay, refused the door code: %s", r.Content)
	}
	if res, body := call(t, "POST", sys.URL+"/dev/ask?as=nobody", []byte("hello"), nil); res.StatusCode != 400 || !strings.Contains(body, seed.GuestKeys()) {
		t.Errorf("an unknown sample guest: %d %s, want 400 naming the sample guests", res.StatusCode, body)
	}
}

// make run as a newcomer meets it: the sample data seeded, then the
// README's try-it deliveries (July 2025 fixtures) sent on top; they are
// older than the seeded stays and leave Jordan's stay current.
func TestREADMETryItAfterLiveSeed(t *testing.T) {
	testenv.NeedTools(t, ".ci/deps --run installs them", "bash", "curl", "openssl")
	tryIt := readmeTryIt(t)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "SEED_CONVERSATIONS": "false"})
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(tryIt, "http://127.0.0.1:8080", sys.URL))
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("try-it block: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != `{"status":"stored"}` && line != `{"status":"duplicate"}` {
			t.Errorf("try-it answered %q, want stored or duplicate:\n%s", line, out)
		}
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND check_in < now() AND check_out > now() AND planned_arrival = '13:00'", seed.JordanReservation); n != 1 {
		t.Error("after the try-it deliveries Jordan's stay is no longer current")
	}
}
