package urgentcall_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/chatwoot/chatwoottest"
	"github.com/harborstays/concierge/lib/contactsync"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/documents"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/urgentcall"
	"github.com/harborstays/concierge/lib/webhook"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	acct         = 1
	contactInbox = 4
	urgentInbox  = 9
	guestID      = "66a1f0c2e4b0a1b2c3d4e5f6"
	guestPhone   = "+15555550142" // the fixtures' caller
	listingID    = "listing-harbor-loft"
	tz           = "America/Los_Angeles"
	wifiPassword = "tide-pool-42"
	doorCode     = "4417#"
)

// fields are the listing custom fields the notes tell (secrets marked !).
var fields = map[string]documents.CustomField{
	"650000000000000000000001": {Label: "Wi-Fi network", Restricted: true},
	"650000000000000000000002": {Label: "Wi-Fi password", Restricted: true},
	"650000000000000000000003": {Label: "Door code", Restricted: true},
}

// nopInvoker takes the immediate jobs (vectorize) the hook dispatches.
type nopInvoker struct{}

func (nopInvoker) Async(context.Context, string, []byte, http.Header) error { return nil }

type rig struct {
	t      *testing.T
	db     *dbtest.DB
	fake   *chatwoottest.Server
	hook   *aircall.Hook
	n      *urgentcall.Notifier
	now    time.Time // the calls are made at now
	nextID int64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	d := dbtest.New(t)
	fake := chatwoottest.New(t)
	fake.AddInbox(acct, contactInbox)
	// The urgent inbox has the agent bot, as Chatwoot's guest inboxes do:
	// a conversation opened there starts pending.
	fake.SetInboxBot(acct, urgentInbox)
	opts := chatwoot.Options{BaseURL: fake.URL, AccountID: acct, Token: fake.BotToken,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	bot, err := chatwoot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Token = fake.UserToken
	people, err := chatwoot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	store := &webhook.Store{DB: d.Pool, Invoker: nopInvoker{}, MaxBatch: 1}
	hook, err := aircall.NewHook(store, []string{fixtures.AircallToken}, "US")
	if err != nil {
		t.Fatal(err)
	}
	hook.TranscribeAfter = 10 * time.Minute
	r := &rig{t: t, db: d, fake: fake, hook: hook, now: now, nextID: 1900000000}
	r.n = &urgentcall.Notifier{DB: d.Pool, Chat: bot, People: people, AccountID: acct, InboxID: urgentInbox, Fields: fields,
		Contacts: &contactsync.Syncer{DB: d.Pool, Chat: people, InboxID: contactInbox, Now: func() time.Time { return now }}}
	r.guest(guestID, guestPhone, "Jordan Avery")
	r.exec(`INSERT INTO listings (id, title, timezone, default_check_in_time, raw) VALUES ($1, 'Harbor Loft', $2, '15:00', $3)`,
		listingID, tz, `{"title": "Harbor Loft", "defaultCheckInTime": "15:00", "defaultCheckOutTime": "11:00",
		"address": {"full": "12 Wharf Lane, Seaside, CA 93955"},
		"publicDescription": {"access": "Keyless entry: the keypad is left of the blue door."},
		"customFields": [{"fieldId": "650000000000000000000001", "value": "HarborLoft"},
			{"fieldId": "650000000000000000000002", "value": "`+wifiPassword+`"},
			{"fieldId": "650000000000000000000003", "value": "`+doorCode+`"}]}`)
	return r
}

func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if _, err := r.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		r.t.Fatalf("%s: %v", sql, err)
	}
}

func (r *rig) guest(id, phone, name string) {
	r.t.Helper()
	r.exec(`INSERT INTO guests (id, full_name, phone_e164, email) VALUES ($1, $2, $3, $4)`, id, name, phone, id+"@example.com")
}

// stay books guestID into the listing, checking in days after the day of
// the calls (in the listing's time zone) for three nights.
func (r *rig) stay(id, guestID string, days int, status string) {
	r.t.Helper()
	loc, _ := time.LoadLocation(tz)
	l := r.now.Add(-time.Minute).In(loc) // the calls start a minute before now
	in := time.Date(l.Year(), l.Month(), l.Day()+days, 15, 0, 0, 0, loc)
	out := in.AddDate(0, 0, 3).Add(-4 * time.Hour)
	r.exec(`INSERT INTO reservations (id, confirmation_code, status, listing_id, guest_id, check_in, check_out,
			check_in_local, check_out_local, guests_count, planned_arrival)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 2, '12:00')`,
		id, "HMK"+strings.ToUpper(id[len(id)-4:]), status, listingID, guestID, in, out, in.Format(time.DateOnly), out.Format(time.DateOnly))
}

// callEvent is an Aircall call event built from the contract's fixtures:
// event call.ended (a missed call, no voicemail), call.voicemail_left, or
// "answered" (call.ended of an answered call), made at r.now from phone.
func (r *rig) callEvent(kind string, id int64, phone string) []byte {
	r.t.Helper()
	name := "aircall/call.ended.json"
	if kind == "call.voicemail_left" {
		name = "aircall/call.voicemail_left.json"
	}
	var ev map[string]any
	if err := json.Unmarshal(fixtures.Read(name), &ev); err != nil {
		r.t.Fatal(err)
	}
	data := ev["data"].(map[string]any)
	start := r.now.Add(-time.Minute)
	data["id"], data["raw_digits"] = id, phone
	data["started_at"], data["ended_at"] = start.Unix(), r.now.Unix()
	ev["timestamp"] = r.now.Unix()
	switch kind {
	case "call.ended":
		data["answered_at"], data["user"], data["recording"], data["missed_call_reason"] = nil, nil, nil, "no_available_agent"
		data["comments"], data["tags"] = []any{}, []any{}
	case "answered":
		data["answered_at"] = start.Add(10 * time.Second).Unix()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) deliver(body []byte) webhook.Outcome {
	r.t.Helper()
	out, err := r.hook.Receive(context.Background(), body)
	if err != nil {
		r.t.Fatalf("deliver: %v", err)
	}
	return out
}

func (r *rig) newCall() int64 { r.nextID++; return r.nextID }

// outcome is one job attempt as the step runner records it.
type outcome struct {
	res     urgentcall.Result
	err     error
	status  string // the job's status after the attempt
	waiting bool
}

// run makes the call's urgent-call job due and runs one attempt of it the
// way the step runner does (claim, work, then done, snooze or fail). ok is
// false when there is no job to run.
func (r *rig) run(call int64) (outcome, bool) {
	r.t.Helper()
	ctx := context.Background()
	var id string
	err := r.db.Pool.QueryRow(ctx, `UPDATE jobs SET not_before = now(), next_attempt_at = now()
		WHERE id = (SELECT id FROM jobs WHERE kind = $1 AND subject = $2 AND status IN ('pending', 'retrying') ORDER BY created_at LIMIT 1)
		RETURNING id::text`, jobs.UrgentCall.Name, jobs.CallSubject(call)).Scan(&id)
	if err != nil {
		return outcome{}, false
	}
	c, err := jobs.StartKind(ctx, r.db.Pool, id, jobs.UrgentCall.Name, jobs.UrgentCall.Policy)
	if err != nil {
		r.t.Fatalf("start job: %v", err)
	}
	var o outcome
	o.res, o.err = r.n.Job(ctx, c)
	var nr *jobs.NotReady
	switch {
	case errors.As(o.err, &nr):
		o.waiting = true
		if err := jobs.Snooze(ctx, r.db.Pool, c, nr.Wait, nr.Reason); err != nil {
			r.t.Fatal(err)
		}
	case o.err != nil:
		if _, err := jobs.Fail(ctx, r.db.Pool, c, o.err, jobs.UrgentCall.Policy); err != nil {
			r.t.Fatal(err)
		}
	default:
		if err := jobs.Done(ctx, r.db.Pool, c); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.db.Pool.QueryRow(ctx, "SELECT status FROM jobs WHERE id = $1", id).Scan(&o.status); err != nil {
		r.t.Fatal(err)
	}
	return o, true
}

// mustRun runs the job and fails the test on an error other than a wait.
func (r *rig) mustRun(call int64) outcome {
	r.t.Helper()
	o, ok := r.run(call)
	if !ok {
		r.t.Fatalf("no urgent-call job for call %d", call)
	}
	if o.err != nil && !o.waiting {
		r.t.Fatalf("job: %v", o.err)
	}
	return o
}

// skipped checks that the attempt skipped the call for reason and left no
// trace: no request reached Chatwoot, no urgent_calls row was written.
func (r *rig) skipped(o outcome, reason string) {
	r.t.Helper()
	if o.res.Outcome != urgentcall.OutcomeSkipped || o.res.Reason != reason {
		r.t.Errorf("result = %+v, want skipped: %s", o.res, reason)
	}
	if n := len(r.fake.Requests()); n != 0 {
		r.t.Errorf("%d requests reached Chatwoot, want none", n)
	}
	if n := dbtest.Count(r.t, r.db.Pool, "urgent_calls", ""); n != 0 {
		r.t.Errorf("urgent_calls rows = %d", n)
	}
}

// notes returns every message posted to Chatwoot, checking that none can
// reach the guest: private notes only.
func (r *rig) notes() []chatwoottest.Message {
	r.t.Helper()
	posted := r.fake.Posted()
	for _, m := range posted {
		if !m.Private || m.MessageType != "outgoing" {
			r.t.Errorf("message %d is not a private note (private=%v, type %s): the guest could see it", m.ID, m.Private, m.MessageType)
		}
	}
	return posted
}

func (r *rig) urgentRow(call int64) (status string, noted []string, conv int64) {
	r.t.Helper()
	var c *int64
	err := r.db.Pool.QueryRow(context.Background(), "SELECT status, noted, conversation_id FROM urgent_calls WHERE call_id = $1", call).
		Scan(&status, &noted, &c)
	if err != nil {
		r.t.Fatalf("urgent_calls row of %d: %v", call, err)
	}
	if c != nil {
		conv = *c
	}
	return status, noted, conv
}

func contains(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("note lacks %q:\n%s", w, text)
		}
	}
}

// A missed call from a guest arriving today opens an urgent conversation
// for the guest's contact with one private note: the call, the stay and
// its access details, secrets included, for the team. The conversation
// starts pending in the bot's inbox, so the bot opens it.
func TestMissedCallArrivingToday(t *testing.T) {
	r := newRig(t)
	r.stay("res-today-0001", guestID, 0, "confirmed")
	call := r.newCall()
	if out := r.deliver(r.callEvent("call.ended", call, "+1 555-555-0142")); out != webhook.Stored {
		t.Fatalf("delivery = %s", out)
	}
	// Held back for the voicemail event: written, not due yet.
	if n := dbtest.Count(t, r.db.Pool, "jobs", "kind = 'urgent-call' AND subject = $1 AND not_before > now()", jobs.CallSubject(call)); n != 1 {
		t.Fatalf("delayed urgent-call jobs = %d, want 1", n)
	}
	o := r.mustRun(call)
	if o.status != jobs.StatusDone || o.res.Outcome != urgentcall.OutcomeNotified || !o.res.Opened {
		t.Fatalf("job = %+v, status %s", o.res, o.status)
	}
	notes := r.notes()
	if len(notes) != 1 {
		t.Fatalf("posted %d messages, want 1 note", len(notes))
	}
	note := notes[0]
	contains(t, note.Content, "URGENT: Missed call from Jordan Avery, arriving today", "Call them back on +15555550142",
		"no available agent", "Harbor Loft", "confirmation HMK0001", "check-in", "from 15:00", "planned arrival 12:00",
		"Exact address: 12 Wharf Lane", "keypad is left of the blue door", "Wi-Fi password: "+wifiPassword,
		"Door code: "+doorCode, "Ref: Aircall call "+strconv.FormatInt(call, 10)+" (call)")
	if note.SenderKind != chatwoottest.Bot {
		t.Errorf("note posted by %s, want the agent bot", note.SenderKind)
	}
	convs := r.fake.ConversationsOf(acct, contactOf(t, r))
	if len(convs) != 1 || convs[0].InboxID != urgentInbox || convs[0].ID != note.ConversationID {
		t.Fatalf("conversations of the guest's contact = %+v", convs)
	}
	if got := r.fake.Priority(acct, convs[0].ID); got != "urgent" {
		t.Errorf("priority = %q, want urgent", got)
	}
	if c, _ := r.fake.Conversation(acct, convs[0].ID); c.Status != "open" {
		t.Errorf("status = %s, want open (handed to a person)", c.Status)
	}
	if attrs := r.fake.ConversationAttributes(acct, convs[0].ID); attrs["aircall_call_id"] != strconv.FormatInt(call, 10) {
		t.Errorf("custom attributes = %v", attrs)
	}
	status, noted, conv := r.urgentRow(call)
	if status != "posted" || strings.Join(noted, ",") != "call" || conv != convs[0].ID {
		t.Errorf("row = %s %v %d", status, noted, conv)
	}
	counts, err := urgentcall.Count(context.Background(), r.db.Pool, r.now.Add(-time.Hour), r.now.Add(time.Hour))
	if err != nil || counts != (urgentcall.Counts{Calls: 1, Posted: 1}) {
		t.Errorf("Count = %+v, %v", counts, err)
	}
	if c, err := urgentcall.Count(context.Background(), r.db.Pool, r.now.Add(time.Hour), r.now.Add(2*time.Hour)); err != nil || c.Calls != 0 {
		t.Errorf("Count outside the window = %+v, %v", c, err)
	}
}

func contactOf(t *testing.T, r *rig) int64 {
	t.Helper()
	var id int64
	if err := r.db.Pool.QueryRow(context.Background(), "SELECT contact_id FROM contact_links WHERE guest_id = $1", guestID).Scan(&id); err != nil {
		t.Fatalf("contact link: %v", err)
	}
	return id
}

// Who gets an urgent note: only the one guest whose number called and
// whose stay checks in that day or the next; everyone else, nothing at all
// reaches Chatwoot.
func TestWhoIsUrgent(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(r *rig)
		phone  string
		kind   string
		urgent bool
		reason string
	}{
		{"arriving tomorrow", func(r *rig) { r.stay("res-tmrw-0002", guestID, 1, "confirmed") }, guestPhone, "call.ended", true, ""},
		{"arriving in 5 days", func(r *rig) { r.stay("res-five-0003", guestID, 5, "confirmed") }, guestPhone, "call.ended", false, urgentcall.ReasonNoStay},
		{"checked in yesterday", func(r *rig) { r.stay("res-past-0004", guestID, -1, "checked_in") }, guestPhone, "call.ended", false, urgentcall.ReasonNoStay},
		{"cancelled stay today", func(r *rig) { r.stay("res-canc-0005", guestID, 0, "canceled") }, guestPhone, "call.ended", false, urgentcall.ReasonNoStay},
		{"unknown number", func(r *rig) { r.stay("res-unkn-0006", guestID, 0, "confirmed") }, "+15555550199", "call.ended", false, urgentcall.ReasonUnknown},
		{"number shared by two guests", func(r *rig) {
			r.stay("res-shar-0007", guestID, 0, "confirmed")
			r.guest("other-guest", guestPhone, "Sam Rivera")
		}, guestPhone, "call.ended", false, urgentcall.ReasonUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			c.setup(r)
			call := r.newCall()
			r.deliver(r.callEvent(c.kind, call, c.phone))
			o := r.mustRun(call)
			if o.status != jobs.StatusDone {
				t.Fatalf("job status %s (%v)", o.status, o.err)
			}
			if !c.urgent {
				r.skipped(o, c.reason)
				return
			}
			if len(r.notes()) != 1 || r.fake.CreatedConversations() != 1 {
				t.Fatalf("notes %d, conversations %d", len(r.notes()), r.fake.CreatedConversations())
			}
			contains(t, r.notes()[0].Content, "arriving tomorrow")
		})
	}
}

// An answered call, an outbound call and an anonymous caller queue no
// urgent-call job at all.
func TestOnlyMissedInboundCallsAreQueued(t *testing.T) {
	r := newRig(t)
	answered, outbound, anonymous := r.newCall(), r.newCall(), r.newCall()
	r.deliver(r.callEvent("answered", answered, guestPhone))
	out := r.callEvent("call.ended", outbound, guestPhone)
	out = []byte(strings.Replace(string(out), `"direction":"inbound"`, `"direction":"outbound"`, 1))
	r.deliver(out)
	r.deliver(r.callEvent("call.ended", anonymous, "anonymous"))
	if n := dbtest.Count(t, r.db.Pool, "jobs", "kind = 'urgent-call'"); n != 0 {
		t.Errorf("urgent-call jobs = %d, want 0", n)
	}
	// A missed inbound call is queued once, whatever the redeliveries.
	missed := r.newCall()
	body := r.callEvent("call.ended", missed, guestPhone)
	r.deliver(body)
	if out := r.deliver(body); out != webhook.Duplicate {
		t.Errorf("redelivery = %s", out)
	}
	if n := dbtest.Count(t, r.db.Pool, "jobs", "kind = 'urgent-call'"); n != 1 {
		t.Errorf("urgent-call jobs = %d, want 1", n)
	}
}

// A voicemail whose transcript is there when the note is written: one
// note with the voicemail link and the transcript.
func TestVoicemailWithTranscript(t *testing.T) {
	r := newRig(t)
	r.stay("res-vmtr-0008", guestID, 0, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.voicemail_left", call, guestPhone))
	r.exec(`UPDATE calls SET transcript = 'Hi, we land at noon and cannot find the key box, please call back.',
		transcript_source = 'local', transcript_at = now() WHERE id = $1`, call)
	o := r.mustRun(call)
	if o.status != jobs.StatusDone || o.waiting {
		t.Fatalf("job %s waiting=%v", o.status, o.waiting)
	}
	notes := r.notes()
	if len(notes) != 1 {
		t.Fatalf("notes = %d, want 1", len(notes))
	}
	contains(t, notes[0].Content, "URGENT: Voicemail from Jordan Avery", "out of opening hours",
		"They left a voicemail: https://assets.aircall.io/calls/1843391455/voicemail",
		"Transcript of the voicemail:\nHi, we land at noon and cannot find the key box")
	if _, noted, _ := r.urgentRow(call); strings.Join(noted, ",") != "call,voicemail,transcript" {
		t.Errorf("noted = %v", noted)
	}
}

// call.ended and then call.voicemail_left (seconds later) land in the one
// held-back job: one note with the voicemail. Our own transcription comes
// minutes later: the job waits for it (without spending attempts), then
// adds it as a second note, once.
func TestVoicemailTranscriptFollowsAsSecondNote(t *testing.T) {
	r := newRig(t)
	r.stay("res-vmfo-0009", guestID, 0, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.ended", call, guestPhone))
	r.now = r.now.Add(4 * time.Second)
	r.deliver(r.callEvent("call.voicemail_left", call, guestPhone))
	if n := dbtest.Count(t, r.db.Pool, "jobs", "kind = 'urgent-call'"); n != 1 {
		t.Fatalf("urgent-call jobs = %d, want the one held back", n)
	}
	if n := dbtest.Count(t, r.db.Pool, "jobs", "kind = 'transcribe-call' AND status = 'pending'"); n != 1 {
		t.Fatalf("transcribe-call jobs = %d", n)
	}
	o := r.mustRun(call)
	if !o.waiting || o.status != jobs.StatusRetrying {
		t.Fatalf("first run: waiting=%v status=%s err=%v, want a wait for the transcript", o.waiting, o.status, o.err)
	}
	notes := r.notes()
	if len(notes) != 1 {
		t.Fatalf("notes = %d, want 1", len(notes))
	}
	contains(t, notes[0].Content, "URGENT: Voicemail", "They left a voicemail:")
	if strings.Contains(notes[0].Content, "Transcript") {
		t.Errorf("first note has a transcript")
	}
	if status, _, _ := r.urgentRow(call); status != "posted" {
		t.Errorf("row status while waiting = %s, want posted (the team has it)", status)
	}
	// Still no transcript: another wait, nothing posted.
	if o := r.mustRun(call); !o.waiting || len(r.notes()) != 1 {
		t.Fatalf("second run: waiting=%v notes=%d", o.waiting, len(r.notes()))
	}
	// stt stores the transcript (and ends its job).
	r.exec(`UPDATE calls SET transcript = 'Guest: the gate code does not work.', transcript_source = 'local', transcript_at = now() WHERE id = $1`, call)
	r.exec(`UPDATE jobs SET status = 'done', done_at = now() WHERE kind = 'transcribe-call'`)
	o = r.mustRun(call)
	if o.waiting || o.status != jobs.StatusDone {
		t.Fatalf("third run: waiting=%v status=%s", o.waiting, o.status)
	}
	notes = r.notes()
	if len(notes) != 2 || notes[1].ConversationID != notes[0].ConversationID {
		t.Fatalf("notes = %+v", notes)
	}
	contains(t, notes[1].Content, "URGENT (follow-up): Transcript of the voicemail:\nGuest: the gate code does not work.", "(transcript)")
	// A later event of the call (a comment, a tag) queues the job again:
	// nothing is posted twice.
	r.exec(`INSERT INTO jobs (kind, function, subject) VALUES ($1, $2, $3)`, jobs.UrgentCall.Name, jobs.UrgentCall.Function, jobs.CallSubject(call))
	if o := r.mustRun(call); o.status != jobs.StatusDone || len(r.notes()) != 2 || len(o.res.Posted) != 0 {
		t.Errorf("replayed job posted again: %+v, notes %d", o.res, len(r.notes()))
	}
}

// A transcription that failed, or a call too old, is not waited for.
func TestTranscriptWaitEnds(t *testing.T) {
	r := newRig(t)
	r.stay("res-vmfl-0010", guestID, 0, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.voicemail_left", call, guestPhone))
	r.exec(`UPDATE calls SET transcript_error = 'audio too short' WHERE id = $1`, call)
	if o := r.mustRun(call); o.waiting || o.status != jobs.StatusDone {
		t.Errorf("waiting=%v status=%s, want done", o.waiting, o.status)
	}
}

// The guest's open conversation (one the bot proved is theirs) gets the
// note and the priority; nothing is opened. One Chatwoot resolved since
// the bot saw it open is not reused.
func TestGuestsOpenConversationIsReused(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  string // in Chatwoot
		version string
		reused  bool
	}{
		{"open", "open", "", true},
		{"resolved since", "resolved", "", false},
		// 4.13 keeps the bot from reading a conversation: the status the
		// bot saw stands.
		{"4.13 bot may not read it", "open", "4.13.0", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			if c.version != "" {
				r.fake.SetVersion(c.version)
			}
			r.stay("res-reus-0011", guestID, 0, "confirmed")
			r.fake.AddConversation(chatwoottest.Conversation{AccountID: acct, ID: 1287, InboxID: contactInbox, ContactID: 57, Status: c.status})
			r.exec(`INSERT INTO conversations (account_id, id, inbox_id, contact_id, guest_id, verified_by, status)
				VALUES ($1, 1287, $2, 57, $3, 'channel', 'open')`, acct, contactInbox, guestID)
			// A conversation only claimed for the guest is never used.
			r.fake.AddConversation(chatwoottest.Conversation{AccountID: acct, ID: 1300, InboxID: contactInbox, ContactID: 58, Status: "open"})
			r.exec(`INSERT INTO conversations (account_id, id, inbox_id, contact_id, claimed_guest_id, status, updated_at)
				VALUES ($1, 1300, $2, 58, $3, 'open', now() + interval '1 minute')`, acct, contactInbox, guestID)
			call := r.newCall()
			r.deliver(r.callEvent("call.ended", call, guestPhone))
			o := r.mustRun(call)
			if o.status != jobs.StatusDone {
				t.Fatalf("job %s: %v", o.status, o.err)
			}
			notes := r.notes()
			if len(notes) != 1 {
				t.Fatalf("notes = %d", len(notes))
			}
			if c.reused {
				if notes[0].ConversationID != 1287 || r.fake.CreatedConversations() != 0 || o.res.Opened {
					t.Fatalf("note in %d, created %d", notes[0].ConversationID, r.fake.CreatedConversations())
				}
				if p := r.fake.Priority(acct, 1287); p != "urgent" {
					t.Errorf("priority = %q", p)
				}
				if n := len(r.fake.StatusChanges()); n != 0 {
					t.Errorf("status changes = %d, want none on the guest's open conversation", n)
				}
				return
			}
			if notes[0].ConversationID == 1287 || notes[0].ConversationID == 1300 || r.fake.CreatedConversations() != 1 {
				t.Fatalf("note in %d, created %d", notes[0].ConversationID, r.fake.CreatedConversations())
			}
		})
	}
}

// An attempt after one whose outcome is unknown (it claimed, Chatwoot may
// have done it, nobody recorded it) finds what it did: the conversation by
// its custom attribute, a note by its reference. Nothing twice.
func TestUnknownOutcomeIsReconciled(t *testing.T) {
	t.Run("conversation opened", func(t *testing.T) {
		r := newRig(t)
		r.stay("res-unko-0012", guestID, 0, "confirmed")
		call := r.newCall()
		r.deliver(r.callEvent("call.ended", call, guestPhone))
		// The first attempt: claimed and created, then its answer was lost.
		o := r.firstAttemptLost(call, func() {
			contact := contactOf(t, r)
			chat, _ := chatwoot.New(chatwoot.Options{BaseURL: r.fake.URL, AccountID: acct, Token: r.fake.BotToken})
			_, err := chat.CreateConversation(context.Background(), chatwoot.NewConversation{ContactID: contact, InboxID: urgentInbox,
				CustomAttributes: map[string]any{"aircall_call_id": strconv.FormatInt(call, 10)},
				Message:          &chatwoot.NewMessage{Content: "URGENT …\n\nRef: Aircall call " + strconv.FormatInt(call, 10) + " (call)", Private: true}})
			if err != nil {
				t.Fatal(err)
			}
		})
		if o.status != jobs.StatusDone || r.fake.CreatedConversations() != 1 || len(r.notes()) != 1 {
			t.Fatalf("status %s, conversations %d, notes %d", o.status, r.fake.CreatedConversations(), len(r.notes()))
		}
		if p := r.fake.Priority(acct, r.notes()[0].ConversationID); p != "urgent" {
			t.Errorf("priority = %q", p)
		}
	})
	t.Run("note in the open conversation", func(t *testing.T) {
		r := newRig(t)
		r.stay("res-unkn-0013", guestID, 0, "confirmed")
		r.fake.AddConversation(chatwoottest.Conversation{AccountID: acct, ID: 1287, InboxID: contactInbox, ContactID: 57, Status: "open"})
		r.exec(`INSERT INTO conversations (account_id, id, guest_id, verified_by, status) VALUES ($1, 1287, $2, 'channel', 'open')`, acct, guestID)
		call := r.newCall()
		r.deliver(r.callEvent("call.ended", call, guestPhone))
		o := r.firstAttemptLost(call, func() {
			r.exec(`UPDATE urgent_calls SET conversation_id = 1287 WHERE call_id = $1`, call)
			r.fake.AddMessage(chatwoottest.Message{AccountID: acct, ConversationID: 1287, MessageType: "outgoing", Private: true,
				SenderKind: chatwoottest.Bot, Posted: true, Content: "URGENT …\n\nRef: Aircall call " + strconv.FormatInt(call, 10) + " (call)"})
		})
		if o.status != jobs.StatusDone || len(r.notes()) != 1 || r.fake.CreatedConversations() != 0 {
			t.Fatalf("status %s, notes %d, created %d", o.status, len(r.notes()), r.fake.CreatedConversations())
		}
	})
}

// firstAttemptLost records the urgent call with a claim by a job that
// died (stale), lets did play what that attempt did at Chatwoot, and runs
// the next attempt.
func (r *rig) firstAttemptLost(call int64, did func()) outcome {
	r.t.Helper()
	// Let a first attempt record the row and the contact, then fail before
	// it reaches Chatwoot's conversation endpoints.
	r.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/conversations", Status: 503, Times: 10})
	r.fake.Fail(chatwoottest.Failure{Method: "GET", Path: "/conversations/", Status: 503, Times: 10})
	if o := r.mustRunAllowingErrors(call); o.err == nil {
		r.t.Fatalf("first attempt did not fail")
	}
	r.fake.ClearFailures()
	r.fake.Reset()
	did()
	r.exec(`UPDATE urgent_calls SET post_claim = 'dead-job', post_part = 'call', post_started_at = now() - interval '10 minutes' WHERE call_id = $1`, call)
	return r.mustRun(call)
}

func (r *rig) mustRunAllowingErrors(call int64) outcome {
	r.t.Helper()
	o, ok := r.run(call)
	if !ok {
		r.t.Fatalf("no urgent-call job for call %d", call)
	}
	return o
}

// A rate limit keeps the note for later: the job retries no sooner than
// Chatwoot's Retry-After, and then posts once.
func TestRateLimitRetriesAfterRetryAfter(t *testing.T) {
	r := newRig(t)
	r.stay("res-rate-0014", guestID, 0, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.ended", call, guestPhone))
	r.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/conversations", Status: http.StatusTooManyRequests, RetryAfter: "120"})
	o := r.mustRunAllowingErrors(call)
	if o.status != jobs.StatusRetrying || fault.KindOf(o.err) != fault.Unavailable || fault.RetryAfter(o.err) != 120*time.Second {
		t.Fatalf("status %s, err %v (retry after %s)", o.status, o.err, fault.RetryAfter(o.err))
	}
	var wait float64
	if err := r.db.Pool.QueryRow(context.Background(), `SELECT extract(epoch FROM next_attempt_at - now()) FROM jobs WHERE kind = 'urgent-call'`).Scan(&wait); err != nil {
		t.Fatal(err)
	}
	if wait < 115 || wait > 121 {
		t.Errorf("next attempt in %.0f s, want Retry-After's 120", wait)
	}
	if len(r.notes()) != 0 || r.fake.CreatedConversations() != 0 {
		t.Fatalf("something was posted during the rate limit")
	}
	// The claim was released (Chatwoot refused, nothing is unknown): the
	// retry opens the conversation without looking for one.
	o = r.mustRun(call)
	if o.status != jobs.StatusDone || len(r.notes()) != 1 || r.fake.CreatedConversations() != 1 {
		t.Fatalf("after the wait: status %s, notes %d, conversations %d", o.status, len(r.notes()), r.fake.CreatedConversations())
	}
	if n := r.fake.RequestCount(http.MethodGet, "/conversations"); n != 0 {
		t.Errorf("looked for an earlier conversation %d times after a refusal", n)
	}
}

// The last attempt leaves the urgent call failed, with its error, and the
// job failed for `concierge replay`; a replay posts it.
func TestLastAttemptFailsVisibly(t *testing.T) {
	r := newRig(t)
	r.stay("res-fail-0015", guestID, 0, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.ended", call, guestPhone))
	r.exec(`UPDATE jobs SET attempts = $1 - 1 WHERE kind = 'urgent-call'`, jobs.UrgentCall.Policy.MaxAttempts)
	r.fake.Fail(chatwoottest.Failure{Method: "POST", Path: "/conversations", Status: http.StatusTooManyRequests, RetryAfter: "120"})
	o := r.mustRunAllowingErrors(call)
	if o.status != jobs.StatusFailed {
		t.Fatalf("job status %s", o.status)
	}
	var status, lastError string
	if err := r.db.Pool.QueryRow(context.Background(), "SELECT status, last_error FROM urgent_calls WHERE call_id = $1", call).Scan(&status, &lastError); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(lastError, "429") {
		t.Errorf("row %s %q", status, lastError)
	}
	if c, _ := urgentcall.Count(context.Background(), r.db.Pool, r.now.Add(-time.Hour), r.now.Add(time.Hour)); c.Failed != 1 {
		t.Errorf("Count = %+v", c)
	}
	r.exec(`UPDATE jobs SET status = 'pending', attempts = 0 WHERE kind = 'urgent-call'`)
	if o := r.mustRun(call); o.status != jobs.StatusDone || len(r.notes()) != 1 {
		t.Fatalf("replay: %s, notes %d", o.status, len(r.notes()))
	}
}

// Without Chatwoot (make run) the urgent call is recorded for the console
// and nothing else happens.
func TestWithoutChatwootRecordsOnly(t *testing.T) {
	r := newRig(t)
	r.n.Chat, r.n.People = nil, nil
	r.stay("res-locl-0016", guestID, 1, "confirmed")
	call := r.newCall()
	r.deliver(r.callEvent("call.ended", call, guestPhone))
	if o := r.mustRun(call); o.res.Outcome != urgentcall.OutcomeLocal || o.status != jobs.StatusDone {
		t.Fatalf("result %+v status %s", o.res, o.status)
	}
	if c, _ := urgentcall.Count(context.Background(), r.db.Pool, r.now.Add(-time.Hour), r.now.Add(time.Hour)); c != (urgentcall.Counts{Calls: 1, Local: 1}) {
		t.Errorf("Count = %+v", c)
	}
}
