package chatwoot

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
	"time"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/fault"
)

// Bounds of one call. A step's whole budget is about 30 s (stack.yml), so
// the client waits at most a few seconds in total and leaves longer outages
// to the job's back-off.
const (
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxAttempts is tries per call, including the first, for
	// failures that are safe to repeat.
	DefaultMaxAttempts = 3
	// DefaultMaxWait is the longest single wait between attempts; a
	// Retry-After beyond it ends the call as unavailable at once.
	DefaultMaxWait = 10 * time.Second
	// maxResponseBytes bounds what is read of a response: a page of
	// messages or contacts is far smaller.
	maxResponseBytes = 4 << 20
	// maxErrorMessage bounds Chatwoot's error text kept in an error.
	maxErrorMessage = 300
)

// retryPolicy is the wait between attempts when the server gives no
// Retry-After: from half a second, doubling, at most 5 s, jitter over the
// upper half. New adds MaxWait and the clock.
var retryPolicy = backoff.Backoff{Base: 500 * time.Millisecond, Max: 5 * time.Second}

// Options configure a Client.
type Options struct {
	// BaseURL is Chatwoot's root, e.g. https://chatwoot.example.com.
	BaseURL string
	// AccountID scopes every path; ForAccount switches it.
	AccountID int64
	// Token goes in the api_access_token header: a user (agent, admin) or
	// an agent-bot access token. Bots may not call the contacts API.
	Token string
	// HTTPClient defaults to one with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one attempt (DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts per call (DefaultMaxAttempts); 1 disables retries.
	MaxAttempts int
	// MaxWait caps one wait between attempts (DefaultMaxWait).
	MaxWait time.Duration
	// Sleep waits between attempts; tests inject one that records.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now reads the clock for Retry-After dates.
	Now func() time.Time
}

// Client calls one Chatwoot account's REST API. It is safe for concurrent
// use.
type Client struct {
	base        string
	account     int64
	token       string
	http        *http.Client
	maxAttempts int
	retry       backoff.Backoff
}

// New checks o and returns a Client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("chatwoot: base URL must be an absolute http(s) URL")
	}
	if o.Token == "" {
		return nil, errors.New("chatwoot: no access token")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	retry := retryPolicy
	retry.MaxWait, retry.Sleep, retry.Now = o.MaxWait, o.Sleep, o.Now
	return &Client{
		base: strings.TrimRight(o.BaseURL, "/"), account: o.AccountID, token: o.Token, http: o.HTTPClient,
		maxAttempts: o.MaxAttempts, retry: retry,
	}, nil
}

// ForAccount returns a client for another account with the same token and
// settings.
func (c *Client) ForAccount(id int64) *Client {
	cp := *c
	cp.account = id
	return &cp
}

// AccountID is the account the client's paths name.
func (c *Client) AccountID() int64 { return c.account }

// APIError is a non-2xx answer. It never holds the token, the query string
// (which may hold a phone or an email) or the request body.
type APIError struct {
	Method string
	// Route is the path below the account, e.g. conversations/1287/messages.
	Route  string
	Status int
	// Message is Chatwoot's error text (message, error, or errors[]).
	Message string
	// Attributes name the fields of a validation failure (422).
	Attributes []string
	// RetryAfter is the server's requested wait, when it gave one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("chatwoot %s %s: %d %s", e.Method, e.Route, e.Status, msg)
}

// RetryDelay is the server's Retry-After, for the job back-off
// (fault.RetryAfter).
func (e *APIError) RetryDelay() time.Duration { return e.RetryAfter }

// StatusOf returns the HTTP status of a Chatwoot error in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// AttributesOf returns the fields a 422 named, or nil.
func AttributesOf(err error) []string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Attributes
	}
	return nil
}

// request is one API call.
type request struct {
	method string
	route  string // below /api/v1/accounts/{id}/
	query  url.Values
	body   []byte
	ctype  string
	// safe: repeating the request after an unknown outcome (5xx, a lost
	// connection) cannot do anything twice. 429 is always retried: the
	// server did not process the request.
	safe bool
	// attempts overrides the client's MaxAttempts (1 for best-effort calls).
	attempts int
}

func jsonRequest(method, route string, v any, safe bool) (request, error) {
	r := request{method: method, route: route, safe: safe}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return r, fmt.Errorf("chatwoot %s %s: encode: %w", method, route, err)
		}
		r.body, r.ctype = b, "application/json"
	}
	return r, nil
}

// do runs r with retries and decodes a 2xx body into out (unless nil).
//
// Errors: 429 and 5xx (and timeouts, lost connections) are
// fault.Unavailable, retried here within bounds and then by the job's
// back-off; other 4xx are fault.Permanent with Chatwoot's message.
func (c *Client) do(ctx context.Context, r request, out any) error {
	attempts := c.maxAttempts
	if r.attempts > 0 {
		attempts = r.attempts
	}
	u := c.base + "/api/v1/accounts/" + strconv.FormatInt(c.account, 10) + "/" + r.route
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	for attempt := 1; ; attempt++ {
		retry, wait, err := c.once(ctx, r, u, out)
		if err == nil {
			return nil
		}
		if !retry || attempt >= attempts {
			return err
		}
		wait, stop := c.retry.Next(ctx, attempt, wait, wait >= 0)
		if errors.Is(stop, backoff.ErrTooLong) {
			return fmt.Errorf("%w (server asked to wait %s)", err, wait.Round(time.Second))
		}
		if stop != nil {
			return err
		}
		if serr := c.retry.Wait(ctx, wait); serr != nil {
			return err
		}
	}
}

// once makes one attempt. It reports whether another attempt may help and
// the wait the server asked for (-1: it named none).
func (c *Client) once(ctx context.Context, r request, u string, out any) (retry bool, wait time.Duration, err error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return false, 0, fmt.Errorf("chatwoot %s %s: %w", r.method, r.route, err)
	}
	req.Header.Set("api_access_token", c.token)
	req.Header.Set("Accept", "application/json")
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, 0, fault.Wrap(fault.Unavailable, fmt.Errorf("chatwoot %s %s: %w", r.method, r.route, ctx.Err()), "chatwoot unavailable")
		}
		// The request may or may not have reached Chatwoot.
		return r.safe, -1, fault.Wrap(fault.Unavailable, fmt.Errorf("chatwoot %s %s: %w", r.method, r.route, scrubURL(err)), "chatwoot unavailable")
	}
	defer res.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if rerr != nil {
			return r.safe, -1, fault.Wrap(fault.Unavailable, fmt.Errorf("chatwoot %s %s: read response: %w", r.method, r.route, rerr), "chatwoot unavailable")
		}
		if out != nil && len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return false, 0, fault.Wrap(fault.Permanent, fmt.Errorf("chatwoot %s %s: decode response: %w", r.method, r.route, err), "unexpected answer from chatwoot")
			}
		}
		return false, 0, nil
	}
	ae := &APIError{Method: r.method, Route: r.route, Status: res.StatusCode}
	ae.Message, ae.Attributes = errorText(b)
	wait = -1
	if d, ok := c.retry.RetryAfter(res.Header.Get("Retry-After")); ok {
		ae.RetryAfter, wait = d, d
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return true, wait, fault.Wrap(fault.Unavailable, ae, "chatwoot rate limit")
	case res.StatusCode >= 500:
		return r.safe, wait, fault.Wrap(fault.Unavailable, ae, "chatwoot unavailable")
	default:
		return false, 0, fault.Wrap(fault.Permanent, ae, "chatwoot refused the request")
	}
}

// scrubURL drops the URL (with its query) from a transport error.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// ErrorOf is the *APIError of a non-2xx answer with body b: Chatwoot's
// message and the invalid attributes, never the body itself. Callers with a
// client of their own (the account setup) read errors this way too.
func ErrorOf(method, route string, status int, b []byte) *APIError {
	ae := &APIError{Method: method, Route: route, Status: status}
	ae.Message, ae.Attributes = errorText(b)
	return ae
}

// errorText reads Chatwoot's error bodies: {message, attributes} (validation,
// RequestExceptionHandler), {error} (401, 404, bad params), and the
// swagger's {description, errors[{field, message}]}.
func errorText(b []byte) (string, []string) {
	var e struct {
		Message     any      `json:"message"`
		Error       any      `json:"error"`
		Description string   `json:"description"`
		Errors      any      `json:"errors"`
		Attributes  []string `json:"attributes"`
	}
	if json.Unmarshal(b, &e) != nil {
		return "", nil
	}
	var parts []string
	add := func(v any) {
		switch x := v.(type) {
		case string:
			if x != "" {
				parts = append(parts, x)
			}
		case []any:
			for _, it := range x {
				switch y := it.(type) {
				case string:
					parts = append(parts, y)
				case map[string]any:
					if m, ok := y["message"].(string); ok {
						if f, ok := y["field"].(string); ok && f != "" {
							m = f + " " + m
						}
						parts = append(parts, m)
					}
				}
			}
		}
	}
	add(e.Message)
	add(e.Error)
	add(e.Description)
	add(e.Errors)
	msg := strings.Join(parts, "; ")
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "…"
	}
	return msg, e.Attributes
}
