package retention_test

// Tests written for `make mutate`: each names the gremlins mutants of
// retention.go and chatwoot.go it kills.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/retention"
	"github.com/harborstays/concierge/lib/retrieval/pgindex"
)

// Every retention period must be positive; the batch may be anything from
// 1 to 50000, both ends included.
// Kills: PolicyFrom's `s.d <= 0` made < (a zero period, which deletes
// everything at once, accepted), `p.Batch < 1` made <= and
// `p.Batch > 50000` made >= (a batch at either end refused).
func TestPolicyBounds(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"RETENTION_EVENTS", "0s", false},
		{"RETENTION_MESSAGES", "0s", false},
		{"RETENTION_BUDGET", "0s", false},
		{"RETENTION_EVENTS", "1s", true},
		{"RETENTION_BATCH", "1", true},
		{"RETENTION_BATCH", "50000", true},
		{"RETENTION_BATCH", "50001", false},
		{"RETENTION_BATCH", "0", false},
	} {
		cfg := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), c.name: c.value}))
		retention.PolicyFrom(cfg)
		err := cfg.Err()
		if c.ok && err != nil {
			t.Errorf("%s=%s refused: %v", c.name, c.value, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), c.name)) {
			t.Errorf("%s=%s accepted: %v", c.name, c.value, err)
		}
	}
}

// A sweep stops at the first batch smaller than the batch size: three old
// deliveries in batches of two take two statements, one more than a pass
// that finds nothing (whose first, empty, batch ends each sweep). The
// figures in milliseconds are the durations' own.
// Kills: sweep's `n < batch || last == nil` made && (a third, empty batch
// after the partial one); ms' `/ 1000` made * 1000; batch's
// `d > ps.res.LongestBatch` negated (the longest batch stuck at zero).
func TestSweepStopsAtPartialBatch(t *testing.T) {
	now := time.Now()
	d := dbtest.New(t)
	for i := range 3 {
		exec(t, d.Pool, `INSERT INTO webhook_events (source, event_type, dedupe_key, payload, handled, received_at)
			VALUES ('aircall', 'call.ended', $1, '{}', true, $2)`, fmt.Sprintf("old-%d", i), now.Add(-40*day-time.Duration(i)*time.Hour))
	}
	p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: defaults(t)}
	p.Policy.Batch = 2
	first, err := p.Run(context.Background(), now)
	if err != nil || first.Removed[retention.KindEvents] != 3 {
		t.Fatalf("first pass: %v %v", first.Removed, err)
	}
	empty, err := p.Run(context.Background(), now)
	if err != nil || empty.Removed[retention.KindEvents] != 0 {
		t.Fatalf("second pass: %v %v", empty.Removed, err)
	}
	if extra := first.Batches - empty.Batches; extra != 1 {
		t.Errorf("three rows in batches of two took %d statements more than none (%d vs %d), want 1", extra, first.Batches, empty.Batches)
	}
	// Every statement takes some time: the longest is no zero.
	if first.LongestBatch <= 0 || first.LongestBatch > first.Elapsed {
		t.Errorf("longest batch %s of a pass of %s", first.LongestBatch, first.Elapsed)
	}
	for _, r := range []retention.Result{first, empty} {
		if math.Abs(r.LongestMS-float64(r.LongestBatch)/float64(time.Millisecond)) > 0.001 ||
			math.Abs(r.ElapsedMS-float64(r.Elapsed)/float64(time.Millisecond)) > 0.001 {
			t.Errorf("longest %s as %v ms, elapsed %s as %v ms", r.LongestBatch, r.LongestMS, r.Elapsed, r.ElapsedMS)
		}
	}
}

// A pass whose bookkeeping fails says so, and a pass that failed reports
// its own failure, not the bookkeeping's that followed it. The failing
// bookkeeping is played by a trigger that refuses retention_runs rows.
// Kills: Run's `rerr != nil && err == nil` with either comparison negated
// or && made || (the record's failure lost, or put in place of the
// pass's).
func TestRunReportsRecordFailure(t *testing.T) {
	now := time.Now()
	d := dbtest.New(t)
	p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: defaults(t)}
	ctx := context.Background()

	// The pass itself fails (its context is gone): its error is the
	// first step's, though recording the pass fails too.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Run(gone, now); err == nil || !strings.Contains(err.Error(), "retention voice clips") {
		t.Errorf("failed pass: %v, want the voice clips step's error", err)
	}

	exec(t, d.Pool, `
		CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'retention_runs refused'; END $$;
		CREATE TRIGGER refuse_run BEFORE INSERT ON retention_runs FOR EACH ROW EXECUTE FUNCTION refuse_run();`)
	res, err := p.Run(ctx, now)
	if err == nil || !strings.Contains(err.Error(), "record retention run") || !strings.Contains(err.Error(), "retention_runs refused") {
		t.Errorf("pass not recorded: %v", err)
	}
	if !res.Complete {
		t.Errorf("the pass itself completed: %+v", res)
	}
}

// Voice in Chatwoot, message by message: a refusal after a deletion leaves
// the messages after the refused one; a server error leaves the one that
// failed and those after it, for the next pass, without failing the pass;
// a budget that runs out between two deletions leaves the rest.
// Kills: the refusal's `len(list) - i - 1` with either - made +, the
// server error's and the budget's `len(list) - i` made + (the count of
// what is left in Chatwoot wrong).
func TestChatwootVoiceLeftCounts(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      int           // scripted answer to the second delete; 0: none
		slow        time.Duration // the first delete takes this long; the budget is as long
		removed     int64
		refused     int64
		left        int64
		complete    bool
		markedFirst bool
	}{
		{"refused after one", 403, 0, 1, 1, 1, true, true},
		{"server error after one", 500, 0, 1, 0, 2, true, true},
		{"budget spent after one", 0, 5 * time.Second, 1, 0, 2, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Now()
			d := dbtest.New(t)
			cw := chatwoottest.New(t)
			cw.AddConversation(chatwoottest.Conversation{AccountID: 1, ID: 1287, InboxID: 4, ContactID: 57})
			var ids []int64
			for i := range 3 {
				m := cw.AddMessage(chatwoottest.Message{AccountID: 1, ConversationID: 1287, SenderKind: "contact",
					Attachments: []chatwoottest.File{{Name: fmt.Sprintf("voice%d.ogg", i), ContentType: "audio/ogg", Data: []byte("OggS")}}})
				ids = append(ids, m.ID)
				exec(t, d.Pool, `INSERT INTO messages (account_id, id, conversation_id, message_type, transcript, created_at)
					VALUES (1, $1, 1287, 'incoming', 'a voice note', $2)`, m.ID, now.Add(-90*time.Hour+time.Duration(i)*time.Hour))
			}
			if c.status != 0 {
				cw.Fail(chatwoottest.Failure{Method: "DELETE", Path: fmt.Sprintf("/messages/%d", ids[1]), Status: c.status})
			}
			client, err := chatwoot.New(chatwoot.Options{BaseURL: cw.URL, AccountID: 1, Token: cw.UserToken, MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: defaults(t), Chatwoot: &slowFirst{c: client, wait: c.slow}}
			if c.slow > 0 {
				// The first deletion starts after the pass did and lasts
				// the whole budget, so the budget is spent after it.
				p.Policy.Budget = c.slow
			}
			res, err := p.Run(context.Background(), now)
			if err != nil {
				t.Fatal(err)
			}
			cv := res.ChatwootVoice
			if cv.Removed != c.removed || cv.Refused != c.refused || cv.Left != c.left || res.Complete != c.complete {
				t.Errorf("voice %+v, complete %v; want removed %d, refused %d, left %d, complete %v",
					cv, res.Complete, c.removed, c.refused, c.left, c.complete)
			}
			if n := dbtest.Count(t, d.Pool, "messages", "voice_removed_at IS NOT NULL AND id = $1", ids[0]); (n == 1) != c.markedFirst {
				t.Errorf("first message marked: %d", n)
			}
			if n := dbtest.Count(t, d.Pool, "messages", "voice_removed_at IS NOT NULL AND id <> $1", ids[0]); n != 0 {
				t.Errorf("%d messages left in Chatwoot marked removed", n)
			}
		})
	}
}

// slowFirst deletes through the Chatwoot client; its first deletion takes
// wait longer.
type slowFirst struct {
	c    *chatwoot.Client
	wait time.Duration
	once sync.Once
}

func (s *slowFirst) DeleteMessage(ctx context.Context, account, conv, msg int64) error {
	err := s.c.ForAccount(account).DeleteMessage(ctx, conv, msg)
	s.once.Do(func() { time.Sleep(s.wait) })
	return err
}

// Kinds with more rows than a batch are emptied in one pass, batch after
// batch: five expired voice clips, five old replies and five documents of
// calls no longer stored, in batches of two (2, 2 and 1: the clips and the
// replies take two statements more than a pass that finds nothing).
// Kills: voiceClips' `r.Deleted < batch` made <=; replies' `n < batch ||
// last == nil` with < made <= or >=, == negated or || made &&; documents'
// `err != nil` negated and `n < batch` made <= (each stops after a full
// batch and leaves the rest, or takes an extra one).
func TestPassEmptiesMoreThanABatch(t *testing.T) {
	now := time.Now()
	d := dbtest.New(t)
	exec(t, d.Pool, `INSERT INTO conversations (account_id, id, updated_at) VALUES (1, 1003, $1)`, now)
	for i := range 5 {
		exec(t, d.Pool, `INSERT INTO voice_clips (kind, account_id, conversation_id, message_id, content_type, bytes, size, expires_at)
			VALUES ('input', 1, 1003, $1, 'audio/ogg', 'abc', 3, $2)`, 900+i, now.Add(-time.Hour-time.Duration(i)*time.Minute))
		exec(t, d.Pool, `INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, language, citations, want_audio, status, created_at)
			VALUES (1, 1003, $1, 'auto', 'reply text', 'en', '[]', false, 'posted', $2)`, 100+i, now.Add(-400*day-time.Duration(i)*time.Hour))
		exec(t, d.Pool, `INSERT INTO documents (id, source, kind, hash, chunks) VALUES ($1, $2, 'call', 'h', 0)`,
			fmt.Sprintf("call:%d:summary", 7000+i), fmt.Sprintf("call:%d", 7000+i))
	}
	p := &retention.Purger{DB: d.Pool, Index: pgindex.New(d.Pool), Policy: defaults(t)}
	p.Policy.Batch = 2
	res, err := p.Run(context.Background(), now)
	if err != nil || !res.Complete {
		t.Fatalf("pass: %+v %v", res, err)
	}
	for kind, want := range map[string]int64{retention.KindVoiceClips: 5, retention.KindReplies: 5, retention.KindDocuments: 5} {
		if res.Removed[kind] != want {
			t.Errorf("removed %d %s, want %d", res.Removed[kind], kind, want)
		}
	}
	for _, table := range []string{"voice_clips", "replies", "documents"} {
		if n := dbtest.Count(t, d.Pool, table, "true"); n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
	empty, err := p.Run(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	// Voice clips 2, 2, 1 and replies 2, 2, 1 against one empty statement
	// each: four more.
	if extra := res.Batches - empty.Batches; extra != 4 {
		t.Errorf("five clips and five replies in batches of two took %d statements more than none, want 4", extra)
	}
}
