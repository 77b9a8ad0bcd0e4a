package guesty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

// Settings of Guesty's Open API, which completes lean v2 events
// (guesty-fetch) and imports an account's existing data (guesty-import).
var (
	APIURL = config.Register(config.Setting{Name: "GUESTY_API_URL", Default: DefaultAPIURL,
		Help: "Guesty Open API base URL", Used: "guesty-fetch, guesty-reconcile, guesty-import, doctor"})
	ClientID = config.Register(config.Setting{Name: "GUESTY_CLIENT_ID", Secret: "guesty-client-id",
		Help: "client id of the Guesty OAuth application (Integrations > Developer tools > OAuth applications); without it v2 reservation events keep only what they carry", Used: "guesty-fetch, guesty-reconcile, guesty-import, doctor"})
	ClientSecret = config.Register(config.Setting{Name: "GUESTY_CLIENT_SECRET", Secret: "guesty-client-secret",
		Help: "client secret of the Guesty OAuth application (see GUESTY_CLIENT_ID)", Used: "guesty-fetch, guesty-reconcile, guesty-import, doctor"})
)

// DefaultAPIURL is Guesty's Open API host; paths carry the /v1 prefix and
// the token endpoint is /oauth2/token.
const DefaultAPIURL = "https://open-api.guesty.com"

const (
	// apiTimeout bounds one request; a page of 100 reservations with the
	// fields we ask for is well under a megabyte.
	apiTimeout = 30 * time.Second
	// maxAPIResponse bounds a response body read.
	maxAPIResponse = 16 << 20
	// DefaultMaxWait is the longest one call waits for the rate limit (ours
	// or a 429's Retry-After) before it returns the wait as an error: a
	// step's budget is a minute, and a job retried later costs nothing.
	DefaultMaxWait = 20 * time.Second
	// defaultRateLimitWait is the wait after a 429 without Retry-After: the
	// per-minute window is the one that binds.
	defaultRateLimitWait = 10 * time.Second
	// maxRateLimitWait bounds a Retry-After far ahead (a broken header).
	maxRateLimitWait = time.Hour
	// maxAttempts bounds the tries of one call: a 401 with a token that was
	// invalidated (one renewal), 429s within the budget, a 5xx.
	maxAttempts = 4
	// PageLimit is Guesty's largest page (limit; default 25, maximum 100).
	PageLimit = 100
)

// ErrUnauthorized is in the chain of an error for refused credentials or a
// refused token: errors.Is(err, ErrUnauthorized).
var ErrUnauthorized = errors.New("guesty: API credentials refused")

// ErrForbidden is in the chain of a 403: the OAuth application lacks the
// permission the request needs.
var ErrForbidden = errors.New("guesty: API permission missing")

// APIError is a non-2xx answer of the API. It never holds a token or a
// secret.
type APIError struct {
	// Route is the request, e.g. "GET /v1/reservations/{id}".
	Route  string
	Status int
	// Message is Guesty's error text, clipped, when it gave one.
	Message string
	// RetryAfter is the wait the answer asked for (429, 503), or 0.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("guesty %s: %d %s", e.Route, e.Status, msg)
}

// RetryDelay is the wait the API asked for (fault.RetryAfter).
func (e *APIError) RetryDelay() time.Duration { return e.RetryAfter }

// Is matches ErrUnauthorized for 401 and ErrForbidden for 403.
func (e *APIError) Is(target error) bool {
	return (target == ErrUnauthorized && e.Status == http.StatusUnauthorized) ||
		(target == ErrForbidden && e.Status == http.StatusForbidden)
}

// RateLimitError says a call would have waited longer than its budget for
// the rate limit: the caller (a job) is retried after Wait instead.
type RateLimitError struct {
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("guesty: rate limit: next request possible in %s", e.Wait.Round(time.Millisecond))
}

// RetryDelay is the wait (fault.RetryAfter).
func (e *RateLimitError) RetryDelay() time.Duration { return e.Wait }

// StatusOf returns the HTTP status of an API error in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// APIOptions configure an API client.
type APIOptions struct {
	// BaseURL is the API host (DefaultAPIURL when empty).
	BaseURL                string
	ClientID, ClientSecret string
	// DB keeps the access token where every replica reads it. Nil keeps it
	// in this process only (the doctor without a database): each such
	// process spends one of the account's few daily tokens.
	DB *pgxpool.Pool
	// HTTP nil means a client with a 30 s timeout.
	HTTP *http.Client
	// Limits nil means GuestyLimits.
	Limits *Limits
	// MaxWait is the longest one call waits for the rate limit before it
	// returns a *RateLimitError (DefaultMaxWait when 0). A context deadline
	// shortens it.
	MaxWait time.Duration
	// Now is the clock for Retry-After dates and the limiter (time.Now).
	Now func() time.Time
}

// API is a client of Guesty's Open API: OAuth2 client credentials with
// the token shared in PostgreSQL, a process-wide rate limiter, back-off on
// 429, and pagination. Its errors have fault kinds: Permanent for refused
// credentials (ErrUnauthorized), a missing permission (ErrForbidden) and
// other refusals; NotFound for an unknown id; Unavailable for an
// unreachable API, a 5xx, or the rate limit (with the wait:
// fault.RetryAfter).
type API struct {
	base    string
	http    *http.Client
	tokens  *tokenSource
	limiter *limiter
	maxWait time.Duration
	now     func() time.Time

	requests atomic.Int64
}

// NewAPI returns a client configured by o.
func NewAPI(o APIOptions) *API {
	if o.BaseURL == "" {
		o.BaseURL = DefaultAPIURL
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: apiTimeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	limits := GuestyLimits
	if o.Limits != nil {
		limits = *o.Limits
	}
	a := &API{base: strings.TrimRight(o.BaseURL, "/"), http: o.HTTP, maxWait: o.MaxWait, now: o.Now,
		limiter: newLimiter(limits, o.Now)}
	a.tokens = &tokenSource{api: a, db: o.DB, clientID: o.ClientID, secret: o.ClientSecret}
	return a
}

// APIFromConfig returns a client configured by GUESTY_API_URL,
// GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET with its token kept in db, or
// nil when neither credential is set (the API is optional). One credential
// without the other, or a malformed URL, is reported by cfg.Err().
func APIFromConfig(cfg *config.Config, db *pgxpool.Pool) *API {
	base := cfg.URL(APIURL)
	id, secret := cfg.String(ClientID), cfg.String(ClientSecret)
	if id == "" && secret == "" {
		return nil
	}
	if id == "" || secret == "" {
		cfg.Require(ClientID)
		cfg.Require(ClientSecret)
		return nil
	}
	return NewAPI(APIOptions{BaseURL: base, ClientID: id, ClientSecret: secret, DB: db})
}

// Requests counts the API requests this client sent (tokens excluded).
func (a *API) Requests() int64 { return a.requests.Load() }

// TokensRequested counts the tokens this client requested from Guesty.
func (a *API) TokensRequested() int64 { return a.tokens.requested.Load() }

// Reservation fetches one reservation (GET /v1/reservations/{id}).
// fields, when given, selects the fields Guesty returns.
func (a *API) Reservation(ctx context.Context, id string, fields ...string) (json.RawMessage, error) {
	return a.one(ctx, "/v1/reservations/", "GET /v1/reservations/{id}", "reservation", id, fields)
}

// Listing fetches one listing (GET /v1/listings/{id}).
func (a *API) Listing(ctx context.Context, id string, fields ...string) (json.RawMessage, error) {
	return a.one(ctx, "/v1/listings/", "GET /v1/listings/{id}", "listing", id, fields)
}

// Guest fetches one guest (GET /v1/guests/{id}).
func (a *API) Guest(ctx context.Context, id string, fields ...string) (json.RawMessage, error) {
	return a.one(ctx, "/v1/guests/", "GET /v1/guests/{id}", "guest", id, fields)
}

func (a *API) one(ctx context.Context, prefix, route, what, id string, fields []string) (json.RawMessage, error) {
	if id == "" || strings.ContainsAny(id, "/?#%") {
		return nil, fault.New(fault.Invalid, "guesty %s id %q is not an id", what, id)
	}
	q := url.Values{}
	if len(fields) > 0 {
		q.Set("fields", strings.Join(fields, " "))
	}
	var out json.RawMessage
	if err := a.get(ctx, prefix+url.PathEscape(id), q, route, &out); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil, fault.Wrap(fault.NotFound, err, fmt.Sprintf("Guesty has no %s %s", what, id))
		}
		return nil, err
	}
	var probe struct {
		ID string `json:"_id"`
	}
	if json.Unmarshal(out, &probe) != nil || probe.ID != id {
		return nil, fault.New(fault.Unavailable, "Guesty answered %s without that %s", route, what)
	}
	return out, nil
}

// Page is one page of a list.
type Page struct {
	Results []json.RawMessage `json:"results"`
	// Count is the size of the whole list as Guesty counts it now.
	Count int `json:"count"`
	Skip  int `json:"skip"`
	Limit int `json:"limit"`
}

// List walks a list endpoint (path such as "/v1/listings", q its filters
// and fields) page by page from skip, calling fn with each page and the
// skip of the page after it, until a page comes back short. fn returning
// an error stops the walk with it. Sorting by _id (the caller's q) keeps
// pages stable while the walk runs.
func (a *API) List(ctx context.Context, path string, q url.Values, skip int, fn func(p Page, next int) error) error {
	route := "GET " + path
	for {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("limit", strconv.Itoa(PageLimit))
		pq.Set("skip", strconv.Itoa(skip))
		var p Page
		if err := a.get(ctx, path, pq, route, &p); err != nil {
			return fmt.Errorf("list %s from %d: %w", path, skip, err)
		}
		next := skip + len(p.Results)
		if err := fn(p, next); err != nil {
			return err
		}
		if len(p.Results) < PageLimit || (p.Count > 0 && next >= p.Count) {
			return nil
		}
		skip = next
	}
}

// budget is how long one call may wait for the rate limit: MaxWait, or
// less when the context ends sooner (a second kept for the request).
func (a *API) budget(ctx context.Context) time.Duration {
	b := a.maxWait
	if dl, ok := ctx.Deadline(); ok {
		b = min(b, time.Until(dl)-time.Second)
	}
	return max(b, 0)
}

// get sends one authenticated GET and decodes a 200's JSON into v.
func (a *API) get(ctx context.Context, path string, q url.Values, route string, v any) error {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	start := a.now()
	renewed := false
	for attempt := 1; ; attempt++ {
		budget := a.budget(ctx) - a.now().Sub(start)
		if err := a.limiter.wait(ctx, budget); err != nil {
			return rateLimited(route, err)
		}
		tok, err := a.tokens.token(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fault.Wrap(fault.Permanent, err, "GUESTY_API_URL is not a usable URL")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		a.requests.Add(1)
		res, err := a.http.Do(req)
		if err != nil {
			return fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: %w", route, scrubURL(err)), "Guesty API unreachable")
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, maxAPIResponse))
		res.Body.Close()
		if err != nil {
			return fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: read: %w", route, err), "Guesty API unreachable")
		}
		if res.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, v); err != nil {
				return fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: decode: %w", route, err), "Guesty API answered something that is not its JSON")
			}
			return nil
		}
		ae := &APIError{Route: route, Status: res.StatusCode, Message: errorMessage(body)}
		switch s := res.StatusCode; {
		case s == http.StatusUnauthorized:
			// Guesty invalidates tokens (a regenerated secret, its own
			// reasons): renew once, then give up naming the secrets.
			a.tokens.invalidate(ctx, tok)
			if !renewed {
				renewed = true
				continue
			}
			return fault.Wrap(fault.Permanent, ae, "Guesty refused a fresh access token (HTTP 401): check GUESTY_CLIENT_ID and GUESTY_CLIENT_SECRET (secrets guesty-client-id, guesty-client-secret)")
		case s == http.StatusForbidden:
			return fault.Wrap(fault.Permanent, ae, fmt.Sprintf("the Guesty OAuth application may not %s (HTTP 403): give it access to %s in Guesty (Integrations > Developer tools > OAuth applications)", route, resourceOf(path)))
		case s == http.StatusNotFound:
			return fault.Wrap(fault.NotFound, ae, "not found at Guesty")
		case s == http.StatusTooManyRequests:
			ae.RetryAfter = rateLimitWait(res.Header, a.now())
			a.limiter.pause(ae.RetryAfter)
			if attempt < maxAttempts && a.now().Add(ae.RetryAfter).Sub(start) <= a.budget(ctx) {
				continue // the limiter sleeps out the pause
			}
			return fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Guesty API rate limit reached, retry after %s", ae.RetryAfter))
		case s >= 500:
			ae.RetryAfter, _ = backoff.ParseRetryAfter(res.Header.Get("Retry-After"), a.now())
			if attempt < 2 && ae.RetryAfter == 0 {
				// One quick second try: a lone 502 from Guesty's edge is
				// common, and a job retry costs a back-off.
				if err := backoff.Sleep(ctx, time.Second); err != nil {
					return err
				}
				continue
			}
			return fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Guesty API unavailable (HTTP %d)", s))
		default:
			return fault.Wrap(fault.Permanent, ae, fmt.Sprintf("Guesty API refused the request (HTTP %d)", s))
		}
	}
}

// rateLimited turns the limiter's refusal into an Unavailable fault that
// carries the wait.
func rateLimited(route string, err error) error {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("guesty %s: %w", route, err),
			fmt.Sprintf("Guesty API rate limit: retry after %s", rl.Wait.Round(time.Second)))
	}
	return fault.Wrap(fault.Unavailable, err, "Guesty API call cancelled")
}

// resourceOf names the API resource of a path ("/v1/reservations/x" →
// "reservations") for a 403's fix.
func resourceOf(path string) string {
	p := strings.TrimPrefix(path, "/v1/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p
}

// rateLimitWait reads a 429's Retry-After (seconds, per Guesty's docs);
// defaultRateLimitWait without one; at least a second, at most an hour.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	d, ok := backoff.ParseRetryAfter(h.Get("Retry-After"), now)
	if !ok {
		d = defaultRateLimitWait
	}
	return min(max(d, time.Second), maxRateLimitWait)
}

// errorMessage reads Guesty's error body — {"error": {"code", "message"}},
// {"message": ...} or OAuth's {"error", "error_description"} — clipped; ""
// for anything else.
func errorMessage(body []byte) string {
	var e struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
		Message     string          `json:"message"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &e) != nil {
		return ""
	}
	var parts []string
	var inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(e.Error, &inner) == nil && (inner.Code != "" || inner.Message != ""):
		parts = append(parts, inner.Code, inner.Message)
	case json.Unmarshal(e.Error, &s) == nil:
		parts = append(parts, s)
	}
	parts = append(parts, e.Description, e.Message)
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	msg := strings.Join(kept, ": ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

// scrubURL keeps the scheme and host of a transport error's URL: the query
// may name a guest's reservation.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Scheme + "://" + u.Host + "/…", Err: ue.Err}
		}
	}
	return err
}
