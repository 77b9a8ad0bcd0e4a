package replies

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/harborstays/concierge/lib/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// The hand-off alert divides these: every mode is written for both
// windows (zeros included), and a reply counts in a window only when it was
// decided inside it.
func TestRecentRepliesMetric(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	msg := int64(1)
	add := func(mode Mode, age string) {
		t.Helper()
		r := Reply{AccountID: 1, ConversationID: 7, InboundMessageID: msg, Mode: mode, Content: "text", HandoffReason: "asked for a person"}
		msg++
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			if _, err := Insert(ctx, tx, r); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE replies SET created_at = now() - $1::interval WHERE inbound_message_id = $2`, age, r.InboundMessageID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	add(Auto, "1 hour")
	add(Auto, "2 hours")
	add(Handoff, "3 hours")
	add(Auto, "3 days")
	add(Handoff, "6 days")
	add(Draft, "8 days") // outside both windows
	var b strings.Builder
	if err := WritePrometheus(ctx, d.Pool, &b); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"auto,1d": 2, "draft,1d": 0, "handoff,1d": 1,
		"auto,7d": 3, "draft,7d": 0, "handoff,7d": 2,
	}
	for k, n := range want {
		mode, win, _ := strings.Cut(k, ",")
		line := fmt.Sprintf("%s{mode=%q,window=%q} %d\n", MetricRecent, mode, win, n)
		if !strings.Contains(b.String(), line) {
			t.Errorf("missing %q in:\n%s", line, b.String())
		}
	}
	if !strings.Contains(b.String(), "# TYPE "+MetricRecent+" gauge\n") {
		t.Errorf("no TYPE line:\n%s", b.String())
	}
}
