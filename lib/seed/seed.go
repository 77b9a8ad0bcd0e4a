// Package seed loads the contract fixtures through the same intake code as
// the webhooks (without signatures), for tests, benchmarks and the local
// runner's first start.
package seed

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/aircall"
	"github.com/harborstays/concierge/lib/fixtures"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/webhook"
)

// Jordan's stay, as the contract fixtures tell it.
var Jordan = []string{
	"guesty/listing.updated.json", "guesty/reservation.new.json", "guesty/reservation.updated.json",
	"aircall/call.created.json", "aircall/call.ended.json", "aircall/call.voicemail_left.json",
}

// Sam is a second guest at another listing, for isolation tests.
var Sam = []string{"local/guesty.listing.second.json", "local/guesty.reservation.second.json"}

// Load stores the named fixtures (see fixtures.List) through the hooks'
// intake path; inv receives the jobs they queue.
func Load(ctx context.Context, db *pgxpool.Pool, inv jobs.Invoker, names ...string) error {
	store := &webhook.Store{DB: db, Invoker: inv}
	ac, err := aircall.NewHook(store, []string{fixtures.AircallToken}, "US")
	if err != nil {
		return err
	}
	gh := &guesty.Hook{Store: store, Region: "US"}
	for i, name := range names {
		body := fixtures.Read(name)
		base := path.Base(name)
		switch {
		case strings.HasPrefix(name, "aircall/") || strings.HasPrefix(base, "aircall."):
			_, err = ac.Receive(ctx, body)
		case strings.HasPrefix(name, "guesty/") || strings.HasPrefix(base, "guesty."):
			h := http.Header{}
			h.Set("svix-id", fmt.Sprintf("seed-%s-%d", base, i))
			_, err = gh.Receive(ctx, h, body)
		default:
			err = fmt.Errorf("no intake for fixture %s", name)
		}
		if err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	return nil
}
