package jobs_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
)

func TestReadStats(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	for _, r := range []row{
		{status: "pending", subject: "a", updateAgo: 10 * time.Second},                                                    // fresh
		{status: "pending", subject: "b", updateAgo: 5 * time.Minute, createdAgo: 10 * time.Minute, nextIn: -time.Minute}, // overdue
		{status: "running", subject: "c", attempts: 1, updateAgo: time.Minute, nextIn: 4 * time.Minute},
		{status: "retrying", subject: "d", attempts: 1, updateAgo: time.Minute, nextIn: -time.Second}, // overdue
		{status: "failed", subject: "e", attempts: 8, updateAgo: 48 * time.Hour},
		{status: "done", subject: "f", attempts: 1, updateAgo: time.Hour},
		{kind: jobs.ContactSync, status: "failed", subject: "g", attempts: 8, updateAgo: time.Hour},
	} {
		insert(t, d.Pool, r)
	}
	other := jobs.Kind{Name: "transcribe", Function: "stt"}
	st, err := jobs.ReadStats(context.Background(), d.Pool, 2*time.Minute, jobs.Vectorize, other)
	if err != nil {
		t.Fatal(err)
	}
	vec := st.Kinds["vectorize"]
	if vec.Pending != 2 || vec.Running != 1 || vec.Retrying != 1 || vec.Failed != 1 || vec.Overdue != 2 {
		t.Errorf("vectorize = %+v", vec)
	}
	if vec.OldestSeconds < 599 || vec.OldestSeconds > 620 {
		t.Errorf("oldest vectorize job is %.0fs old, want about 600 (failed jobs do not count)", vec.OldestSeconds)
	}
	if cs := st.Kinds["contact-sync"]; cs != (jobs.KindStats{Failed: 1}) {
		t.Errorf("contact-sync = %+v", cs)
	}
	if z, ok := st.Kinds["transcribe"]; !ok || z != (jobs.KindStats{}) {
		t.Errorf("a known kind without jobs: %+v, %v; want zeros", z, ok)
	}
	if tot := st.Totals; tot.Pending != 2 || tot.Failed != 2 || tot.Overdue != 2 || tot.OldestSeconds != vec.OldestSeconds {
		t.Errorf("totals = %+v", tot)
	}
}

func TestWritePrometheus(t *testing.T) {
	t.Parallel()
	st := jobs.Stats{Kinds: map[string]jobs.KindStats{
		"vectorize":    {Pending: 3, Retrying: 1, Overdue: 1, OldestSeconds: 182.4},
		"contact-sync": {Failed: 2},
		`we"ird\kind`:  {},
	}}
	var b bytes.Buffer
	if err := st.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE concierge_jobs gauge\n",
		`concierge_jobs{status="pending",kind="vectorize"} 3` + "\n",
		`concierge_jobs{status="running",kind="vectorize"} 0` + "\n",
		`concierge_jobs{status="failed",kind="contact-sync"} 2` + "\n",
		`concierge_jobs{status="retrying",kind="we\"ird\\kind"} 0` + "\n",
		`concierge_jobs_overdue{kind="vectorize"} 1` + "\n",
		`concierge_jobs_oldest_seconds{kind="vectorize"} 182.400` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	// Every line is a comment or a sample of the text format, and each
	// metric family comes as one group behind its TYPE line.
	sample := regexp.MustCompile(`^([a-z_]+)\{([a-z_]+="(?:[^"\\\n]|\\.)*",?)+\} [0-9.]+$`)
	typed := map[string]bool{}
	current := ""
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if typed[f[2]] || f[3] != "gauge" {
				t.Errorf("bad or repeated TYPE line %q", line)
			}
			typed[f[2]], current = true, f[2]
		case strings.HasPrefix(line, "# HELP "):
		default:
			m := sample.FindStringSubmatch(line)
			if m == nil || m[1] != current {
				t.Errorf("not a sample of family %s: %q", current, line)
			}
		}
	}
	if len(typed) != 3 {
		t.Errorf("families %v, want 3", typed)
	}
}
