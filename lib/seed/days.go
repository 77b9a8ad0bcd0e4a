package seed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/jobs"
)

// Exchange is one moment of the sample days: a guest writes (a burst of
// messages, or one voice message), the assistant answers once.
type Exchange struct {
	Guest string        // a Guests key
	Ago   time.Duration // how long before the seed's now the guest wrote
	Texts []string      // typed messages of one burst, answered together
	// Spoken is said in a voice message instead (the local speech
	// engines); without them the exchange is left out.
	Spoken string
}

// Days is the sample's last week, oldest first: questions answered from
// the stays, the listings and the shared knowledge, in two languages; a
// restricted topic and a request for a person handed off with their
// reason; questions nothing in the data answers (the knowledge gaps: two
// about a hair dryer, two about kayaks); the Wi-Fi asked before, during
// and after a stay; and a voice message. Each exchange is answered when the runner seeds and then
// moved back by Ago (see Conversations), so a question whose answer
// depends on the day (the Wi-Fi) is placed where that answer was already
// true: Dana's stay was over, Sam's not begun, Jordan's and Casey's windows
// open (see LiveCheckIn).
var Days = []Exchange{
	{Guest: "dana", Ago: 6*24*time.Hour + 3*time.Hour, Texts: []string{"Where can we park?"}},
	{Guest: "dana", Ago: 5*24*time.Hour + 4*time.Hour, Texts: []string{"Do you have a hairdryer?"}},
	{Guest: "casey", Ago: 4*24*time.Hour + 6*time.Hour, Texts: []string{"Is there a hair dryer?"}},
	{Guest: "sam", Ago: 4*24*time.Hour + 2*time.Hour, Texts: []string{"¿Se admiten perros en la cabaña?"}},
	{Guest: "jordan", Ago: 3*24*time.Hour + 5*time.Hour, Texts: []string{"Hi! We are coming by car.", "Where do we park?"}},
	{Guest: "visitor", Ago: 2*24*time.Hour + 22*time.Hour, Texts: []string{"Is smoking allowed at the cabin?"}},
	{Guest: "jordan", Ago: 2*24*time.Hour + 4*time.Hour, Texts: []string{"Can we check in early, around noon?"}},
	{Guest: "dana", Ago: 24*time.Hour + 23*time.Hour, Texts: []string{"What is the wifi password?"}},
	{Guest: "sam", Ago: 24*time.Hour + 6*time.Hour, Texts: []string{"What is the wifi password?"}},
	{Guest: "jordan", Ago: 24*time.Hour + 2*time.Hour, Texts: []string{"Where can we rent kayaks?"}},
	{Guest: "visitor", Ago: 20 * time.Hour, Texts: []string{"Is there a kayak rental nearby?"}},
	{Guest: "sam", Ago: 10 * time.Hour, Texts: []string{"Can I talk to a person about our booking?"}},
	{Guest: "jordan", Ago: 3 * time.Hour, Texts: []string{"What is the wifi password?"}},
	{Guest: "casey", Ago: 50 * time.Minute, Texts: []string{"Hi! What is the wifi password at the cabin?"}},
	{Guest: "jordan", Ago: 25 * time.Minute, Spoken: "What time is check out?"},
}

// Chatwoot ids of the sample conversations: conversation ConversationBase+i
// holds Days[i], its messages MessageBase+10i onwards. Far above the ids
// of a real account, so a local database later pointed at a Chatwoot never
// takes one of its conversations for a sample guest's; the runner's
// /dev/ask uses ids from the clock, higher still.
const (
	Account          = 1
	ConversationBase = 41_000_000_000_000
	MessageBase      = 42_000_000_000_000
)

// Talk is what Conversations needs of the running system.
type Talk struct {
	// Deliver sends one agent-bot event to llm-query as Chatwoot does
	// (signed), and fails unless it was stored.
	Deliver func(ctx context.Context, body []byte) error
	DB      *pgxpool.Pool
	// Speak returns text spoken as an OGG/Opus clip; nil, or an error,
	// leaves the voice exchanges out.
	Speak func(ctx context.Context, text string) ([]byte, error)
	// Wait bounds the wait for the replies (default a minute).
	Wait time.Duration
}

// Seeded is what Conversations did.
type Seeded struct {
	Conversations int
	Messages      int
	Replies       int      // decided and posted, dropped or failed
	Unfinished    int      // conversations left without a posted reply (within Wait)
	Left          []string // exchanges left out, and why
}

// Conversations plays Days through the system as it runs: each exchange
// is a Chatwoot agent-bot event, written ex.Ago before now, delivered to
// llm-query and answered by the answer job, stt, tts and chatwoot-reply
// like any other. Once every reply is decided and posted (or Wait has
// passed), each conversation is moved back by its Ago the way LoadLive
// moves a stay: every date of its rows by the same amount (the events'
// own message times already carry it), so the order of events and the
// time from a guest's message to the reply are what the run measured.
// The rows moved are the conversation, its messages, replies and voice
// clips, its Chatwoot events and the jobs that ran for it.
func Conversations(ctx context.Context, t Talk, now time.Time) (Seeded, error) {
	var out Seeded
	if t.Wait <= 0 {
		t.Wait = time.Minute
	}
	audio := &clips{files: map[string][]byte{}}
	var srv *httptest.Server
	defer func() {
		if srv != nil {
			srv.Close()
		}
	}()
	type sent struct {
		conv, last int64
		ago        time.Duration
	}
	var all []sent
	// Voice messages first: stt starts at once instead of queueing behind
	// the answers that wait for their bursts to settle.
	order := make([]int, 0, len(Days))
	for _, voice := range []bool{true, false} {
		for i, ex := range Days {
			if (ex.Spoken != "") == voice {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		ex := Days[i]
		g, ok := FindGuest(ex.Guest)
		if !ok {
			return out, fmt.Errorf("seed: Days[%d]: no sample guest %q", i, ex.Guest)
		}
		conv, at := int64(ConversationBase+i), now.Add(-ex.Ago)
		var bodies [][]byte
		if ex.Spoken != "" {
			if t.Speak == nil {
				out.Left = append(out.Left, fmt.Sprintf("%s's voice message: no speech engine", g.Name))
				continue
			}
			ogg, err := t.Speak(ctx, ex.Spoken)
			if err != nil {
				out.Left = append(out.Left, fmt.Sprintf("%s's voice message: %v", g.Name, err))
				continue
			}
			if srv == nil {
				srv = httptest.NewServer(audio)
			}
			id := MessageBase + 10*int64(i)
			name := fmt.Sprintf("voice-%d.ogg", id)
			audio.put(name, ogg)
			b, err := VoiceEvent(g, conv, id, at, srv.URL+"/"+name)
			if err != nil {
				return out, err
			}
			bodies = append(bodies, b)
		}
		for j, text := range ex.Texts {
			id := MessageBase + 10*int64(i) + int64(len(bodies))
			b, err := MessageEvent(g, conv, id, at.Add(time.Duration(j)*time.Second), text)
			if err != nil {
				return out, err
			}
			bodies = append(bodies, b)
		}
		for _, b := range bodies {
			if err := t.Deliver(ctx, b); err != nil {
				return out, fmt.Errorf("seed: conversation %d: %w", conv, err)
			}
		}
		out.Conversations++
		out.Messages += len(bodies)
		all = append(all, sent{conv, MessageBase + 10*int64(i) + int64(len(bodies)-1), ex.Ago})
	}
	if len(all) == 0 {
		return out, nil
	}
	convs := make([]int64, len(all))
	lasts := make([]int64, len(all))
	agos := make([]float64, len(all))
	for i, s := range all {
		convs[i], lasts[i], agos[i] = s.conv, s.last, s.ago.Seconds()
	}
	// Until no job of these conversations is active (their jobs are
	// written with the events, and each writes the next before it ends):
	// every reply decided and out of chatwoot-reply's hands, a spoken
	// reply's synthesis and a hand-off's acknowledgement done. An inbox
	// set to off answers nothing, and that ends the wait too.
	deadline := time.Now().Add(t.Wait)
	for {
		var done, active int
		err := t.DB.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM replies r JOIN unnest($1::bigint[], $2::bigint[]) s(conv, last)
					ON r.account_id = $3 AND r.conversation_id = s.conv AND r.inbound_message_id = s.last
					WHERE r.status IN ('posted', 'dropped', 'failed')),
				(SELECT count(*) FROM jobs j WHERE j.status IN `+jobs.ActiveStatuses+` AND j.subject IN (`+subjectsSQL+`))`,
			convs, lasts, Account).Scan(&done, &active)
		if err != nil {
			return out, fmt.Errorf("seed: wait for the replies: %w", err)
		}
		out.Replies, out.Unfinished = done, len(all)-done
		if active == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := backdate(ctx, t.DB, convs, agos); err != nil {
		return out, err
	}
	return out, nil
}

// subjectsSQL lists the job subjects of the conversations $1 of account
// $3: the answer's, each message's (transcribe), each reply's (reply,
// synthesize).
var subjectsSQL = `
	SELECT 'conversation:' || $3::bigint || ':' || c FROM unnest($1::bigint[]) c
	UNION ALL SELECT 'message:' || m.account_id || ':' || m.id FROM messages m WHERE m.account_id = $3 AND m.conversation_id = ANY($1)
	UNION ALL SELECT 'reply:' || r.id FROM replies r WHERE r.account_id = $3 AND r.conversation_id = ANY($1)`

// moved are the tables whose rows backdate moves, and which rows (t the
// row, s.conv the conversation, $3 the account); every timestamptz column
// moves except keep, which came from the event (already dated).
var moved = []struct{ table, where, keep string }{
	{"conversations", "t.account_id = $3 AND t.id = s.conv", ""},
	{"messages", "t.account_id = $3 AND t.conversation_id = s.conv", "created_at"},
	{"replies", "t.account_id = $3 AND t.conversation_id = s.conv", ""},
	{"voice_clips", "t.account_id = $3 AND t.conversation_id = s.conv", ""},
	{"identity_checks", "t.account_id = $3 AND t.conversation_id = s.conv", ""},
	{"webhook_events", "t.source = 'chatwoot' AND t.payload->'conversation'->'id' = to_jsonb(s.conv) AND t.payload->'account'->'id' = to_jsonb($3::bigint)", ""},
}

// backdate moves each conversation's rows back by its seconds, in one
// transaction; jobs only once finished (an active one keeps its schedule).
func backdate(ctx context.Context, db *pgxpool.Pool, convs []int64, secs []float64) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, m := range moved {
			cols, err := timeColumns(ctx, tx, m.table, m.keep)
			if err != nil {
				return err
			}
			set := make([]string, len(cols))
			for i, c := range cols {
				set[i] = fmt.Sprintf("%[1]s = t.%[1]s - make_interval(secs => s.secs)", c)
			}
			q := fmt.Sprintf(`UPDATE %s t SET %s FROM unnest($1::bigint[], $2::float8[]) s(conv, secs) WHERE %s`,
				m.table, strings.Join(set, ", "), m.where)
			if _, err := tx.Exec(ctx, q, convs, secs, int64(Account)); err != nil {
				return fmt.Errorf("seed: backdate %s: %w", m.table, err)
			}
		}
		cols, err := timeColumns(ctx, tx, "jobs", "")
		if err != nil {
			return err
		}
		set := make([]string, len(cols))
		for i, c := range cols {
			set[i] = fmt.Sprintf("%[1]s = j.%[1]s - make_interval(secs => s.secs)", c)
		}
		_, err = tx.Exec(ctx, `WITH c AS (SELECT * FROM unnest($1::bigint[], $2::float8[]) c(conv, secs)),
			s AS (
				SELECT 'conversation:' || $3::bigint || ':' || c.conv AS subject, c.secs FROM c
				UNION ALL SELECT 'message:' || m.account_id || ':' || m.id, c.secs FROM messages m JOIN c ON m.account_id = $3 AND m.conversation_id = c.conv
				UNION ALL SELECT 'reply:' || r.id, c.secs FROM replies r JOIN c ON r.account_id = $3 AND r.conversation_id = c.conv)
			UPDATE jobs j SET `+strings.Join(set, ", ")+` FROM s WHERE j.subject = s.subject AND j.status NOT IN `+jobs.ActiveStatuses,
			convs, secs, int64(Account))
		if err != nil {
			return fmt.Errorf("seed: backdate jobs: %w", err)
		}
		return nil
	})
}

// timeColumns lists table's timestamptz columns but keep.
func timeColumns(ctx context.Context, tx pgx.Tx, table, keep string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT quote_ident(attname) FROM pg_attribute
		WHERE attrelid = $1::regclass AND atttypid = 'timestamptz'::regtype AND attnum > 0 AND NOT attisdropped AND attname <> $2
		ORDER BY attnum`, table, keep)
	if err != nil {
		return nil, fmt.Errorf("seed: columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("seed: columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, errors.New("seed: no dates in " + table)
	}
	return cols, nil
}

// clips serves the spoken questions while stt fetches them, as Chatwoot's
// storage serves a voice message.
type clips struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (c *clips) put(name string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[name] = b
}

func (c *clips) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	b, ok := c.files[strings.TrimPrefix(r.URL.Path, "/")]
	c.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "audio/ogg")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
