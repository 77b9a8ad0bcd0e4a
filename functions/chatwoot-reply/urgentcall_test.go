package function

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/faas/faastest"
	"github.com/harborstays/concierge/lib/jobs"
)

// urgentStack runs chatwoot-reply against a fake Chatwoot with the guest,
// a stay checking in today and a missed call of theirs stored, and the
// call's urgent-call job queued as aircall-hook queues it.
type urgentStack struct {
	*faastest.Harness
	fake *chatwoottest.Server
	job  jobs.Job
}

const (
	urgentCall  = 1843399001
	urgentInbox = 9
)

func startUrgent(t *testing.T, version string, vars map[string]string) *urgentStack {
	t.Helper()
	fake := chatwoottest.New(t)
	fake.SetVersion(version)
	fake.AddInbox(acct, inbox)
	fake.AddInbox(acct, urgentInbox)
	env := map[string]string{
		"CHATWOOT_URL": fake.URL, "CHATWOOT_API_TOKEN": fake.BotToken, "CHATWOOT_CONTACTS_TOKEN": fake.UserToken,
		"CHATWOOT_ACCOUNT_ID": "1", "CHATWOOT_CONTACT_INBOX_ID": "4", "URGENT_CALL_INBOX_ID": "9",
	}
	for k, v := range vars {
		if v == "-" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	h := faastest.Start(t, Name, New, env)
	ctx := context.Background()
	now := time.Now().UTC()
	today := now.Format(time.DateOnly)
	for _, q := range []string{
		`INSERT INTO guests (id, full_name, phone_e164, email) VALUES ('` + jordan + `', 'Jordan Avery', '+15555550142', 'jordan.avery@example.com')`,
		`INSERT INTO listings (id, title, timezone, raw) VALUES ('l1', 'Harbor Loft', 'UTC',
			'{"title": "Harbor Loft", "address": {"full": "12 Wharf Lane"}, "customFields": [{"fieldId": "650000000000000000000002", "value": "tide-pool-42"}]}')`,
		`INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in_local, check_out_local)
			VALUES ('r1', 'HMK7M2Q9XA', 'confirmed', 'l1', '` + jordan + `', '` + today + `', '` + now.AddDate(0, 0, 3).Format(time.DateOnly) + `')`,
	} {
		if _, err := h.DB.Pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := h.DB.Pool.Exec(ctx, `INSERT INTO calls (id, direction, status, missed_call_reason, started_at, ended_at, phone_e164,
			last_event, event_at, status_rank) VALUES ($1, 'inbound', 'done', 'no_available_agent', $2, $2, '+15555550142', 'call.ended', $2, 2)`,
		urgentCall, now); err != nil {
		t.Fatal(err)
	}
	var job jobs.Job
	err := pgx.BeginFunc(ctx, h.DB.Pool, func(tx pgx.Tx) error {
		var err error
		job, err = jobs.Enqueue(ctx, tx, jobs.UrgentCall, jobs.CallSubject(urgentCall), "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &urgentStack{Harness: h, fake: fake, job: job}
}

// The urgent-call job runs in chatwoot-reply like its other jobs: signed,
// claimed, done. The agent bot's token opens the conversation and marks it
// urgent (both in BOT_ACCESSIBLE_ENDPOINTS of the releases the fake
// plays); the note holds the Wi-Fi password of the default
// LISTING_CUSTOM_FIELDS; the job's answer holds ids only.
func TestUrgentCallJob(t *testing.T) {
	for _, version := range []string{"4.14.2", "4.13.0"} {
		t.Run(version, func(t *testing.T) {
			s := startUrgent(t, version, nil)
			code, body := s.RunJob(t, s.job)
			if code != http.StatusOK || !strings.Contains(body, `"outcome":"notified"`) {
				t.Fatalf("run: %d %s", code, body)
			}
			if strings.Contains(body, "5555550142") || strings.Contains(body, "tide-pool") {
				t.Errorf("the job's answer holds personal data or a secret: %s", body)
			}
			posted := s.fake.Posted()
			if len(posted) != 1 || !posted[0].Private || posted[0].SenderKind != chatwoottest.Bot ||
				!strings.Contains(posted[0].Content, "Wi-Fi password: tide-pool-42") {
				t.Fatalf("posted = %+v", posted)
			}
			var create, priority *chatwoottest.Request
			for _, r := range s.fake.Requests() {
				switch {
				case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/accounts/1/conversations"):
					create = &r
				case strings.HasSuffix(r.Path, "/toggle_priority"):
					priority = &r
				}
			}
			if create == nil || create.Token != chatwoottest.Bot || create.Status != http.StatusOK {
				t.Errorf("conversation create = %+v, want the bot's token, 200", create)
			}
			if priority == nil || priority.Token != chatwoottest.Bot || priority.Status != http.StatusOK ||
				string(priority.Body) != `{"priority":"urgent"}` {
				t.Errorf("toggle_priority = %+v, want the bot's token, 200, {\"priority\":\"urgent\"}", priority)
			}
			if p := s.fake.Priority(acct, posted[0].ConversationID); p != "urgent" {
				t.Errorf("priority = %q", p)
			}
			// Run again (a redelivered invocation): acknowledged, nothing posted.
			if code, body := s.RunJob(t, s.job); code != http.StatusOK || !strings.Contains(body, "skipped") || len(s.fake.Posted()) != 1 {
				t.Errorf("second run: %d %s, posted %d", code, body, len(s.fake.Posted()))
			}
		})
	}
}

// Chatwoot's rate limit ends the attempt as retrying, due no sooner than
// its Retry-After; the invocation is answered 503 for the queue's callback.
func TestUrgentCallRateLimited(t *testing.T) {
	s := startUrgent(t, chatwoottest.DefaultVersion, nil)
	s.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/conversations", Status: http.StatusTooManyRequests, RetryAfter: "90"})
	code, body := s.RunJob(t, s.job)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("run: %d %s", code, body)
	}
	var status string
	var wait float64
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT status, extract(epoch FROM next_attempt_at - now()) FROM jobs WHERE id = $1`, s.job.ID).
		Scan(&status, &wait); err != nil {
		t.Fatal(err)
	}
	if status != jobs.StatusRetrying || wait < 85 || wait > 91 {
		t.Errorf("job %s, next attempt in %.0f s; want retrying after Retry-After's 90", status, wait)
	}
	if len(s.fake.Posted()) != 0 {
		t.Errorf("posted during the rate limit")
	}
}
