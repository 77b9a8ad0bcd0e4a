package main

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/dbtest"

	"github.com/harborstays/concierge/lib/testenv"
)

var update = flag.Bool("update", false, "rewrite the README's generated configuration table")

const readmePath = "../../README.md"

var tableRe = regexp.MustCompile(`(?s)(<!-- config-table:start -->\n).*?(<!-- config-table:end -->)`)

// The README's configuration table is generated from lib/config; refresh
// it with: go test ./cmd/concierge -run README -update
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	want := tableRe.ReplaceAllString(string(b), "${1}"+strings.ReplaceAll(configTable(), "$", "$$")+"${2}")
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(b) {
		t.Fatal("README configuration table is out of date: go test ./cmd/concierge -run README -update")
	}
}

// The README's try-it lines, run as written against the runner, land rows.
func TestREADMETryIt(t *testing.T) {
	testenv.NeedTools(t, ".ci/deps installs them", "bash", "curl", "openssl")
	tryIt := readmeTryIt(t)
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL})
	script := strings.ReplaceAll(tryIt, "http://127.0.0.1:8080", sys.URL)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("try-it block: %v\n%s", err, out)
	}
	if got := strings.Count(string(out), `{"status":"stored"}`); got != 5 { // SEED_FIXTURES=false in tests
		t.Errorf("try-it block stored %d deliveries, want 5:\n%s", got, out)
	}
	for table, want := range map[string]int{"webhook_events": 5, "calls": 2, "listings": 1, "reservations": 1, "guests": 1} {
		if n := dbtest.Count(t, d.Pool, table, ""); n != want {
			t.Errorf("%s = %d rows, want %d", table, n, want)
		}
	}
	if n := dbtest.Count(t, d.Pool, "reservations", "planned_arrival = '13:00'"); n != 1 {
		t.Error("reservation.updated did not apply")
	}
}

// readmeTryIt returns the README's try-it block, the lines a newcomer runs.
func readmeTryIt(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(# try-it[^\n]*\n.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README has no try-it block")
	}
	return string(m[1])
}
