package seed_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/bot"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/indexer"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/lang"
	"github.com/harborstays/concierge/lib/seed"
)

// What each sample guest is told about the Wi-Fi, through the bot's own
// intake and answer job, with the clock at several hours of the listings'
// days: Casey, arriving today at 4 PM, has it in the morning already (the
// window opens 24 h before check-in) and in the evening; Jordan, mid-stay,
// has it; Sam, a week ahead, is told from when; Dana, gone three days, that
// the stay has ended. Nobody hears the other home's.
func TestSampleGuestsWiFiThroughTheDay(t *testing.T) {
	denver, err := time.LoadLocation("America/Denver")
	if err != nil {
		t.Fatal(err)
	}
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	harbor := fixtures.ListingSecrets("guesty/listing.updated.json")
	cedar := fixtures.ListingSecrets("local/guesty.listing.second.json")
	later, _, _ := strings.Cut(lang.SecretsFrom.In("en"), "%s")
	ended := lang.SecretsEnded.In("en")
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"Denver just after midnight", time.Date(2026, 3, 2, 0, 5, 0, 0, denver)},
		{"Denver morning, before Casey's check-in hour", time.Date(2026, 3, 2, 9, 0, 0, 0, denver)},
		{"Denver evening, after Casey's check-in hour", time.Date(2026, 3, 2, 20, 0, 0, 0, denver)},
		{"LA just before midnight", time.Date(2026, 7, 9, 23, 55, 0, 0, la)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.New(t)
			if err := seed.LoadLive(ctx, d.Pool, &fntest.Recorder{}, tc.now, seed.Sample()...); err != nil {
				t.Fatal(err)
			}
			knowledge := fntest.Knowledge(t)
			x, err := indexer.FromConfig(ctx, config.New(config.FromMap(map[string]string{"KNOWLEDGE_DIR": knowledge})), d.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x.Reindex(ctx); err != nil {
				t.Fatal(err)
			}
			cfg := config.New(config.FromMap(map[string]string{"CHATWOOT_SIGNATURE": "off", "BOT_BURST_WINDOW": "0s",
				"KNOWLEDGE_DIR": knowledge, "SECRETS_DIR": t.TempDir()}))
			b, err := bot.FromConfig(ctx, cfg, d.Pool, &fntest.Recorder{}, func() time.Time { return tc.now })
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []struct {
				guest       string
				own, others []string
				refusal     string // "" when the Wi-Fi is shared
			}{
				{"casey", cedar, harbor, ""},
				{"jordan", harbor, cedar, ""},
				{"sam", cedar, harbor, later},
				{"dana", harbor, cedar, ended},
			} {
				g, ok := seed.FindGuest(want.guest)
				if !ok {
					t.Fatalf("no sample guest %s", want.guest)
				}
				id := int64(9100 + i)
				body, err := seed.MessageEvent(g, id, id, tc.now, "What is the wifi password?")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.Intake.Receive(ctx, http.Header{"Content-Type": {"application/json"}}, body); err != nil {
					t.Fatalf("intake: %v", err)
				}
				var job string
				if err := d.Pool.QueryRow(ctx, "SELECT id::text FROM jobs WHERE kind = $1 AND subject = $2", jobs.Answer.Name,
					jobs.ConversationSubject(seed.Account, id)).Scan(&job); err != nil {
					t.Fatalf("%s's answer job: %v", g.Name, err)
				}
				c, err := jobs.StartKind(ctx, d.Pool, job, jobs.Answer.Name, jobs.Answer.Policy)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.Answerer.Run(ctx, c); err != nil {
					t.Fatalf("%s's answer: %v", g.Name, err)
				}
				var mode, text string
				if err := d.Pool.QueryRow(ctx, "SELECT mode, content FROM replies WHERE account_id = $1 AND inbound_message_id = $2",
					seed.Account, id).Scan(&mode, &text); err != nil {
					t.Fatalf("%s's reply: %v", g.Name, err)
				}
				switch {
				case mode != "auto":
					t.Errorf("%s: %s, want an answer:\n%s", g.Name, mode, text)
				case hasAny(text, want.others):
					t.Errorf("%s heard the other home's secrets:\n%s", g.Name, text)
				case want.refusal == "" && !hasAll(text, want.own):
					t.Errorf("%s's window is open at %s, but the reply lacks %q:\n%s", g.Name, tc.now, want.own, text)
				case want.refusal != "" && hasAny(text, want.own):
					t.Errorf("%s's window is closed at %s, but the reply shares a secret:\n%s", g.Name, tc.now, text)
				case want.refusal != "" && !strings.HasPrefix(text, want.refusal):
					t.Errorf("%s at %s was told %q, want the reply that starts %q", g.Name, tc.now, text, want.refusal)
				}
			}
		})
	}
}

func hasAll(s string, vs []string) bool {
	for _, v := range vs {
		if !strings.Contains(s, v) {
			return false
		}
	}
	return true
}

func hasAny(s string, vs []string) bool {
	for _, v := range vs {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}
