package faastest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/jobs"
)

// jobRow is what a refused invocation must leave as it was.
type jobRow struct {
	Status, LastError string
	Attempts          int
	Next, Updated     time.Time
}

func readJob(t *testing.T, h *Harness, id string) jobRow {
	t.Helper()
	var r jobRow
	if err := h.DB.Pool.QueryRow(context.Background(),
		"SELECT status, COALESCE(last_error, ''), attempts, next_attempt_at, updated_at FROM jobs WHERE id = $1", id).
		Scan(&r.Status, &r.LastError, &r.Attempts, &r.Next, &r.Updated); err != nil {
		t.Fatal(err)
	}
	return r
}

// forgery is one hostile invocation: body and headers.
type forgery struct {
	name   string
	body   []byte
	header http.Header
}

// RefusesForgedJobs is the adversarial table every job-running function
// passes, for each kind it runs: invocations an outsider can make (unsigned,
// badly signed, stale, from the future, signed for another job, another
// function or another kind) and signed ones that name a job the function
// must not run. Every one gets the same status and body, the one of
// faas.Refused, and no job row changes. A known and an unknown job id get
// the same answer unsigned.
func RefusesForgedJobs(t *testing.T, h *Harness, kinds ...jobs.Kind) {
	t.Helper()
	if len(kinds) == 0 {
		t.Fatal("RefusesForgedJobs: no kinds")
	}
	// The foreign job: the first declared kind that is not h's.
	var foreignKind jobs.Kind
	for _, k := range jobs.All() {
		if k.Function != h.Name {
			foreignKind = k
			break
		}
	}
	want := faas.Refused()
	var sent []string // signatures sent, which the logs must not hold
	for _, kind := range kinds {
		if kind.Function != h.Name {
			t.Fatalf("kind %s is run by %s, not %s", kind.Name, kind.Function, h.Name)
		}
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			var own, foreign jobs.Job
			if err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) (err error) {
				if own, err = jobs.Enqueue(ctx, tx, kind, "forgery:"+kind.Name, ""); err != nil {
					return err
				}
				foreign, err = jobs.Enqueue(ctx, tx, foreignKind, "forgery:"+foreignKind.Name, "")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			keys := h.Env.JobKeys
			other, err := jobs.NewKeys(jobs.RandomKey())
			if err != nil {
				t.Fatal(err)
			}
			msg := func(id, kind, subject string) []byte {
				b, _ := json.Marshal(jobs.Message{JobID: id, Kind: kind, Subject: subject})
				return b
			}
			ownBody := msg(own.ID, own.Kind, own.Subject)
			unknownBody := msg("3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f", own.Kind, own.Subject)
			// header returns the headers of an invocation of job id,
			// signed by sign (nil: unsigned).
			header := func(id string, sign func(http.Header)) http.Header {
				hd := http.Header{jobs.JobIDHeader: {id}, "Content-Type": {"application/json"}}
				if sign != nil {
					sign(hd)
					sent = append(sent, strings.TrimPrefix(hd.Get(jobs.SignatureHeader), "v1="))
				}
				return hd
			}
			signed := func(k *jobs.Keys, function string, body []byte, at time.Time) func(http.Header) {
				return func(hd http.Header) { k.SignAt(hd, function, body, at) }
			}
			now := time.Now()
			cases := []forgery{
				{"unsigned", ownBody, header(own.ID, nil)},
				{"unsigned, unknown job id", unknownBody, header("3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f", nil)},
				{"timestamp without signature", ownBody, func() http.Header {
					hd := header(own.ID, nil)
					hd.Set(jobs.TimestampHeader, "1")
					return hd
				}()},
				{"wrong key", ownBody, header(own.ID, signed(other, h.Name, ownBody, now))},
				{"garbage signature", ownBody, func() http.Header {
					hd := header(own.ID, nil)
					hd.Set(jobs.TimestampHeader, "1")
					hd.Set(jobs.SignatureHeader, "v1=not-hex v2=00")
					return hd
				}()},
				{"stale timestamp", ownBody, header(own.ID, signed(keys, h.Name, ownBody, now.Add(-jobs.SignatureMaxAge-time.Minute)))},
				{"future timestamp", ownBody, header(own.ID, signed(keys, h.Name, ownBody, now.Add(jobs.SignatureMaxSkew+time.Minute)))},
				{"signature of another job", ownBody, header(own.ID, signed(keys, h.Name, msg(foreign.ID, own.Kind, own.Subject), now))},
				{"signed for another function", ownBody, header(own.ID, signed(keys, foreignKind.Function, ownBody, now))},
				{"X-Job-Id of another job", ownBody, header(foreign.ID, signed(keys, h.Name, ownBody, now))},
				{"signed, kind of another function", msg(foreign.ID, foreign.Kind, foreign.Subject),
					header(foreign.ID, signed(keys, h.Name, msg(foreign.ID, foreign.Kind, foreign.Subject), now))},
				{"signed, kind differs from the job row", msg(foreign.ID, own.Kind, foreign.Subject),
					header(foreign.ID, signed(keys, h.Name, msg(foreign.ID, own.Kind, foreign.Subject), now))},
			}
			before := map[string]jobRow{own.ID: readJob(t, h, own.ID), foreign.ID: readJob(t, h, foreign.ID)}
			for _, c := range cases {
				code, body := h.Post(t, c.body, c.header)
				if code != want.StatusCode || body != string(want.Body) {
					t.Errorf("%s: %d %s, want %d %s", c.name, code, body, want.StatusCode, want.Body)
				}
			}
			for id, b := range before {
				if got := readJob(t, h, id); got != b {
					t.Errorf("job %s changed by refused invocations: %+v, was %+v", id, got, b)
				}
			}
		})
	}
	logs := fntest.Logs()
	if !strings.Contains(logs, "job invocation refused") {
		t.Error("refusals not logged")
	}
	for _, s := range sent {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a signature sent is in the logs")
		}
	}
}
