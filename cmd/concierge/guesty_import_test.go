package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fntest"
	"github.com/harborstays/concierge/lib/guesty"
	"github.com/harborstays/concierge/lib/guesty/guestytest"
	"github.com/harborstays/concierge/lib/webhook"
)

// The command imports the fake account with a progress bar, then says
// what it did; a dry run first changes nothing.
// Mutation tried: dropping the Progress hook leaves the bar output empty.
func TestGuestyImportCommand(t *testing.T) {
	d := dbtest.New(t)
	fake := guestytest.New(t)
	now := time.Now().UTC()
	fake.Generate(12, 150, now)
	api := guesty.NewAPI(guesty.APIOptions{BaseURL: fake.URL, ClientID: fake.ClientID, ClientSecret: fake.ClientSecret, DB: d.Pool})
	hook := &guesty.Hook{Store: &webhook.Store{DB: d.Pool, Invoker: &fntest.Recorder{}}, Region: "US"}
	var bar, out bytes.Buffer
	if err := runGuestyImport(context.Background(), api, hook, importOptions{dryRun: true, progress: true, bar: &bar, now: now}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dry run: nothing changed") || dbtest.Count(t, d.Pool, "reservations", "") != 0 {
		t.Fatalf("dry run:\n%s", out.String())
	}
	out.Reset()
	bar.Reset()
	if err := runGuestyImport(context.Background(), api, hook, importOptions{progress: true, bar: &bar, now: now}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bar.String(), "reservations") || !strings.Contains(bar.String(), "listings") {
		t.Errorf("no progress bar: %q", bar.String())
	}
	if !strings.Contains(out.String(), "stored ") || !strings.Contains(out.String(), "tokens requested 1") {
		t.Errorf("summary:\n%s", out.String())
	}
	if n := dbtest.Count(t, d.Pool, "reservations", ""); n == 0 || n >= 150 {
		t.Errorf("reservations = %d: want those in the window only", n)
	}
}
