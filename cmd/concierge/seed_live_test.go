package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/seed"
	"github.com/harborstays/concierge/lib/testenv"
)

// make run's sample stays are alive whatever today is: Jordan is in the
// middle of a stay, so the Wi-Fi and door code are shared with Jordan; Sam
// arrives next week, so Sam is told when they will be.
func TestSeededStaysAreCurrent(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true", "BOT_BURST_WINDOW": "0s"})
	deadline := time.Now().Add(30 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "kind = 'vectorize' AND status <> 'done'") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Seeded relative to now: Jordan's stay spans now, Sam's starts in a week.
	if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND check_in < now() AND check_out > now()", seed.JordanReservation); n != 1 {
		t.Fatal("Jordan's seeded stay is not current")
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "id = $1 AND check_in > now() + interval '6 days' AND check_in < now() + interval '8 days'", seed.SamReservation); n != 1 {
		t.Fatal("Sam's seeded stay does not start in a week")
	}

	ended := "stay has ended"
	for _, tc := range []struct {
		as, question string
		want         []string
		not          []string
	}{
		{"jordan", "What is the wifi password?", []string{"sea-breeze-2025", "HarborLoft-Guest", `"status": "posted"`}, []string{ended}},
		{"jordan", "What is the door code?", []string{"keypad", `"status": "posted"`}, []string{ended, "are shared from", `"mode": "handoff"`}},
		{"sam", "What is the wifi password?", []string{"are shared from", "24 hours before check-in"}, []string{"pine-needle-77", ended}},
	} {
		t.Run(tc.as+"/"+tc.question, func(t *testing.T) {
			res, body := call(t, "POST", sys.URL+"/dev/ask?as="+tc.as, []byte(tc.question), nil)
			if res.StatusCode != 200 {
				t.Fatalf("ask: %d %s", res.StatusCode, body)
			}
			t.Log(body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("reply lacks %q:\n%s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("reply has %q:\n%s", n, body)
				}
			}
		})
	}
}

// make run as a newcomer meets it: the sample data seeded, then the
// README's try-it deliveries (July 2025 fixtures) sent on top; they are
// older than the seeded stays and leave Jordan's stay current.
func TestREADMETryItAfterLiveSeed(t *testing.T) {
	testenv.NeedTools(t, ".ci/deps --run installs them", "bash", "curl", "openssl")
	tryIt := readmeTryIt(t)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL, "SEED_FIXTURES": "true"})
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
