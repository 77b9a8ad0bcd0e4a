package console_test

import (
	"context"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/console"
	"github.com/harborstays/concierge/lib/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// modelReason is a model's free-text hand-off reason that retells what
// the guest said: it must never reach the rollup.
const modelReason = "The guest says her husband Marco is allergic to dogs and asks for a refund"

type reply struct {
	mode, status, lang, reason string
	latency                    time.Duration // to posted_at; 0: not posted
}

type msg struct {
	conv  int64
	ago   time.Duration
	voice bool
	reply *reply
}

// history writes conversations, messages and replies as the bot does:
// conversation 1 (inbox 4) is Jordan's, whose stay is at the Loft;
// conversation 2 (inbox 7) has no proven guest.
func history(t *testing.T, d *dbtest.DB, now time.Time, msgs []msg) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := d.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO guests (id, full_name) VALUES ('g-jordan', 'Jordan Avery')`)
	exec(`INSERT INTO listings (id, title, nickname) VALUES ('l-loft', 'Harbor View Loft', 'LOFT'), ('l-cabin', 'Cedar Cabin', '')`)
	exec(`INSERT INTO reservations (id, guest_id, listing_id, status, check_in, check_out, check_in_local) VALUES
		('r-old', 'g-jordan', 'l-cabin', 'confirmed', $1::timestamptz - interval '200 days', $1::timestamptz - interval '197 days', ($1::timestamptz - interval '200 days')::date),
		('r-now', 'g-jordan', 'l-loft', 'confirmed', $1::timestamptz - interval '2 days', $1::timestamptz + interval '2 days', ($1::timestamptz - interval '2 days')::date)`, now)
	exec(`INSERT INTO conversations (account_id, id, inbox_id, guest_id) VALUES (1, 1, 4, 'g-jordan'), (1, 2, 7, NULL)`)
	for i, m := range msgs {
		id := int64(1000 + i)
		at := now.Add(-m.ago)
		att := "[]"
		content := "question " + string(rune('a'+i))
		if m.voice {
			att, content = `[{"file_type": "audio", "data_url": "https://chatwoot.example.test/a.ogg"}]`, ""
		}
		exec(`INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, content, attachments, created_at)
			VALUES (1, $1, $2, 'incoming', 'contact', $3, $4::jsonb, $5)`, id, m.conv, content, att, at)
		if r := m.reply; r != nil {
			var posted *time.Time
			if r.latency > 0 {
				p := at.Add(r.latency)
				posted = &p
			}
			var reason *string
			if r.reason != "" {
				reason = &r.reason
			}
			exec(`INSERT INTO replies (account_id, conversation_id, inbound_message_id, mode, content, language, handoff_reason, status, created_at, posted_at)
				VALUES (1, $1, $2, $3, 'the reply', $4, $5, $6, $7, $8)`, m.conv, id, r.mode, r.lang, reason, r.status, at.Add(2*time.Second), posted)
		}
	}
	// A private note and the bot's own messages are not guest messages.
	exec(`INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, private, content, created_at) VALUES
		(1, 9001, 1, 'outgoing', 'user', true, 'note', $1), (1, 9002, 1, 'outgoing', 'agent_bot', false, 'hello', $1)`, now.Add(-time.Hour))
}

var overviewMsgs = []msg{
	// today
	{1, time.Hour, false, &reply{"auto", "posted", "en", "", 10 * time.Second}},
	{1, 2 * time.Hour, false, &reply{"auto", "posted", "en", "", 20 * time.Second}},
	{1, 3 * time.Hour, true, &reply{"auto", "posted", "es", "", 40 * time.Second}},
	{2, 4 * time.Hour, false, &reply{"handoff", "posted", "fr", modelReason, 0}},
	// yesterday and before: rolled up
	{1, 30 * time.Hour, false, &reply{"auto", "posted", "en", "", 30 * time.Second}},
	{1, 31 * time.Hour, false, &reply{"draft", "posted", "en", "", 0}},
	{1, 50 * time.Hour, false, &reply{"handoff", "pending", "en", answer.ReasonNothing, 0}},
	{2, 51 * time.Hour, false, &reply{"handoff", "pending", "en", "restricted topic: early check-in or late checkout", 0}},
	{2, 52 * time.Hour, false, &reply{"auto", "dropped", "en", "", 0}}, // a person answered first
	{1, 75 * time.Hour, false, &reply{"auto", "posted", "de", "", 5 * time.Minute}},
	{2, 76 * time.Hour, true, nil},
	// outside the 7 days, inside the 30
	{1, 10 * 24 * time.Hour, false, &reply{"handoff", "pending", "en", answer.ReasonPerson, 0}},
	// outside both
	{1, 40 * 24 * time.Hour, false, &reply{"auto", "posted", "en", "", time.Second}},
}

// The overview counts what the replies and messages say, the same whether
// a day comes from the rollup or from the messages; it keeps no guest's
// words; and the narrower scopes add up.
func TestOverviewCounts(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(14 * time.Hour) // 14:00 UTC today
	history(t, d, now, overviewMsgs)

	check := func(name string) {
		t.Helper()
		o, err := console.ReadOverview(ctx, d.Pool, now, 7, console.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		f := o.Total
		if f.GuestMessages != 11 || f.VoiceMessages != 2 || f.Answered != 5 || f.Drafts != 1 || f.Handoffs != 3 || f.Timed != 5 {
			t.Errorf("%s: totals %+v, want 11 messages, 2 voice, 5 answered, 1 draft, 3 hand-offs, 5 timed", name, f)
		}
		// Exact: 10, 20, 30, 40 s and 5 min: the median is 30 s, the p90
		// 5 min; the histogram reads them within its 6 %.
		near(t, name+" median", f.Median, 30*time.Second)
		near(t, name+" p90", f.P90, 5*time.Minute)
		if len(o.Daily) != 7 || !o.Daily[6].Day.Equal(now.Truncate(24*time.Hour)) || o.Daily[6].GuestMessages != 4 || o.Daily[6].Answered != 3 {
			t.Errorf("%s: daily %+v", name, o.Daily)
		}
		want := map[string]int64{console.ClassOther: 1, answer.ReasonNothing: 1, "restricted topic: early check-in or late checkout": 1}
		if len(o.Reasons) != len(want) {
			t.Errorf("%s: reasons %+v, want %v", name, o.Reasons, want)
		}
		for _, c := range o.Reasons {
			if want[c.Label] != c.N {
				t.Errorf("%s: reason %q counted %d, want %d", name, c.Label, c.N, want[c.Label])
			}
		}
		langs := map[string]int64{}
		for _, c := range o.Language {
			langs[c.Label] = c.N
		}
		if langs["en"] != 7 || langs["es"] != 1 || langs["fr"] != 1 || langs["de"] != 1 {
			t.Errorf("%s: languages %v", name, langs)
		}
		byInbox := map[string]console.Breakdown{}
		for _, b := range o.Inboxes {
			byInbox[b.Key] = b
		}
		if byInbox["4"].GuestMessages != 7 || byInbox["7"].GuestMessages != 4 || byInbox["4"].Answered != 5 || byInbox["7"].Handoffs != 2 {
			t.Errorf("%s: inboxes %+v", name, o.Inboxes)
		}
		byListing := map[string]console.Breakdown{}
		for _, b := range o.Listings {
			byListing[b.Key] = b
		}
		// Jordan's messages go to the stay nearest their day (the Loft),
		// not the cabin of 200 days ago; the stranger's to no listing.
		if l := byListing["l-loft"]; l.GuestMessages != 7 || l.Label != "LOFT" || l.Timed != 5 {
			t.Errorf("%s: the Loft %+v", name, l)
		}
		if l := byListing[""]; l.GuestMessages != 4 || l.Label != "no proven guest" {
			t.Errorf("%s: no listing %+v", name, l)
		}
		if _, ok := byListing["l-cabin"]; ok {
			t.Errorf("%s: the cabin of 200 days ago got messages", name)
		}
		if o.Urgent == nil || o.Urgent.Calls != 0 {
			t.Errorf("%s: urgent %+v", name, o.Urgent)
		}
	}
	check("first read (rolls the past days up)")
	// 14:00: the 29 days before today, and today's hours to 13:00 (the
	// 13:00 hour ends at 14:00, less than 15 minutes ago).
	if n := dbtest.Count(t, d.Pool, "console_periods_rolled", "hours = 24"); n != 29 {
		t.Errorf("rolled days %d, want the 29 before today", n)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods_rolled", "hours = 1 AND period_start >= $1", now.Truncate(24*time.Hour)); n != 13 {
		t.Errorf("rolled hours of today %d, want 13", n)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods", "reasons::text LIKE '%Marco%' OR reasons::text LIKE '%husband%' OR languages::text LIKE '%Marco%'"); n != 0 {
		t.Errorf("the model's reason reached the rollup")
	}
	check("second read (from the rollup)")
	// The rollup is what is read: the messages of rolled periods may go
	// (retention) and the figures stay.
	if _, err := d.Pool.Exec(ctx, `DELETE FROM messages WHERE created_at < $1`, now.Truncate(time.Hour).Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `DELETE FROM replies WHERE created_at < $1`, now.Truncate(time.Hour).Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("after retention deleted the past days' messages")

	// 30 days adds the hand-off of 10 days ago, not the one of 40.
	o, err := console.ReadOverview(ctx, d.Pool, now, 30, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Total.GuestMessages != 12 || o.Total.Handoffs != 4 || len(o.Daily) != 30 {
		t.Errorf("30 days: %+v (%d days)", o.Total, len(o.Daily))
	}
	// Scopes: one inbox, one listing.
	four := int64(4)
	o, err = console.ReadOverview(ctx, d.Pool, now, 7, console.Scope{Inbox: &four})
	if err != nil {
		t.Fatal(err)
	}
	if o.Total.GuestMessages != 7 || o.Total.Handoffs != 1 || len(o.Inboxes) != 2 || len(o.Listings) != 2 {
		t.Errorf("inbox 4: %+v", o.Total)
	}
	none := ""
	o, err = console.ReadOverview(ctx, d.Pool, now, 7, console.Scope{Listing: &none})
	if err != nil {
		t.Fatal(err)
	}
	if o.Total.GuestMessages != 4 || o.Total.Handoffs != 2 || o.Total.Answered != 0 {
		t.Errorf("no listing: %+v", o.Total)
	}
}

// Rolled up or counted from the messages, a window reads the same: the
// same history read with the rollup, and with the rollup refused (every
// day counted from the messages), gives the same figures.
func TestRollupEqualsLive(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(14 * time.Hour)
	live, rolled := dbtest.New(t), dbtest.New(t)
	history(t, live, now, overviewMsgs)
	history(t, rolled, now, overviewMsgs)
	a, err := console.ReadOverview(ctx, rolled.Pool, now, 30, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if a.LiveFrom.Equal(a.From) {
		t.Fatal("the rolled database counted every day from the messages")
	}
	b := readLive(t, live, now)
	if !reflect.DeepEqual(a.Total, b) {
		t.Errorf("rolled %+v\nlive   %+v", a.Total, b)
	}
}

// readLive reads the 30-day totals with the rollup refused (a trigger
// makes console_periods unwritable): ReadOverview falls back to counting
// every day of the window from the messages.
func readLive(t *testing.T, d *dbtest.DB, now time.Time) console.Figures {
	t.Helper()
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no rollup'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON console_periods FOR EACH STATEMENT EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	o, err := console.ReadOverview(ctx, d.Pool, now, 30, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.LiveFrom.Equal(o.From) {
		t.Fatalf("live from %s, want the window's start %s", o.LiveFrom, o.From)
	}
	return o.Total
}

func near(t *testing.T, name string, got, want time.Duration) {
	t.Helper()
	if math.Abs(float64(got-want)) > 0.065*float64(want) {
		t.Errorf("%s: %s, want %s within 6.5 %%", name, got, want)
	}
}

// A day is rolled up an hour after it ended, an hour of today fifteen
// minutes after; a day replaces its hours. At half past midnight
// yesterday is hours, at half past one a day.
func TestRollupSettles(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)
	history(t, d, today.Add(2*time.Hour), []msg{
		{1, 3 * time.Hour, false, &reply{"auto", "posted", "en", "", 10 * time.Second}},    // yesterday 23:00
		{1, 90 * time.Minute, false, &reply{"auto", "posted", "en", "", 10 * time.Second}}, // today 00:30
	})
	next, err := console.RollUp(ctx, d.Pool, today.Add(30*time.Minute))
	if err != nil || !next.Equal(today) {
		t.Fatalf("at 00:30: rolled to %s (%v), want midnight", next, err)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods_rolled", "hours = 24 AND period_start >= $1", yesterday); n != 0 {
		t.Error("yesterday was rolled as a day at 00:30")
	}
	if n := dbtest.Count(t, d.Pool, "console_periods", "hours = 1 AND dim = 'all' AND period_start = $1 AND guest_messages = 1", yesterday.Add(23*time.Hour)); n != 1 {
		t.Error("yesterday's 23:00 hour is not rolled at 00:30")
	}
	next, err = console.RollUp(ctx, d.Pool, today.Add(90*time.Minute))
	if err != nil || !next.Equal(today.Add(time.Hour)) {
		t.Fatalf("at 01:30: rolled to %s (%v), want 01:00", next, err)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods", "period_start >= $1 AND period_start < $2 AND hours = 1", yesterday, today); n != 0 {
		t.Error("yesterday's hours are still there beside its day")
	}
	if n := dbtest.Count(t, d.Pool, "console_period_latency", "period_start > $1 AND period_start < $2", yesterday, today); n != 0 {
		t.Error("yesterday's hourly latencies are still there beside its day's")
	}
	if n := dbtest.Count(t, d.Pool, "console_period_latency", "period_start = $1 AND dim = 'all' AND replies = 1", yesterday); n != 1 {
		t.Error("yesterday's day has no latency")
	}
	if n := dbtest.Count(t, d.Pool, "console_periods", "period_start = $1 AND hours = 24 AND dim = 'all' AND guest_messages = 1 AND auto_replies = 1", yesterday); n != 1 {
		t.Error("yesterday is not one day with its message and answer")
	}
	if n := dbtest.Count(t, d.Pool, "console_periods", "period_start = $1 AND hours = 1 AND dim = 'all' AND guest_messages = 1", today); n != 1 {
		t.Error("today's first hour is not rolled at 01:30")
	}
	o, err := console.ReadOverview(ctx, d.Pool, today.Add(90*time.Minute), 7, console.Scope{})
	if err != nil || o.Total.GuestMessages != 2 || o.Total.Answered != 2 || !o.LiveFrom.Equal(today.Add(time.Hour)) {
		t.Errorf("overview at 01:30: %+v %v", o.Total, err)
	}
}

func TestReasonClasses(t *testing.T) {
	d := dbtest.New(t)
	for _, c := range []struct{ reason, class string }{
		{answer.ReasonPerson, answer.ReasonPerson},
		{answer.ReasonNothing, answer.ReasonNothing},
		{answer.ReasonNotInData, answer.ReasonNotInData},
		{answer.ReasonMisconfigured + ": check LLM_MODEL", answer.ReasonMisconfigured},
		{"restricted topic: emergency", "restricted topic: emergency"},
		{"the contact could not prove who they are (3 failed identity checks)", "the contact could not prove who they are"},
		{"the guest's voice message could not be transcribed (ffmpeg: unsupported)", "the guest's voice message could not be transcribed"},
		{"", console.ClassNoReason},
		{"   ", console.ClassNoReason},
		{modelReason, console.ClassOther},
		{"50% off_please", console.ClassOther},
	} {
		if got := console.ReasonClass(c.reason); got != c.class {
			t.Errorf("ReasonClass(%q) = %q, want %q", c.reason, got, c.class)
		}
		// The SQL the rollup uses agrees.
		var sql string
		if err := d.Pool.QueryRow(context.Background(), `SELECT `+console.ReasonClassSQL("$1::text"), c.reason).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		if sql != c.class {
			t.Errorf("SQL class of %q = %q, want %q", c.reason, sql, c.class)
		}
	}
}

// The Conversations list pages through every reply, newest first, each
// once, by a cursor.
func TestRepliesPage(t *testing.T) {
	d := dbtest.New(t)
	now := time.Now().UTC()
	var msgs []msg
	for i := 0; i < 120; i++ {
		msgs = append(msgs, msg{1 + int64(i%2), time.Duration(i) * time.Minute, false, &reply{"auto", "posted", "en", "", time.Second}})
	}
	history(t, d, now, msgs)
	seen := map[string]bool{}
	var last time.Time
	cursor, pages := "", 0
	for {
		l, err := console.ReadReplies(context.Background(), d.Pool, "", cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range l.Replies {
			if seen[r.ID] {
				t.Fatalf("reply %s listed twice", r.ID)
			}
			if !last.IsZero() && r.At.After(last) {
				t.Fatalf("reply of %s after one of %s", r.At, last)
			}
			seen[r.ID], last = true, r.At
		}
		if l.Next == "" {
			break
		}
		cursor = l.Next
	}
	if len(seen) != 120 || pages != 3 {
		t.Errorf("%d replies in %d pages, want 120 in 3", len(seen), pages)
	}
	if _, err := console.ReadReplies(context.Background(), d.Pool, "", "not-a-cursor"); err == nil {
		t.Error("a malformed cursor was accepted")
	}
}

// A view rolls up only what its budget allows, oldest first, and counts
// the rest from the messages: the figures are the same, and the next view
// goes on.
func TestRollupWithinItsBudget(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(14 * time.Hour)
	history(t, d, now, overviewMsgs)
	restore := console.SetRollBudget(0)
	o, err := console.ReadOverview(ctx, d.Pool, now, 30, console.Scope{})
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods_rolled", ""); n > 1 {
		t.Errorf("a view with no budget rolled %d periods", n)
	}
	full, err := console.ReadOverview(ctx, d.Pool, now, 30, console.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if n := dbtest.Count(t, d.Pool, "console_periods_rolled", ""); n != 29+13 {
		t.Errorf("the next view rolled %d periods, want 29 days and 13 hours", n)
	}
	if !reflect.DeepEqual(o.Total, full.Total) || o.Total.GuestMessages != 12 {
		t.Errorf("without the rollup %+v\nwith it          %+v", o.Total, full.Total)
	}
}
