package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
)

// Without CHATWOOT_URL the runner's chatwoot-reply keeps replies in the
// local outbox and serves them at GET /outbox, whatever stack.yml says.
func TestLocalOutbox(t *testing.T) {
	d := dbtest.New(t)
	sys := startSystem(t, map[string]string{"DATABASE_URL": d.URL})
	ctx := context.Background()
	var job jobs.Job
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		var err error
		job, err = replies.Insert(ctx, tx, replies.Reply{AccountID: 1, ConversationID: 1287, InboundMessageID: 40211, Mode: replies.Auto, Content: "Check-in starts at 3:00 PM."})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs.Dispatch(ctx, sys.Gateway, []jobs.Job{job})
	deadline := time.Now().Add(10 * time.Second)
	for dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'done'", job.ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("reply job not done")
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, body := call(t, "GET", sys.URL+"/outbox", nil, nil)
	var got struct {
		Replies []replies.OutboxEntry `json:"replies"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /outbox: %d %s", res.StatusCode, body)
	}
	if len(got.Replies) != 1 || got.Replies[0].Content != "Check-in starts at 3:00 PM." || got.Replies[0].ConversationID != 1287 {
		t.Errorf("outbox %s", body)
	}
}
