package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/guests"
	"github.com/harborstays/concierge/lib/logging"
)

// Windows the overview offers, in days (today included).
var windows = []int{7, 30}

// maxWindow is the longest window: the days the rollup keeps computing.
const maxWindow = 30

// A day is rolled up daySettle after it ended, counted again from the
// messages (so a reply decided before midnight and posted after it counts
// with its day); an hour of the current day hourSettle after it ended.
// Only the time since the last rolled hour is counted from the messages
// on each view.
const (
	daySettle  = time.Hour
	hourSettle = 15 * time.Minute
)

// rollLock serialises rollups across replicas ("console-r" in ASCII).
const rollLock int64 = 0x636f6e736f6c652d

// Latency histogram: bucket 0 is under a second, bucket b ≥ 1 holds
// [latencyBase^(b-1), latencyBase^b) seconds, the last everything above.
// A percentile read from it is the bucket's geometric middle: within
// about 6 % of the exact value, whatever the volume.
const (
	latencyBase    = 1.12
	latencyBuckets = 96
)

// latencyBucketSQL is latencyBucket in SQL over the seconds s.
var latencyBucketSQL = fmt.Sprintf(`CASE WHEN %%[1]s < 1 THEN 0 ELSE least(%d, 1 + floor(ln(%%[1]s) / ln(%g)))::int END`, latencyBuckets-1, latencyBase)

// latencyBucket is the bucket of secs.
func latencyBucket(secs float64) int {
	if secs < 1 {
		return 0
	}
	return min(latencyBuckets-1, 1+int(math.Floor(math.Log(secs)/math.Log(latencyBase))))
}

// bucketValue is what a bucket stands for: its geometric middle.
func bucketValue(b int) time.Duration {
	if b <= 0 {
		return 500 * time.Millisecond
	}
	return time.Duration(math.Pow(latencyBase, float64(b)-0.5) * float64(time.Second))
}

// Hand-off reasons are grouped into classes before they are counted: the
// policy's own reasons as they are, a restricted topic by its name, and
// the model's free text (which may retell what the guest said) as one
// class, so no guest's words reach the rollup.
const (
	ClassOther    = "the model's own reason"
	ClassNoReason = "no reason recorded"
)

// reasonPrefixes map the start of a stored reason to its class.
var reasonPrefixes = []struct{ prefix, class string }{
	{answer.ReasonPerson, answer.ReasonPerson},
	{answer.ReasonNothing, answer.ReasonNothing},
	{answer.ReasonNotInData, answer.ReasonNotInData},
	{answer.ReasonError, answer.ReasonError},
	{answer.ReasonBadOutput, answer.ReasonBadOutput},
	{answer.ReasonMisconfigured, answer.ReasonMisconfigured},
	// lib/bot's identity checks and voice messages.
	{"the contact could not prove who they are", "the contact could not prove who they are"},
	{"identity checks are paused", "identity checks are paused"},
	{"the guest's voice message could not be transcribed", "the guest's voice message could not be transcribed"},
	{"identity check failed", "identity check failed"},
}

// topicPrefix starts a restricted topic's reason; the topic's name (from
// HANDOFF_TOPICS) is kept.
const topicPrefix = "restricted topic: "

// GapReasons are the hand-offs that say the data holds no answer: the
// knowledge gaps.
var GapReasons = []string{answer.ReasonNothing, answer.ReasonNotInData}

// ReasonClass is the class of a stored hand-off reason (reasonClassSQL in Go).
func ReasonClass(reason string) string {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return ClassNoReason
	}
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(reason, p.prefix) {
			return p.class
		}
	}
	if strings.HasPrefix(reason, topicPrefix) {
		return truncateRunes(reason, 80)
	}
	return ClassOther
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return sqlString(r.Replace(s) + "%")
}

// reasonClassSQL is ReasonClass over the column col.
func reasonClassSQL(col string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CASE WHEN btrim(COALESCE(%s, '')) = '' THEN %s", col, sqlString(ClassNoReason))
	for _, p := range reasonPrefixes {
		fmt.Fprintf(&b, " WHEN btrim(%s) LIKE %s THEN %s", col, likePrefix(p.prefix), sqlString(p.class))
	}
	fmt.Fprintf(&b, " WHEN btrim(%s) LIKE %s THEN left(btrim(%s), 80) ELSE %s END", col, likePrefix(topicPrefix), col, sqlString(ClassOther))
	return b.String()
}

// Dimensions of a console_periods row: the whole period, one inbox, one
// listing. Every guest message and reply counts once in each.
const (
	dimAll     = "all"
	dimInbox   = "inbox"
	dimListing = "listing"
)

// rangeSQL is the WITH list that counts the messages and replies written
// in [$1, $2), per period of $3 ('day' or 'hour', UTC): periods holds
// console_periods rows (one for the period, one per inbox, one per
// listing) and latencies console_period_latency rows. The rollup stores
// them; the overview counts the time not rolled up yet with it, so both
// count the same way.
//
// A conversation's listing on a day is its proven guest's stay nearest
// that day (an active one first), chosen for all the day's messages at
// once (DISTINCT ON over a join rather than a lookup per message).
var rangeSQL = `
	m AS (
		SELECT account_id, conversation_id, date_trunc($3, created_at, 'UTC') AS day,
			count(*) AS guest_messages,
			count(*) FILTER (WHERE attachments @> '[{"file_type": "audio"}]') AS voice_messages
		FROM messages
		WHERE created_at >= $1 AND created_at < $2 AND message_type = 'incoming' AND NOT private
		GROUP BY 1, 2, 3
	), r AS (
		SELECT account_id, conversation_id, day, mode, posted, language, reason,
			CASE WHEN mode = 'auto' AND posted AND posted_at IS NOT NULL AND asked_at IS NOT NULL
				THEN ` + fmt.Sprintf(latencyBucketSQL, "greatest(EXTRACT(EPOCH FROM posted_at - asked_at), 0)") + ` END AS bucket
		FROM (
			SELECT r.account_id, r.conversation_id, date_trunc($3, r.created_at, 'UTC') AS day, r.posted_at,
				r.mode, r.status = 'posted' AS posted, COALESCE(NULLIF(r.language, ''), 'unknown') AS language,
				CASE WHEN r.mode = 'handoff' THEN ` + reasonClassSQL("r.handoff_reason") + ` END AS reason,
				-- A subquery, not a join: one primary-key lookup per reply,
				-- never a scan of the messages.
				(SELECT q.created_at FROM messages q WHERE q.account_id = r.account_id AND q.id = r.inbound_message_id) AS asked_at
			FROM replies r
			WHERE r.created_at >= $1 AND r.created_at < $2) r
	), k AS (
		SELECT account_id, conversation_id, day FROM m
		UNION SELECT account_id, conversation_id, day FROM r
	), p AS (
		SELECT DISTINCT ON (k.account_id, k.conversation_id, k.day)
			k.account_id, k.conversation_id, k.day, COALESCE(c.inbox_id, 0) AS inbox_id, COALESCE(x.listing_id, '') AS listing_id
		FROM k
		LEFT JOIN conversations c ON c.account_id = k.account_id AND c.id = k.conversation_id
		LEFT JOIN reservations x ON x.guest_id = c.guest_id AND x.listing_id IS NOT NULL
		ORDER BY k.account_id, k.conversation_id, k.day,
			COALESCE(x.status, '') IN ` + guests.InactiveSQL + `, abs(x.check_in_local - (k.day AT TIME ZONE 'UTC')::date) NULLS LAST, x.id
	), mb AS (
		-- Counted per day, inbox and listing first: a few hundred rows a
		-- day, whatever the messages; then each row counts in its three
		-- dimensions.
		SELECT p.day, p.inbox_id, p.listing_id, sum(m.guest_messages) AS gm, sum(m.voice_messages) AS vm
		FROM m JOIN p USING (account_id, conversation_id, day) GROUP BY 1, 2, 3
	), rb AS (
		SELECT p.day, p.inbox_id, p.listing_id,
			count(*) FILTER (WHERE r.mode = 'auto' AND r.posted) AS auto_replies,
			count(*) FILTER (WHERE r.mode = 'draft') AS drafts,
			count(*) FILTER (WHERE r.mode = 'handoff') AS handoffs
		FROM r JOIN p USING (account_id, conversation_id, day) GROUP BY 1, 2, 3
	), lb AS (
		-- What the maps hold: hand-off reasons, reply languages, latency buckets.
		SELECT p.day, p.inbox_id, p.listing_id, l.kind, l.label, count(*) AS n
		FROM r JOIN p USING (account_id, conversation_id, day)
		CROSS JOIN LATERAL (VALUES ('reason', r.reason), ('language', r.language), ('latency', r.bucket::text)) l(kind, label)
		WHERE l.label IS NOT NULL
		GROUP BY 1, 2, 3, 4, 5
	), c AS (
		SELECT day, inbox_id, listing_id, gm, vm, 0::bigint AS auto_replies, 0::bigint AS drafts, 0::bigint AS handoffs FROM mb
		UNION ALL SELECT day, inbox_id, listing_id, 0, 0, auto_replies, drafts, handoffs FROM rb
	), cd AS (
		SELECT c.day, v.dim, v.key, sum(gm)::bigint AS gm, sum(vm)::bigint AS vm, sum(auto_replies)::bigint AS auto_replies,
			sum(drafts)::bigint AS drafts, sum(handoffs)::bigint AS handoffs
		FROM c CROSS JOIN LATERAL (VALUES ('` + dimAll + `', ''), ('` + dimInbox + `', c.inbox_id::text), ('` + dimListing + `', c.listing_id)) v(dim, key)
		GROUP BY 1, 2, 3
	), lx AS (
		SELECT lb.day, v.dim, v.key, lb.kind, lb.label, sum(lb.n)::bigint AS n
		FROM lb CROSS JOIN LATERAL (VALUES ('` + dimAll + `', ''), ('` + dimInbox + `', lb.inbox_id::text), ('` + dimListing + `', lb.listing_id)) v(dim, key)
		GROUP BY 1, 2, 3, 4, 5
	), lp AS (
		SELECT day, dim, key,
			jsonb_object_agg(label, n) FILTER (WHERE kind = 'reason') AS reasons,
			jsonb_object_agg(label, n) FILTER (WHERE kind = 'language') AS languages
		FROM lx WHERE kind <> 'latency' GROUP BY 1, 2, 3
	), periods AS (
		SELECT cd.day AS period_start, CASE $3 WHEN 'day' THEN 24 ELSE 1 END::smallint AS hours, cd.dim, cd.key,
			cd.gm AS guest_messages, cd.vm AS voice_messages, cd.auto_replies, cd.drafts, cd.handoffs,
			COALESCE(lp.reasons, '{}') AS reasons, COALESCE(lp.languages, '{}') AS languages
		FROM cd LEFT JOIN lp USING (day, dim, key)
	), latencies AS (
		SELECT day AS period_start, dim, key, label::smallint AS bucket, n AS replies FROM lx WHERE kind = 'latency'
	)`

// overviewSQL reads a window: the rolled-up periods in [$4, $1) from
// console_periods and console_period_latency, and the rest [$1, $2)
// counted by rangeSQL, and returns
// every figure the page shows in one round trip. The scope is the row
// ($5, $6): the whole period's, an inbox's or a listing's; the inboxes
// and listings are listed whatever the scope. One row per figure group:
//
//	section  dim/key                 day  label   a..e
//	count    every inbox and listing, and the scope   messages, voice, answered, drafts, hand-offs
//	day      the scope               day          the same per day
//	reason / language (the scope)         label   n
//	latency  the scope, every inbox and listing  bucket  n
var overviewSQL = `
	WITH ` + rangeSQL + `, rows AS MATERIALIZED (
		SELECT (period_start AT TIME ZONE 'UTC')::date AS day, dim, key, guest_messages, voice_messages, auto_replies, drafts, handoffs,
			reasons, languages
		FROM console_periods WHERE period_start >= $4 AND period_start < $1
		UNION ALL
		SELECT (period_start AT TIME ZONE 'UTC')::date, dim, key, guest_messages, voice_messages, auto_replies, drafts, handoffs,
			reasons, languages
		FROM periods
	), lat AS (
		SELECT dim, key, bucket, replies FROM console_period_latency
		WHERE period_start >= $4 AND period_start < $1 AND (dim <> '` + dimAll + `' OR (dim = $5 AND key = $6))
		UNION ALL
		SELECT dim, key, bucket, replies FROM latencies WHERE dim <> '` + dimAll + `' OR (dim = $5 AND key = $6)
	), scoped AS MATERIALIZED (
		SELECT * FROM rows WHERE dim = $5 AND key = $6
	)
	SELECT 'count', dim, key, NULL::date, NULL::text,
		COALESCE(sum(guest_messages), 0)::bigint, COALESCE(sum(voice_messages), 0)::bigint, COALESCE(sum(auto_replies), 0)::bigint,
		COALESCE(sum(drafts), 0)::bigint, COALESCE(sum(handoffs), 0)::bigint
	FROM rows WHERE dim <> '` + dimAll + `' OR (dim = $5 AND key = $6) GROUP BY dim, key
	UNION ALL
	-- An empty scope still has its total (zeros).
	SELECT 'count', $5, $6, NULL, NULL, 0, 0, 0, 0, 0
	UNION ALL
	SELECT 'day', $5, $6, day, NULL,
		COALESCE(sum(guest_messages), 0)::bigint, COALESCE(sum(voice_messages), 0)::bigint, COALESCE(sum(auto_replies), 0)::bigint,
		COALESCE(sum(drafts), 0)::bigint, COALESCE(sum(handoffs), 0)::bigint
	FROM scoped GROUP BY day
	UNION ALL
	SELECT 'reason', $5, $6, NULL, e.key, sum(e.value::bigint)::bigint, 0, 0, 0, 0
	FROM scoped, jsonb_each_text(reasons) e GROUP BY e.key
	UNION ALL
	SELECT 'language', $5, $6, NULL, e.key, sum(e.value::bigint)::bigint, 0, 0, 0, 0
	FROM scoped, jsonb_each_text(languages) e GROUP BY e.key
	UNION ALL
	SELECT 'latency', dim, key, NULL, bucket::text, sum(replies)::bigint, 0, 0, 0, 0
	FROM lat GROUP BY dim, key, bucket`

// Scope narrows the overview to one inbox or one listing.
type Scope struct {
	Inbox   *int64
	Listing *string
}

// row is the console_days row of the scope.
func (s Scope) row() (dim, key string) {
	switch {
	case s.Inbox != nil:
		return dimInbox, strconv.FormatInt(*s.Inbox, 10)
	case s.Listing != nil:
		return dimListing, *s.Listing
	}
	return dimAll, ""
}

// Figures are one scope's counts.
type Figures struct {
	GuestMessages int64
	VoiceMessages int64
	// Answered: replies the assistant posted to the guest.
	Answered int64
	Drafts   int64
	Handoffs int64
	// Timed: the assistant's posted answers; the median and 90th
	// percentile time from the guest's message to the posted answer (zero
	// when none).
	Timed  int64
	Median time.Duration
	P90    time.Duration

	hist map[int]int64
}

// AnsweredShare is Answered as a share of the replies decided.
func (f Figures) AnsweredShare() float64 {
	n := f.Answered + f.Drafts + f.Handoffs
	if n == 0 {
		return 0
	}
	return float64(f.Answered) / float64(n)
}

func (f *Figures) percentiles() {
	var total int64
	var bs []int
	for b, n := range f.hist {
		total += n
		bs = append(bs, b)
	}
	sort.Ints(bs)
	f.Timed = total
	if total == 0 {
		return
	}
	at := func(q float64) time.Duration {
		rank := int64(math.Ceil(q * float64(total)))
		var cum int64
		for _, b := range bs {
			cum += f.hist[b]
			if cum >= rank {
				return bucketValue(b)
			}
		}
		return bucketValue(bs[len(bs)-1])
	}
	f.Median, f.P90 = at(0.5), at(0.9)
}

// Breakdown is one inbox's or listing's figures.
type Breakdown struct {
	Key   string // the inbox id or listing id ("" for none)
	Label string
	Figures
}

// Day is one day's figures.
type Day struct {
	Day time.Time
	Figures
}

// Count is a labelled number.
type Count struct {
	Label string
	N     int64
}

// Urgent counts urgent missed calls (issue 15 part 3): nil when the
// urgent_calls table is not there.
type Urgent struct {
	Calls, Posted, Failed int64
}

// Overview is the page's data.
type Overview struct {
	Days     int
	Scope    Scope
	From     time.Time // first day of the window (UTC midnight)
	Until    time.Time // now
	LiveFrom time.Time // from here on, counted from the messages now
	Total    Figures
	Daily    []Day
	Inboxes  []Breakdown
	Listings []Breakdown
	Reasons  []Count
	Language []Count
	Urgent   *Urgent
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// rollPeriod is a period to roll up: a day (hours 24) or an hour.
type rollPeriod struct {
	start time.Time
	hours int
}

// RollUp stores the periods of the longest window that are over and not
// rolled up yet: each day that ended more than daySettle ago (replacing
// its hours), then each hour since that ended more than hourSettle ago.
// It returns the end of what is rolled up: the overview counts from there
// on from the messages. Work beyond rollBudget, or an error, stops it at
// the first period not rolled up, which it returns, so the page is still
// right, only slower, and the next view goes on.
func RollUp(ctx context.Context, db *pgxpool.Pool, now time.Time) (time.Time, error) {
	first := utcDay(now).AddDate(0, 0, -(maxWindow - 1))
	daysTo := utcDay(now.Add(-daySettle)) // days before it are over an hour ago
	hoursTo := now.Add(-hourSettle).UTC().Truncate(time.Hour)
	if hoursTo.Before(daysTo) {
		hoursTo = daysTo
	}
	var want []rollPeriod
	for d := first; d.Before(daysTo); d = d.AddDate(0, 0, 1) {
		want = append(want, rollPeriod{d, 24})
	}
	for h := daysTo; h.Before(hoursTo); h = h.Add(time.Hour) {
		want = append(want, rollPeriod{h, 1})
	}
	if len(want) == 0 {
		return first, nil
	}
	starts := make([]time.Time, len(want))
	hours := make([]int16, len(want))
	for i, p := range want {
		starts[i], hours[i] = p.start, int16(p.hours)
	}
	missing := func(q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}) ([]rollPeriod, error) {
		rows, err := q.Query(ctx, `SELECT w.start, w.hours FROM unnest($1::timestamptz[], $2::smallint[]) w(start, hours)
			WHERE NOT EXISTS (SELECT 1 FROM console_periods_rolled r WHERE r.period_start = w.start AND r.hours = w.hours)
			ORDER BY 1`, starts, hours)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (rollPeriod, error) {
			var p rollPeriod
			var h int16
			err := r.Scan(&p.start, &h)
			p.hours = int(h)
			return p, err
		})
	}
	todo, err := missing(db)
	if err != nil {
		return first, fmt.Errorf("console rollup: %w", err)
	}
	// Oldest first, a day (or the hours) per transaction, within a budget:
	// after a deploy on a large database the first views roll the month
	// up between them, and count the rest from the messages meanwhile.
	deadline := time.Now().Add(rollBudget)
	for len(todo) > 0 {
		batch := todo[:1]
		if todo[0].hours == 1 {
			batch = todo // the hours of today, together
		}
		if time.Now().After(deadline) {
			return batch[0].start, nil
		}
		if err := rollPeriods(ctx, db, batch); err != nil {
			return batch[0].start, fmt.Errorf("console rollup: %w", err)
		}
		todo = todo[len(batch):]
	}
	return hoursTo, nil
}

// rollBudget bounds the rollup work of one view (the function's timeout
// is 60 s); what is left is counted from the messages and rolled by the
// next view. A variable for the tests.
var rollBudget = 10 * time.Second

// rollPeriods rolls ps up: one day, or hours, under the advisory lock; a
// period another replica rolled meanwhile is left as it is.
func rollPeriods(ctx context.Context, db *pgxpool.Pool, ps []rollPeriod) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", rollLock); err != nil {
			return err
		}
		starts := make([]time.Time, len(ps))
		hours := make([]int16, len(ps))
		for i, p := range ps {
			starts[i], hours[i] = p.start, int16(p.hours)
		}
		rows, err := tx.Query(ctx, `SELECT w.start FROM unnest($1::timestamptz[], $2::smallint[]) w(start, hours)
			WHERE NOT EXISTS (SELECT 1 FROM console_periods_rolled r WHERE r.period_start = w.start AND r.hours = w.hours)
			ORDER BY 1`, starts, hours)
		if err != nil {
			return err
		}
		todo, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil || len(todo) == 0 {
			return err
		}
		unit, size := "hour", time.Hour
		if ps[0].hours == 24 {
			unit, size = "day", 24*time.Hour
		}
		from, until := todo[0], todo[len(todo)-1].Add(size)
		if unit == "day" {
			// A day replaces the hours rolled while it was the current day.
			if _, err := tx.Exec(ctx, `WITH p AS (DELETE FROM console_periods WHERE hours = 1 AND period_start >= $1 AND period_start < $2),
					l AS (DELETE FROM console_period_latency c WHERE c.period_start >= $1 AND c.period_start < $2
						AND EXISTS (SELECT 1 FROM console_periods_rolled r WHERE r.period_start = c.period_start AND r.hours = 1))
				DELETE FROM console_periods_rolled WHERE hours = 1 AND period_start >= $1 AND period_start < $2`, from, until); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `WITH `+rangeSQL+`,
				stored AS (INSERT INTO console_periods SELECT * FROM periods WHERE period_start = ANY($4::timestamptz[]))
			INSERT INTO console_period_latency SELECT * FROM latencies WHERE period_start = ANY($4::timestamptz[])`,
			from, until, unit, todo); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO console_periods_rolled (period_start, hours) SELECT unnest($1::timestamptz[]), $2
			ON CONFLICT (period_start) DO UPDATE SET hours = EXCLUDED.hours, rolled_at = now()`, todo, ps[0].hours)
		return err
	})
}

// OverviewStatement is the one statement that reads a window's figures:
// the periods [from, liveFrom) from the rollup, and [liveFrom, now)
// counted from the messages and replies. ReadOverview runs it; make bench times it
// bare beside the page.
func OverviewStatement(from, liveFrom, now time.Time, scope Scope) (string, []any) {
	dim, key := scope.row()
	return overviewSQL, []any{liveFrom, now, "day", from, dim, key}
}

// ReadOverview reads the window of days ending now, in scope.
func ReadOverview(ctx context.Context, db *pgxpool.Pool, now time.Time, days int, scope Scope) (*Overview, error) {
	o := &Overview{Days: days, Scope: scope, Until: now, From: utcDay(now).AddDate(0, 0, -(days - 1))}
	liveFrom, err := RollUp(ctx, db, now)
	if err != nil {
		// The page still shows, computed from the messages; slower.
		logging.From(ctx).Warn().Err(err).Msg("console rollup failed; computing the window from the messages")
	}
	if liveFrom.Before(o.From) {
		liveFrom = o.From
	}
	o.LiveFrom = liveFrom
	sql, args := OverviewStatement(o.From, liveFrom, now, scope)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read the overview: %w", err)
	}
	inboxes := map[string]*Breakdown{}
	listings := map[string]*Breakdown{}
	dayFig := map[time.Time]*Day{}
	scopeDim, scopeKey := scope.row()
	// get returns the figures of a row: the scope's are the page's total
	// (and, for an inbox or listing, its line too).
	get := func(dim, key string) []*Figures {
		var out []*Figures
		if dim == scopeDim && key == scopeKey {
			out = append(out, &o.Total)
		}
		switch dim {
		case dimInbox:
			if inboxes[key] == nil {
				inboxes[key] = &Breakdown{Key: key}
			}
			out = append(out, &inboxes[key].Figures)
		case dimListing:
			if listings[key] == nil {
				listings[key] = &Breakdown{Key: key}
			}
			out = append(out, &listings[key].Figures)
		}
		return out
	}
	reasons := map[string]int64{}
	langs := map[string]int64{}
	for rows.Next() {
		var section, dim, key string
		var label *string
		var day *time.Time
		var a, b, c, d, e int64
		if err := rows.Scan(&section, &dim, &key, &day, &label, &a, &b, &c, &d, &e); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the overview: %w", err)
		}
		switch section {
		case "count":
			for _, f := range get(dim, key) {
				f.GuestMessages += a
				f.VoiceMessages += b
				f.Answered += c
				f.Drafts += d
				f.Handoffs += e
			}
		case "day":
			k := utcDay(*day)
			dayFig[k] = &Day{Day: k, Figures: Figures{GuestMessages: a, VoiceMessages: b, Answered: c, Drafts: d, Handoffs: e}}
		case "reason":
			reasons[deref(label)] += a
		case "language":
			langs[deref(label)] += a
		case "latency":
			bucket, err := strconv.Atoi(deref(label))
			if err != nil {
				continue
			}
			for _, f := range get(dim, key) {
				if f.hist == nil {
					f.hist = map[int]int64{}
				}
				f.hist[bucket] += a
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the overview: %w", err)
	}
	o.Total.percentiles()
	for d := o.From; !d.After(utcDay(now)); d = d.AddDate(0, 0, 1) {
		if x, ok := dayFig[d]; ok {
			o.Daily = append(o.Daily, *x)
		} else {
			o.Daily = append(o.Daily, Day{Day: d})
		}
	}
	o.Inboxes = breakdowns(inboxes, func(k string) string {
		if k == "0" {
			return "unknown inbox"
		}
		return "inbox " + k
	})
	o.Listings = breakdowns(listings, func(k string) string {
		if k == "" {
			return "no proven guest"
		}
		return k
	})
	if err := labelListings(ctx, db, o.Listings); err != nil {
		return nil, err
	}
	o.Reasons, o.Language = counts(reasons), counts(langs)
	if o.Urgent, err = urgentCalls(ctx, db, o.From, now); err != nil {
		return nil, err
	}
	return o, nil
}

func breakdowns(m map[string]*Breakdown, label func(string) string) []Breakdown {
	out := make([]Breakdown, 0, len(m))
	for _, b := range m {
		b.Label = label(b.Key)
		b.percentiles()
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GuestMessages != out[j].GuestMessages {
			return out[i].GuestMessages > out[j].GuestMessages
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func counts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Label: k, N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Label < out[j].Label
	})
	return out
}

// labelListings names the listings by nickname or title.
func labelListings(ctx context.Context, db *pgxpool.Pool, bs []Breakdown) error {
	ids := make([]string, 0, len(bs))
	for _, b := range bs {
		if b.Key != "" {
			ids = append(ids, b.Key)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	names, err := listingNames(ctx, db, ids)
	if err != nil {
		return err
	}
	for i := range bs {
		if n, ok := names[bs[i].Key]; ok {
			bs[i].Label = n
		}
	}
	return nil
}

func listingNames(ctx context.Context, db *pgxpool.Pool, ids []string) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT id, COALESCE(NULLIF(nickname, ''), NULLIF(title, ''), id) FROM listings WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("listing names: %w", err)
	}
	names := map[string]string{}
	var id, name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { names[id] = name; return nil }); err != nil {
		return nil, fmt.Errorf("listing names: %w", err)
	}
	return names, nil
}

// urgentCalls counts the urgent missed calls of the window; nil when the
// urgent_calls table does not exist (an older schema).
func urgentCalls(ctx context.Context, db *pgxpool.Pool, from, until time.Time) (*Urgent, error) {
	var u Urgent
	err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status IN ('posted', 'local')), count(*) FILTER (WHERE status = 'failed')
		FROM urgent_calls WHERE called_at >= $1 AND called_at < $2`, from, until).Scan(&u.Calls, &u.Posted, &u.Failed)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("urgent calls: %w", err)
	}
	return &u, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
