package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
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

// lockedBuffer is written by the fake's goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// make import-guesty against `concierge fake-guesty`, as the README tells
// a person to run it: the fake prints the settings, and the import through
// them stores the generated account and the fixtures' with a progress bar.
func TestImportFromFakeGuestyCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- fakeGuesty(ctx, []string{"--addr", "127.0.0.1:0", "--listings", "12", "--reservations", "150"}, &out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fake-guesty: %v", err)
		}
	})
	var settings map[string]string
	for deadline := time.Now().Add(10 * time.Second); settings == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
				settings = map[string]string{}
				for _, kv := range strings.Fields(rest) {
					k, v, _ := strings.Cut(kv, "=")
					settings[k] = v
				}
			}
		}
	}
	if settings["GUESTY_API_URL"] == "" || settings["GUESTY_CLIENT_ID"] == "" || settings["GUESTY_CLIENT_SECRET"] == "" {
		t.Fatalf("fake-guesty printed no settings:\n%s", out.String())
	}
	d := dbtest.New(t)
	api := guesty.NewAPI(guesty.APIOptions{BaseURL: settings["GUESTY_API_URL"], ClientID: settings["GUESTY_CLIENT_ID"],
		ClientSecret: settings["GUESTY_CLIENT_SECRET"], DB: d.Pool})
	hook := &guesty.Hook{Store: &webhook.Store{DB: d.Pool, Invoker: &fntest.Recorder{}}, Region: "US"}
	var bar, summary bytes.Buffer
	if err := runGuestyImport(context.Background(), api, hook, importOptions{progress: true, bar: &bar}, &summary); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bar.String(), "reservations") {
		t.Errorf("no progress bar: %q", bar.String())
	}
	// 11 active generated listings and the fixtures' two; Jordan's and
	// Sam's stays are in July 2025, outside the window, so only generated
	// reservations come.
	if n := dbtest.Count(t, d.Pool, "listings", "raw <> '{}'::jsonb"); n != 13 {
		t.Errorf("listings imported = %d, want 13\n%s", n, summary.String())
	}
	if n := dbtest.Count(t, d.Pool, "reservations", ""); n == 0 {
		t.Errorf("no reservations imported\n%s", summary.String())
	}
}
