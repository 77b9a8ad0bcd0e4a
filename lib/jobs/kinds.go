package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// Kind is everything about one kind of job, declared once below, the way
// River's JobArgs.Kind()/InsertOpts and a Worker's Timeout sit beside the
// job's type: its name, the function that runs it, its retry Policy and
// the time budget of one attempt. Its subject is built and read by the
// functions beside its declaration.
type Kind struct {
	Name     string
	Function string
	// Policy bounds the kind's attempts, lease and back-off.
	Policy Policy
	// Budget bounds one attempt's work, inside the function's timeout
	// (stack.yml); zero leaves it to that timeout.
	Budget time.Duration
}

// The kinds of job. A new kind is declared here, and All lists it.
var (
	// Vectorize: vectorize re-indexes a record (subject listing:<id>,
	// reservation:<id>, call:<id>).
	Vectorize = Kind{Name: "vectorize", Function: "vectorize", Policy: DefaultPolicy}
	// ContactSync: chatwoot-reply keeps a guest's Chatwoot contact in step
	// (GuestSubject); the budget is the reply's (one function timeout).
	ContactSync = Kind{Name: "contact-sync", Function: "chatwoot-reply", Policy: DefaultPolicy, Budget: replyBudget}
	// Answer: llm-query answers a conversation's unanswered guest messages
	// (ConversationSubject). The lease covers the burst window and the
	// model's time budget; a guest waiting for an answer is retried sooner
	// than an index update.
	Answer = Kind{Name: "answer", Function: "llm-query",
		Policy: Policy{MaxAttempts: 4, Lease: 3 * time.Minute, Base: 10 * time.Second, Max: 5 * time.Minute}}
	// Reply: chatwoot-reply posts one stored reply (ReplySubject). A late
	// answer is worth less than a late re-index, so the back-off is short;
	// the check before posting drops an answer a person or a newer message
	// made stale meanwhile. The lease covers the function's 30 s timeout.
	Reply = Kind{Name: "reply", Function: "chatwoot-reply",
		Policy: Policy{MaxAttempts: 8, Lease: 2 * time.Minute, Base: 10 * time.Second, Max: 10 * time.Minute},
		Budget: replyBudget}
	// Transcribe: stt transcribes one guest voice message (MessageSubject).
	Transcribe = Kind{Name: "transcribe", Function: "stt", Policy: voicePolicy, Budget: voiceBudget}
	// Synthesize: tts speaks one reply (ReplySubject).
	Synthesize = Kind{Name: "synthesize", Function: "tts", Policy: voicePolicy, Budget: voiceBudget}
	// TranscribeCall: stt transcribes a call's recording when Aircall sent
	// no transcript (CallSubject). A transcript is worth having hours late,
	// and an attempt may take minutes: the budget sits inside stt's 600 s
	// timeout and the lease covers it.
	TranscribeCall = Kind{Name: "transcribe-call", Function: "stt",
		Policy: Policy{MaxAttempts: 5, Lease: 11 * time.Minute, Base: time.Minute, Max: 30 * time.Minute},
		Budget: 540 * time.Second}
	// GuestyFetch: guesty-fetch reads a reservation, listing or guest from
	// the Guesty Open API and stores it as a webhook would have (subject
	// reservation:<id>, listing:<id>, guest:<id>); lean v2 events queue it.
	// One fetch is one request, and a wait for Guesty's rate limit longer
	// than the client's budget comes back as an error carrying
	// Retry-After, so the lease covers that budget and a request with room
	// to spare; Guesty's hourly window can hold a job back for up to an
	// hour, so attempts are many and the back-off long.
	GuestyFetch = Kind{Name: "guesty-fetch", Function: "guesty-fetch",
		Policy: Policy{MaxAttempts: 12, Lease: 2 * time.Minute, Base: 15 * time.Second, Max: time.Hour}}
	// GuestyReconcile carries on a reconciliation the rate limit (or the
	// time budget) interrupted (ReconcileSubject): written with the
	// provider's delay, started by redrive once due. The budget keeps a run
	// well inside the function's 300 s write_timeout (what it does not
	// reach, the next job continues); the lease covers it, and the back-off
	// reaches Guesty's hourly window.
	GuestyReconcile = Kind{Name: "guesty-reconcile", Function: "guesty-reconcile",
		Policy: Policy{MaxAttempts: 12, Lease: 6 * time.Minute, Base: time.Minute, Max: time.Hour},
		Budget: 4 * time.Minute}
	// Backup: the backup function's run, queued by its schedule
	// (ScheduleSubject). The lease outlasts a run (exec_timeout 3600 s in
	// stack.yml), so redrive never starts a second run beside a slow one; a
	// run that failed on an outage is tried twice more, a quarter of an
	// hour apart and then an hour, before it is parked failed for a person.
	Backup = Kind{Name: "backup", Function: "backup",
		Policy: Policy{MaxAttempts: 3, Lease: 65 * time.Minute, Base: 15 * time.Minute, Max: time.Hour}}
	// UrgentCall: chatwoot-reply turns a missed call or voicemail of a guest
	// arriving today or tomorrow into an urgent private note for the team
	// (CallSubject), then adds the voicemail and its transcript when they
	// come (a wait it bounds itself). Urgent: the reply's short back-off
	// and budget.
	UrgentCall = Kind{Name: "urgent-call", Function: "chatwoot-reply",
		Policy: Policy{MaxAttempts: 8, Lease: 2 * time.Minute, Base: 10 * time.Second, Max: 10 * time.Minute},
		Budget: replyBudget}
)

// Shared by more than one kind.
const (
	// replyBudget bounds chatwoot-reply's work inside its 30 s timeout: the
	// Chatwoot client stops waiting for retries at it.
	replyBudget = 25 * time.Second
	// voiceBudget bounds a voice job inside stt's and tts's timeouts: a
	// guest waits for the answer.
	voiceBudget = 100 * time.Second
)

// voicePolicy: a voice answer late by minutes is still worth it; the
// lease covers the functions' 120 s timeout.
var voicePolicy = Policy{MaxAttempts: 5, Lease: 3 * time.Minute, Base: 10 * time.Second, Max: 5 * time.Minute}

// All lists every kind declared above: what redrive reports and what a
// forged invocation may name.
func All() []Kind {
	return []Kind{Vectorize, ContactSync, Answer, Reply, TranscribeCall, Transcribe, Synthesize, GuestyFetch, GuestyReconcile, Backup, UrgentCall}
}

// Subjects name what a job works on: one pending job per kind and subject.

// ConversationSubject is the subject of a conversation's answer job.
func ConversationSubject(account, conversation int64) string {
	return fmt.Sprintf("conversation:%d:%d", account, conversation)
}

// ParseConversationSubject reads ConversationSubject.
func ParseConversationSubject(s string) (account, conversation int64, err error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "conversation" {
		return 0, 0, fault.Field("subject", "want conversation:<account>:<id>, got %q", s)
	}
	account, err1 := strconv.ParseInt(parts[1], 10, 64)
	conversation, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fault.Field("subject", "want conversation:<account>:<id>, got %q", s)
	}
	return account, conversation, nil
}

// replyPrefix starts the subject of a reply's jobs (reply, synthesize).
const replyPrefix = "reply:"

// ReplySubject is the subject of reply id's jobs (reply and synthesize).
func ReplySubject(id string) string { return replyPrefix + id }

// ParseReplySubject returns the reply id of a ReplySubject.
func ParseReplySubject(subject string) (string, error) {
	id, ok := strings.CutPrefix(subject, replyPrefix)
	if !ok || !uuidRe.MatchString(id) {
		return "", fault.New(fault.Permanent, "job subject %q is not reply:<uuid>", subject)
	}
	return id, nil
}

// MessageSubject is the subject of a message's transcribe job.
func MessageSubject(account, message int64) string {
	return fmt.Sprintf("message:%d:%d", account, message)
}

// ParseMessageSubject reads MessageSubject.
func ParseMessageSubject(s string) (account, message int64, err error) {
	parts := strings.Split(s, ":")
	if len(parts) == 3 && parts[0] == "message" {
		a, err1 := strconv.ParseInt(parts[1], 10, 64)
		m, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil && a > 0 && m > 0 {
			return a, m, nil
		}
	}
	return 0, 0, fault.New(fault.Permanent, "job subject %q is not message:<account>:<id>", s)
}

// CallSubject is the subject of a call's jobs (transcribe-call, vectorize).
func CallSubject(id int64) string { return "call:" + strconv.FormatInt(id, 10) }

// ParseCallSubject reads CallSubject.
func ParseCallSubject(s string) (int64, error) {
	if rest, ok := strings.CutPrefix(s, "call:"); ok {
		if id, err := strconv.ParseInt(rest, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, fault.New(fault.Permanent, "job subject %q is not call:<id>", s)
}

// ReservationSubject is the subject of a reservation's jobs (vectorize,
// guesty-fetch).
func ReservationSubject(id string) string { return "reservation:" + id }

// guestPrefix starts the subject of a guest's jobs.
const guestPrefix = "guest:"

// GuestSubject is the subject of a guest's jobs (contact-sync,
// guesty-fetch).
func GuestSubject(id string) string { return guestPrefix + id }

// ParseGuestSubject returns the guest id of a contact-sync GuestSubject.
func ParseGuestSubject(subject string) (string, error) {
	id, ok := strings.CutPrefix(subject, guestPrefix)
	if !ok || id == "" || len(id) > 128 {
		return "", fault.New(fault.Permanent, "job subject %q is not guest:<id>", subject)
	}
	return id, nil
}

// ReconcileSubject is the subject of the guesty-reconcile job: there is
// one reconciliation, so one pending job at most.
const ReconcileSubject = "reconcile:reconcile"

// schedulePrefix starts the subject of a job a schedule queued.
const schedulePrefix = "schedule:"

// slotLayout is a schedule slot: cron's resolution, the minute, in UTC.
const slotLayout = "2006-01-02T15:04Z"

// ScheduleSubject is the subject of the job a scheduled call at t queues:
// one per minute, so the burst of calls cron-connector 0.3.2 makes when
// its next-run time went stale is one job. part narrows what the run does
// ("" for everything).
func ScheduleSubject(t time.Time, part string) string {
	s := schedulePrefix + t.UTC().Truncate(time.Minute).Format(slotLayout)
	if part != "" {
		s += ":" + part
	}
	return s
}

// ParseScheduleSubject is ScheduleSubject's inverse.
func ParseScheduleSubject(subject string) (slot time.Time, part string, err error) {
	rest, ok := strings.CutPrefix(subject, schedulePrefix)
	if !ok || len(rest) < len(slotLayout) {
		return time.Time{}, "", fmt.Errorf("not a schedule subject: %q", subject)
	}
	slot, err = time.Parse(slotLayout, rest[:len(slotLayout)])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("not a schedule subject: %q: %w", subject, err)
	}
	rest = rest[len(slotLayout):]
	if rest != "" {
		if part, ok = strings.CutPrefix(rest, ":"); !ok || part == "" {
			return time.Time{}, "", fmt.Errorf("not a schedule subject: %q", subject)
		}
	}
	return slot, part, nil
}
