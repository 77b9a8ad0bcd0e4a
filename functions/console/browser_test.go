package function

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/harborstays/concierge/lib/answer"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/testenv"
)

// browser is a headless Debian Chromium driven through the DevTools
// protocol, with every console error, warning and uncaught exception of
// its pages recorded (a CSP violation is one).
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Skip(t, "chromium not installed (apt-get install -y chromium, or .ci/deps)")
		return nil
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleException, chromedp.ConsoleWarning:
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" at "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// open loads url and returns the document's HTTP status.
func (b *browser) open(t *testing.T, url string) int64 {
	t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return res.Status
}

// submit clicks sel and waits for the page it loads; it returns the status.
func (b *browser) submit(t *testing.T, sel string) int64 {
	t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("submit %s: %v", sel, err)
	}
	return res.Status
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// expect waits for the console message a page was meant to cause (the
// browser logs a 401 or 403 it loaded) and removes it.
func (b *browser) expect(t *testing.T, substr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b.mu.Lock()
		for i, p := range b.problems {
			if strings.Contains(p, substr) {
				b.problems = append(b.problems[:i], b.problems[i+1:]...)
				b.mu.Unlock()
				return
			}
		}
		b.mu.Unlock()
	}
	t.Errorf("the console never said %q", substr)
}

// clean fails t if a page wrote an error or a warning to the console.
func (b *browser) clean(t *testing.T) {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // let the last events arrive
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("console: %s", p)
	}
	b.problems = nil
}

func count(t *testing.T, d *dbtest.DB, table, where string, args ...any) string {
	t.Helper()
	return strconv.Itoa(dbtest.Count(t, d.Pool, table, where, args...))
}

// bare reads a number the page wrote with thin-space thousands separators.
func bare(s string) string { return strings.ReplaceAll(s, "\u2009", "") }

// TestConsoleInTheBrowser loads every page of the local runner's console
// in Chromium over a database whose conversations llm-query answered:
// each page shows that data and writes nothing to the console; the
// playground answers as Jordan (in her stay: the Wi-Fi is shared), as Sam
// (arriving next week: not yet) and as an unknown contact (asked for
// proof); the replay button replays a failed job with the page's CSRF
// token and is refused without one.
func TestConsoleInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	w := newWorld(t)
	h := w.console(t, Local, nil)
	base := h.URL + "/"
	d := w.DB

	t.Run("overview", func(t *testing.T) {
		if code := b.open(t, base+"?page=overview&days=7"); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		for sel, where := range map[string]string{
			"#guest-messages": "message_type = 'incoming' AND NOT private",
			"#voice":          "message_type = 'incoming' AND attachments @> '[{\"file_type\": \"audio\"}]'",
		} {
			if got, want := bare(b.text(t, sel)), count(t, d, "messages", where); got != want {
				t.Errorf("%s shows %s, the database holds %s", sel, got, want)
			}
		}
		for sel, where := range map[string]string{
			"#answered": "mode = 'auto' AND status = 'posted'",
			"#drafts":   "mode = 'draft'",
			"#handoffs": "mode = 'handoff'",
		} {
			if got, want := bare(b.text(t, sel)), count(t, d, "replies", where); got != want {
				t.Errorf("%s shows %s, the database holds %s", sel, got, want)
			}
		}
		if got := b.text(t, "#handoffs"); got == "0" {
			t.Error("the world has no hand-off")
		}
		if got := b.text(t, "#median"); got == "–" || !strings.HasSuffix(got, " s") {
			t.Errorf("median time to reply %q, want seconds", got)
		}
		if n := b.count(t, "svg.chart rect.bar-msg"); n != 7 {
			t.Errorf("%d daily bars, want 7", n)
		}
		if n := b.count(t, "svg.chart rect.bar-handoff"); n == 0 {
			t.Error("no hand-off bar in the chart")
		}
		page := b.text(t, "main")
		for _, want := range []string{answer.ReasonNothing, answer.ReasonPerson, "restricted topic:", "inbox 4", "HV-LOFT-2", "last proven restore of concierge"} {
			if !strings.Contains(page, want) {
				t.Errorf("the overview does not show %q", want)
			}
		}
		// A phone: nothing wider than the screen but the tables' own scroll.
		if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		b.open(t, base+"?page=overview&days=30")
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth"))
		if err != nil || wide {
			t.Errorf("on a 390 px screen the page scrolls sideways (%v)", err)
		}
		if err := chromedp.Do(b.ctx, chromedp.ResetViewport()); err != nil {
			t.Fatal(err)
		}
		b.clean(t)
	})

	t.Run("knowledge gaps", func(t *testing.T) {
		b.open(t, base+"?page=gaps&days=7")
		// The three hair-dryer questions nothing answered are one gap (a
		// clothes dryer in the amenities answers none of them).
		groups, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("section.gap")].map(s => s.innerText)`))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, g := range groups {
			if strings.Contains(g, "Is there a hair dryer in the apartment?") && strings.Contains(g, "Do you have a hairdryer?") &&
				strings.Contains(g, "Is there a hair-dryer we could borrow?") && strings.HasPrefix(g, "3 ×") {
				found = true
			}
			if strings.Contains(g, "speak to a person") || strings.Contains(g, "early") {
				t.Errorf("a hand-off for another reason is listed as a gap: %q", g)
			}
		}
		if !found {
			t.Errorf("the hair-dryer questions are not one gap of 3: %q", groups)
		}
		b.clean(t)
	})

	t.Run("conversations", func(t *testing.T) {
		b.open(t, base+"?page=conversations")
		if got, want := strconv.Itoa(b.count(t, "#replies tbody tr")), count(t, d, "replies", "true"); got != want {
			t.Errorf("%s replies listed, %s in the database", got, want)
		}
		// One reply's story: the Wi-Fi answer.
		var id string
		if err := d.Pool.QueryRow(context.Background(), `SELECT r.id::text FROM replies r JOIN messages m ON m.account_id = r.account_id AND m.id = r.inbound_message_id
			WHERE m.content = 'What is the wifi password?'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		b.submit(t, `a[href="?page=conversation&id=`+id+`"]`)
		story := b.text(t, "main")
		for _, want := range []string{"What is the wifi password?", "Answered the guest", "offline", answer.PromptVersion,
			"sea-breeze-2025", "yes: the stay's window is open", "from listing:"} {
			if !strings.Contains(story, want) {
				t.Errorf("the story does not show %q:\n%s", want, story)
			}
		}
		if b.count(t, ".passage.cited") == 0 {
			t.Error("no passage is marked cited")
		}
		// A hand-off's story: its reason and the note for the team.
		if err := d.Pool.QueryRow(context.Background(), `SELECT id::text FROM replies WHERE handoff_reason = $1 LIMIT 1`, answer.ReasonPerson).Scan(&id); err != nil {
			t.Fatal(err)
		}
		b.open(t, base+"?page=conversation&id="+id)
		story = b.text(t, "main")
		for _, want := range []string{"Handed to a person", answer.ReasonPerson, "Hand-off note for the team", "policy: the guest asked for a person"} {
			if !strings.Contains(story, want) {
				t.Errorf("the hand-off's story does not show %q", want)
			}
		}
		b.clean(t)
	})

	t.Run("backups", func(t *testing.T) {
		b.open(t, base+"?page=backups")
		proven := b.text(t, "#proven-concierge")
		for _, want := range []string{"proven 4.8 h ago", "3 tables, 20 rows restored and counted: equal to the snapshot", "public.messages", "failed: upload: connection reset by peer"} {
			if !strings.Contains(proven, want) {
				t.Errorf("the proven restore does not show %q:\n%s", want, proven)
			}
		}
		if n := b.count(t, "#backups tbody tr"); n != 2 {
			t.Errorf("%d backups listed, want 2", n)
		}
		b.clean(t)
	})

	t.Run("playground", func(t *testing.T) {
		ask := func(as, question string) string {
			t.Helper()
			b.open(t, base+"?page=playground")
			if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS("#as"), as), chromedp.SendKeys(chromedp.CSS("#question"), question)); err != nil {
				t.Fatal(err)
			}
			if code := b.submit(t, "#ask-button"); code != http.StatusOK {
				t.Fatalf("ask: status %d: %s", code, b.text(t, "main"))
			}
			return b.text(t, "#answer")
		}
		got := ask("stay:"+jordanRes, "What is the wifi password?")
		if !strings.Contains(got, "sea-breeze-2025") || !strings.Contains(got, "Answers the guest") || !strings.Contains(got, "yes: the stay's window is open") {
			t.Errorf("Jordan, in her stay, asking for the Wi-Fi:\n%s", got)
		}
		if b.count(t, "#citations li") == 0 {
			t.Error("the answer cites nothing")
		}
		got = ask("stay:"+samRes, "What is the wifi password?")
		if strings.Contains(got, "pine-needle-77") || !strings.Contains(got, "no: outside the stay's window") || !strings.Contains(got, "SECRETS_DISCLOSE_BEFORE") {
			t.Errorf("Sam, a week before his stay, asking for the Wi-Fi:\n%s", got)
		}
		got = ask("stranger", "What is the wifi password?")
		if !strings.Contains(got, "Asks the contact to prove who they are") || strings.Contains(got, "sea-breeze") || strings.Contains(got, "pine-needle") {
			t.Errorf("an unknown contact asking for the Wi-Fi:\n%s", got)
		}
		// The playground stores nothing and sends nothing.
		if n := dbtest.Count(t, d.Pool, "replies", "true"); n != len(questions) {
			t.Errorf("%d replies after the playground, want the world's %d", n, len(questions))
		}
		b.clean(t)
	})

	t.Run("replay refused without the CSRF token", func(t *testing.T) {
		b.open(t, base+"?page=jobs")
		// The form as a forged page would post it: without the token, then
		// with a made-up one.
		for _, set := range []string{`t.remove()`, `t.value = "1700000000.AAAA"`} {
			b.open(t, base+"?page=jobs")
			if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { const t = document.querySelector("form.replay input[name=csrf]"); `+set+`; return true })()`)); err != nil {
				t.Fatal(err)
			}
			if code := b.submit(t, "#replay-"+w.Failed); code != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", set, code)
			}
			b.expect(t, "status of 403")
			if !strings.Contains(b.text(t, "#error"), "token") {
				t.Errorf("%s: the refusal does not say why: %s", set, b.text(t, "main"))
			}
		}
		if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'failed'", w.Failed); n != 1 {
			t.Error("a refused replay changed the job")
		}
		if len(h.Invoked.Calls()) != 0 {
			t.Error("a refused replay invoked something")
		}
		b.clean(t)
	})

	t.Run("replay", func(t *testing.T) {
		b.open(t, base+"?page=jobs")
		if !strings.Contains(b.text(t, "#failed"), "guesty: 503 Service Unavailable") {
			t.Fatal("the failed job's last error is not shown")
		}
		if code := b.submit(t, "#replay-"+w.Failed); code != http.StatusOK {
			t.Fatalf("replay: status %d", code)
		}
		if got := b.text(t, "#flash"); !strings.Contains(got, "1 re-queued") || !strings.Contains(got, "1 invoked") {
			t.Errorf("after the replay: %q", got)
		}
		if b.count(t, "#no-failed") != 1 {
			t.Error("the failed job is still listed")
		}
		// What concierge replay does: back to pending with fresh attempts,
		// the history kept, and a signed invocation of its function.
		if n := dbtest.Count(t, d.Pool, "jobs", "id = $1 AND status = 'pending' AND attempts = 0 AND last_error IS NULL", w.Failed); n != 1 {
			t.Error("the job is not pending again")
		}
		if n := dbtest.Count(t, d.Pool, "job_replays", "job_id = $1 AND outcome = 'requeued' AND last_error LIKE 'guesty: 503%'", w.Failed); n != 1 {
			t.Error("the replay is not recorded in job_replays")
		}
		calls := h.Invoked.Calls()
		if len(calls) != 1 || calls[0].Function != "guesty-fetch" || calls[0].Header.Get(jobs.JobIDHeader) != w.Failed {
			t.Fatalf("invocations %+v, want one of guesty-fetch for the job", calls)
		}
		if err := h.Env.JobKeys.Verify(calls[0].Header, "guesty-fetch", calls[0].Body); err != nil {
			t.Errorf("the invocation is not signed for guesty-fetch: %v", err)
		}
		b.clean(t)
	})
}
