package function

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
)

// cron-connector 0.3.2 calls synchronously, and a function added while it
// idles is called many times at once (its next-run time went stale). The
// call only queues the run: a burst in one minute is one job and one
// invocation, a call after that minute's run changes nothing, the next
// minute is a new run, and a part asked for by hand is its own run.
func TestScheduledCallsQueueOneRunPerMinute(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	h := start(t, d, map[string]string{"BACKUP_DIR": t.TempDir()})
	type answer struct {
		Status  string `json:"status"`
		JobID   string `json:"job_id"`
		Subject string `json:"subject"`
	}
	post := func(body string) (int, answer) {
		code, out := h.Post(t, []byte(body), nil)
		var a answer
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatalf("%d %s: %v", code, out, err)
		}
		return code, a
	}

	const burst = 6
	var wg sync.WaitGroup
	codes, answers := make([]int, burst), make([]answer, burst)
	for i := range burst {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i], answers[i] = post("") }()
	}
	wg.Wait()
	queued := 0
	for i := range burst {
		switch {
		case codes[i] == http.StatusAccepted && answers[i].Status == "queued":
			queued++
		case codes[i] == http.StatusOK && answers[i].Status == "already queued":
		default:
			t.Errorf("call %d: %d %+v", i, codes[i], answers[i])
		}
		if answers[i].JobID != answers[0].JobID {
			t.Errorf("call %d names job %s, call 0 %s", i, answers[i].JobID, answers[0].JobID)
		}
	}
	if queued != 1 || len(h.Invoked.Calls()) != 1 {
		t.Fatalf("%d calls queued and %d invocations, want 1 and 1", queued, len(h.Invoked.Calls()))
	}
	if want := jobs.ScheduleSubject(h.Clock.Now(), ""); answers[0].Subject != want {
		t.Errorf("subject %q, want %q", answers[0].Subject, want)
	}
	job := jobs.Job{ID: answers[0].JobID, Kind: jobs.Backup.Name, Function: Name, Subject: answers[0].Subject}
	if code, out := h.RunJob(t, job); code != http.StatusOK {
		t.Fatalf("the job: %d %s", code, out)
	}
	// The queue redelivers: nothing runs twice.
	if code, out := h.RunJob(t, job); code != http.StatusOK || !json.Valid([]byte(out)) {
		t.Fatalf("the job again: %d %s", code, out)
	}
	runs := dbtest.Count(t, d.Pool, "backups", "")
	if code, a := post(""); code != http.StatusOK || a.Status != "already queued" || a.JobID != job.ID {
		t.Errorf("a call in the minute that already ran: %d %+v", code, a)
	}
	if n := dbtest.Count(t, d.Pool, "backups", ""); n != runs || len(h.Invoked.Calls()) != 1 {
		t.Errorf("after the late call: %d backups rows (was %d), %d invocations", n, runs, len(h.Invoked.Calls()))
	}
	if code, a := post(`{"what":"databases"}`); code != http.StatusAccepted || a.JobID == job.ID {
		t.Errorf("databases by hand in the same minute: %d %+v", code, a)
	}
	h.Clock.Set(h.Clock.Now().Add(time.Minute))
	if code, a := post(""); code != http.StatusAccepted || a.JobID == job.ID {
		t.Errorf("the next minute: %d %+v", code, a)
	}
	if n := dbtest.Count(t, d.Pool, "jobs", "kind = $1", jobs.Backup.Name); n != 3 {
		t.Errorf("%d backup jobs, want 3", n)
	}
}

// Only the queued job runs a backup: a signed invocation is checked like
// every step's (a bad signature, another function's kind), and the refusal
// runs nothing.
func TestForgedBackupJobsRefused(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	h := start(t, d, map[string]string{"BACKUP_DIR": t.TempDir()})
	body, _ := json.Marshal(jobs.Message{JobID: "00000000-0000-4000-8000-000000000001", Kind: jobs.Backup.Name, Subject: jobs.ScheduleSubject(h.Clock.Now(), "")})
	bad := http.Header{jobs.TimestampHeader: {"1772421420"}, jobs.SignatureHeader: {"v1=00"}}
	want := faas.Refused()
	if code, out := h.Post(t, body, bad); code != want.StatusCode || out != string(want.Body) {
		t.Errorf("badly signed: %d %s", code, out)
	}
	foreign, _ := json.Marshal(jobs.Message{JobID: "00000000-0000-4000-8000-000000000002", Kind: jobs.Vectorize.Name, Subject: "listing:x"})
	if code, out := h.PostJob(t, foreign, nil); code != want.StatusCode || out != string(want.Body) {
		t.Errorf("another function's kind: %d %s", code, out)
	}
	if n := dbtest.Count(t, d.Pool, "backups", ""); n != 0 {
		t.Errorf("%d backups rows after refused invocations", n)
	}
}
