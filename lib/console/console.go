// Package console is the team's console (issue 15): what the assistant did
// and why, what guests ask that the data cannot answer, which jobs are
// stuck, whether backups really restore, and a playground to ask as a
// guest. Server-rendered HTML (html/template, hand-written SVG charts, no
// script), everything read from our PostgreSQL.
//
// Every request is authenticated first (Verifier: the Keycloak token
// oauth2-proxy forwards; OpenAccess only in the local runner), and every
// write carries a CSRF token bound to the session. Pages are chosen by
// the query (?page=jobs): the function sees no path behind the gateway.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backup"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
)

//go:embed templates
var files embed.FS

// Console serves the pages.
type Console struct {
	DB   *pgxpool.Pool
	Auth Authenticator
	CSRF *CSRF
	// Asker answers the playground's questions (the answer job's engine).
	Asker Asker
	// Invoker dispatches replayed jobs (signed, like every job invocation).
	Invoker jobs.Invoker
	Now     func() time.Time
	// Grace is redrive's grace period, which decides what is overdue.
	Grace time.Duration
	// Local: the local runner serves it (make run).
	Local bool

	pages map[string]*template.Template
	css   template.CSS
	csp   string
}

// maxFormBytes bounds a form's body (a question and a token).
const maxFormBytes = 64 << 10

// New checks c's parts and parses the pages.
func New(c *Console) (*Console, error) {
	if c.DB == nil || c.Auth == nil || c.CSRF == nil || c.Asker == nil || c.Invoker == nil {
		return nil, errors.New("console: database, authenticator, CSRF, asker and invoker are all needed")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return parsePages(c)
}

// parsePages reads the stylesheet and parses every page with the layout.
func parsePages(c *Console) (*Console, error) {
	css, err := files.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	c.css = template.CSS(css)
	sum := sha256.Sum256(css)
	// No script at all; the one stylesheet by its hash; forms post only
	// to the console; no framing.
	c.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	c.pages = map[string]*template.Template{}
	for _, name := range []string{"overview", "gaps", "conversations", "conversation", "jobs", "backups", "playground", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	return c, nil
}

var funcs = template.FuncMap{
	"num":      func(n int64) string { return num(n) },
	"int64":    func(n int) int64 { return int64(n) },
	"human":    human,
	"bytesize": bytesize,
	"pct":      pct,
	"join":     strings.Join,
	"unix":     func(s int64) string { return stamp(time.Unix(s, 0)) },
	"day":      func(t time.Time) string { return t.UTC().Format("Mon 2 Jan") },
	"stamp": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			return stamp(t)
		case *time.Time:
			if t != nil {
				return stamp(*t)
			}
		}
		return ""
	},
}

// view is what the layout renders.
type view struct {
	Title string
	Page  string
	Who   Identity
	CSRF  string
	Local bool
	Now   time.Time
	Flash string
	Error string
	CSS   template.CSS
	Data  any
}

// ServeHTTP authenticates the request and serves its page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", c.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	ctx := r.Context()
	log := logging.From(ctx)
	who, err := c.Auth.Authenticate(ctx, r)
	if err != nil {
		status, msg := http.StatusUnauthorized, "Sign in through the team's single sign-on to use the console."
		switch {
		case errors.Is(err, ErrNotInTeam):
			status, msg = http.StatusForbidden, "You are signed in, but not in the team's group: ask an administrator to add you."
		case errors.Is(err, ErrNoToken), errors.Is(err, ErrBadToken):
			h.Set("WWW-Authenticate", `Bearer realm="concierge-console"`)
		default:
			status, msg = http.StatusServiceUnavailable, fault.Public(err)
		}
		// The reason, never the token.
		log.Warn().Str("reason", err.Error()).Int("status", status).Msg("console request refused")
		c.render(w, r, status, "error", view{Title: http.StatusText(status), Error: msg})
		return
	}
	v := view{Who: who, CSRF: c.CSRF.Token(who), Local: c.Local}
	q := r.URL.Query()
	page := q.Get("page")
	if page == "" {
		page = "overview"
	}
	if r.Method == http.MethodPost {
		if page != "jobs" && page != "playground" {
			c.fail(w, r, v, fault.New(fault.MethodNotAllowed, "this page takes no form"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, v, fault.Wrap(fault.Invalid, err, "the form could not be read"))
			return
		}
		if err := c.CSRF.Check(who, r.PostForm.Get("csrf")); err != nil {
			log.Warn().Str("page", page).Msg("console write refused: CSRF token missing or invalid")
			c.render(w, r, http.StatusForbidden, "error", view{Title: "Refused", Who: who, Error: err.Error()})
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.fail(w, r, v, fault.New(fault.MethodNotAllowed, "use GET, or POST for forms"))
		return
	}
	var serve func(context.Context, *http.Request, *view) error
	switch page {
	case "overview":
		serve = c.overview
	case "gaps":
		serve = c.gaps
	case "conversations":
		serve = c.conversations
	case "conversation":
		serve = c.conversation
	case "jobs":
		if r.Method == http.MethodPost {
			c.replay(w, r, v)
			return
		}
		serve = c.jobs
	case "backups":
		serve = c.backups
	case "playground":
		serve = c.playground
	default:
		c.fail(w, r, v, fault.New(fault.NotFound, "no such page"))
		return
	}
	v.Page = page
	if err := serve(ctx, r, &v); err != nil {
		c.fail(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, page, v)
}

// fail renders err's public text with its status; a 5xx is logged.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v view, err error) {
	status := http.StatusInternalServerError
	switch fault.KindOf(err) {
	case fault.Invalid:
		status = http.StatusBadRequest
	case fault.NotFound:
		status = http.StatusNotFound
	case fault.MethodNotAllowed:
		status = http.StatusMethodNotAllowed
	case fault.Unavailable:
		status = http.StatusServiceUnavailable
	}
	msg := fault.Public(err)
	if status >= 500 {
		logging.From(r.Context()).Error().Err(err).Str("page", v.Page).Msg("console page failed")
		if fault.KindOf(err) != fault.Unavailable {
			msg = "The page could not be read; the console's log says why."
		}
	}
	v.Title, v.Error, v.Data = http.StatusText(status), msg, nil
	c.render(w, r, status, "error", v)
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.CSS, v.Now = c.css, c.Now()
	if v.Title == "" {
		v.Title = titles[page]
	}
	var b bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		logging.From(r.Context()).Error().Err(err).Str("page", page).Msg("console template failed")
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

var titles = map[string]string{
	"overview": "Overview", "gaps": "Knowledge gaps", "conversations": "Conversations", "conversation": "A reply's story",
	"jobs": "Jobs", "backups": "Backups", "playground": "Playground",
}

// tab is a link among alternatives of a page.
type tab struct {
	Label   string
	Href    string
	Current bool
}

func windowDays(q url.Values) int {
	if d, err := strconv.Atoi(q.Get("days")); err == nil {
		for _, w := range windows {
			if d == w {
				return d
			}
		}
	}
	return windows[0]
}

func windowTabs(page string, days int, extra url.Values) []tab {
	var out []tab
	for _, d := range windows {
		v := url.Values{"page": {page}, "days": {strconv.Itoa(d)}}
		for k, vs := range extra {
			v[k] = vs
		}
		out = append(out, tab{Label: fmt.Sprintf("%d days", d), Href: "?" + v.Encode(), Current: d == days})
	}
	return out
}

func (c *Console) overview(ctx context.Context, r *http.Request, v *view) error {
	q := r.URL.Query()
	days := windowDays(q)
	var scope Scope
	extra := url.Values{}
	label := ""
	if s := q.Get("inbox"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fault.Field("inbox", "not an inbox id")
		}
		scope.Inbox, extra["inbox"], label = &n, []string{s}, "inbox "+s
	} else if s := q.Get("listing"); q.Has("listing") {
		scope.Listing, extra["listing"], label = &s, []string{s}, "listing "+s
		if s == "" {
			label = "conversations without a proven guest"
		} else if names, err := listingNames(ctx, c.DB, []string{s}); err == nil && names[s] != "" {
			label = names[s]
		}
	}
	o, err := ReadOverview(ctx, c.DB, c.Now(), days, scope)
	if err != nil {
		return err
	}
	proven, err := backup.LastProven(ctx, c.DB, "")
	if err != nil {
		return fmt.Errorf("read proven restores: %w", err)
	}
	ps := make([]Proven, len(proven))
	for i, p := range proven {
		ps[i] = Proven{Proven: p}
		if p.VerifiedAt != nil {
			ps[i].Age = c.Now().Sub(*p.VerifiedAt)
			ps[i].Fresh = ps[i].Age < provenFresh
		}
	}
	v.Data = map[string]any{
		"O": o, "Windows": windowTabs("overview", days, extra), "ScopeLabel": label, "Proven": ps,
		"Chart": dailyChart(o.Daily), "Reasons": barsChart("hand-offs by reason", o.Reasons), "Languages": barsChart("replies by language", o.Language),
		"Inboxes": breakdownTable(o.Inboxes, "inbox", days), "Listings": breakdownTable(o.Listings, "listing", days),
	}
	return nil
}

func (c *Console) gaps(ctx context.Context, r *http.Request, v *view) error {
	days := windowDays(r.URL.Query())
	g, err := ReadGaps(ctx, c.DB, c.Now(), days)
	if err != nil {
		return err
	}
	v.Data = map[string]any{"G": g, "Windows": windowTabs("gaps", days, nil)}
	return nil
}

func (c *Console) conversations(ctx context.Context, r *http.Request, v *view) error {
	q := r.URL.Query()
	mode := q.Get("mode")
	if mode != "" && mode != "auto" && mode != "draft" && mode != "handoff" {
		return fault.Field("mode", "must be auto, draft or handoff")
	}
	l, err := ReadReplies(ctx, c.DB, mode, q.Get("before"))
	if err != nil {
		return err
	}
	modes := []tab{{Label: "all", Href: "?page=conversations", Current: mode == ""}}
	for _, m := range replyModes {
		modes = append(modes, tab{Label: m, Href: "?page=conversations&mode=" + m, Current: mode == m})
	}
	v.Data = map[string]any{"L": l, "Modes": modes}
	return nil
}

func (c *Console) conversation(ctx context.Context, r *http.Request, v *view) error {
	s, err := ReadStory(ctx, c.DB, r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	v.Data = map[string]any{"S": s}
	return nil
}

func (c *Console) jobs(ctx context.Context, r *http.Request, v *view) error {
	j, err := ReadJobs(ctx, c.DB, c.Grace)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("requeued") {
		v.Flash = fmt.Sprintf("Replayed: %s re-queued, %s absorbed into a pending job, %s invoked.", q.Get("requeued"), q.Get("absorbed"), q.Get("dispatched"))
		if q.Get("left") == "1" {
			v.Flash += " The gateway refused an invocation: redrive invokes the rest once REDRIVE_GRACE has passed."
		}
	}
	v.Data = map[string]any{"J": j}
	return nil
}

// replay is the Jobs page's form: one failed job (id) or every failed job
// of a kind. It answers with a redirect back to the page, so a reload does
// not replay twice.
func (c *Console) replay(w http.ResponseWriter, r *http.Request, v view) {
	v.Page = "jobs"
	f := jobs.ReplayFilter{Kind: strings.TrimSpace(r.PostForm.Get("kind"))}
	if id := strings.TrimSpace(r.PostForm.Get("id")); id != "" {
		f.IDs = []string{id}
	}
	out, err := Replay(r.Context(), c.DB, c.Invoker, f)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	logging.From(r.Context()).Info().Int("requeued", out.Requeued).Int("absorbed", out.Absorbed).Int("dispatched", out.Dispatched).
		Str("kind", f.Kind).Int("ids", len(f.IDs)).Str("by", v.Who.Subject).Msg("console replay")
	loc := url.Values{"page": {"jobs"}, "requeued": {strconv.Itoa(out.Requeued)}, "absorbed": {strconv.Itoa(out.Absorbed)},
		"dispatched": {strconv.Itoa(out.Dispatched)}}
	if out.NotDispatched != "" {
		loc.Set("left", "1")
	}
	// A reference relative to the page itself: behind the gateway the page
	// is /function/console, which the function never sees (http.Redirect
	// would make it /).
	w.Header().Set("Location", "?"+loc.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

func (c *Console) backups(ctx context.Context, _ *http.Request, v *view) error {
	b, err := ReadBackups(ctx, c.DB, c.Now())
	if err != nil {
		return err
	}
	v.Data = map[string]any{"B": b}
	return nil
}

func (c *Console) playground(ctx context.Context, r *http.Request, v *view) error {
	contacts, err := Contacts(ctx, c.DB, c.Now())
	if err != nil {
		return err
	}
	data := map[string]any{"Contacts": contacts, "As": "", "Question": "", "A": nil}
	if len(contacts) > 0 {
		data["As"] = contacts[0].Value
	}
	if r.Method == http.MethodPost {
		as, question := r.PostForm.Get("as"), r.PostForm.Get("question")
		data["As"], data["Question"] = as, question
		a, err := Ask(ctx, c.DB, c.Asker, c.Now(), as, question)
		if err != nil {
			return err
		}
		data["A"] = a
	}
	v.Data = data
	return nil
}
