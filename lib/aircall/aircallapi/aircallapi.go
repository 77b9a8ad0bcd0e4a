// Package aircallapi is a client of Aircall's public API: stt fetches a
// call again for a freshly signed recording link, and the doctor checks
// the credentials. It is apart from lib/aircall (the webhooks), which
// normalises phone numbers with libphonenumber's metadata: the functions
// that only read a call's audio do not carry it.
package aircallapi

import (
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
	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

// Settings of Aircall's public API, which stt asks for a fresh recording
// link once the one stored from the webhook expired.
var (
	SettingURL = config.Register(config.Setting{Name: "AIRCALL_API_URL", Default: DefaultURL,
		Help: "Aircall public API base URL", Used: "stt"})
	SettingID = config.Register(config.Setting{Name: "AIRCALL_API_ID",
		Help: "Aircall API id; with AIRCALL_API_TOKEN, stt fetches a call again from the Aircall API for a fresh recording link once the signed one expired", Used: "stt"})
	SettingToken = config.Register(config.Setting{Name: "AIRCALL_API_TOKEN", Secret: "aircall-api-token",
		Help: "Aircall API token (see AIRCALL_API_ID)", Used: "stt"})
)

// DefaultURL is Aircall's public API.
const DefaultURL = "https://api.aircall.io"

const (
	// apiTimeout bounds one API request: the answers are small JSON.
	apiTimeout = 30 * time.Second
	// maxAPIResponse bounds a response body read (a call object with its
	// comments and participants is a few kilobytes).
	maxAPIResponse = 1 << 20
	// defaultRateLimitWait is the wait after a 429 that names no reset:
	// Aircall counts requests per minute.
	defaultRateLimitWait = time.Minute
	// maxRateLimitWait bounds a reset far ahead (a skewed clock or a broken
	// header) so one answer cannot park a job for long.
	maxRateLimitWait = time.Hour
)

// ErrUnauthorized is in the chain of an API error for a refused credential
// (HTTP 401 or 403): errors.Is(err, ErrUnauthorized).
var ErrUnauthorized = errors.New("aircall: API credentials refused")

// Client is a client of Aircall's public API (Basic auth api_id:api_token).
// Its errors have fault kinds: Permanent for refused credentials (also
// ErrUnauthorized) and other refusals, NotFound for an unknown call,
// Unavailable for an unreachable API, a 5xx or the rate limit (429, with the
// wait before the next attempt: fault.RetryAfter).
type Client struct {
	base      string
	id, token string
	http      *http.Client
	now       func() time.Time
}

// New returns a client of the API at baseURL (DefaultURL when empty)
// with the credentials id and token. hc nil means a client with a 30 s
// timeout; now nil means time.Now (it reads X-AircallApi-Reset).
func New(baseURL, id, token string, hc *http.Client, now func() time.Time) *Client {
	if baseURL == "" {
		baseURL = DefaultURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: apiTimeout}
	}
	if now == nil {
		now = time.Now
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), id: id, token: token, http: hc, now: now}
}

// FromConfig returns a client configured by AIRCALL_API_URL,
// AIRCALL_API_ID and AIRCALL_API_TOKEN, or nil when the credentials are not
// both set (the API is optional). A malformed URL is reported by cfg.Err().
func FromConfig(cfg *config.Config) *Client {
	base := cfg.URL(SettingURL)
	id, token := cfg.String(SettingID), cfg.String(SettingToken)
	if id == "" || token == "" {
		return nil
	}
	return New(base, id, token, nil, nil)
}

// Error is a non-2xx answer of the API. It never holds the credentials.
type Error struct {
	// Route is the request, e.g. "GET /v1/calls/{id}".
	Route  string
	Status int
	// Message is Aircall's error and troubleshoot text, when it gave one.
	Message string
	// RetryAfter is the wait the answer asked for (429: X-AircallApi-Reset
	// or Retry-After), or 0.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("aircall %s: %d %s", e.Route, e.Status, msg)
}

// RetryDelay is the wait the API asked for, for the job back-off
// (fault.RetryAfter).
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }

// Is makes a refused credential match ErrUnauthorized.
func (e *Error) Is(target error) bool {
	return target == ErrUnauthorized && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// StatusOf returns the HTTP status of an API error in err's chain, or 0 (no
// answer at all: unreachable).
func StatusOf(err error) int {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Ping checks that the API answers and accepts the credentials (GET
// /v1/ping, one request of the rate limit): nil, or an error that is
// ErrUnauthorized (fault.Permanent) for refused credentials and
// fault.Unavailable when the API cannot be reached or is failing.
func (a *Client) Ping(ctx context.Context) error {
	var out struct {
		Ping string `json:"ping"`
	}
	if err := a.get(ctx, "/v1/ping", "GET /v1/ping", &out); err != nil {
		return err
	}
	if out.Ping != "pong" {
		return fault.New(fault.Unavailable, "Aircall API ping answered %q, not pong", out.Ping)
	}
	return nil
}

// Call fetches a call (GET /v1/calls/{id}): its recording and voicemail
// links are freshly signed, unlike the ones stored from its webhooks.
func (a *Client) Call(ctx context.Context, id int64) (Call, error) {
	var out struct {
		Call *Call `json:"call"`
	}
	if err := a.get(ctx, "/v1/calls/"+strconv.FormatInt(id, 10), "GET /v1/calls/{id}", &out); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Call{}, fault.Wrap(fault.NotFound, err, fmt.Sprintf("Aircall has no call %d", id))
		}
		return Call{}, err
	}
	if out.Call == nil || out.Call.ID != id {
		return Call{}, fault.New(fault.Permanent, "Aircall API answered GET /v1/calls/%d without that call", id)
	}
	return *out.Call, nil
}

// get sends one authenticated GET and decodes a 200's JSON into v.
func (a *Client) get(ctx context.Context, path, route string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return fault.Wrap(fault.Permanent, err, "AIRCALL_API_URL is not a usable URL")
	}
	req.SetBasicAuth(a.id, a.token)
	req.Header.Set("Accept", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("aircall %s: %w", route, scrubURL(err)), "Aircall API unreachable")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAPIResponse))
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("aircall %s: read: %w", route, err), "Aircall API unreachable")
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			return fault.Wrap(fault.Unavailable, fmt.Errorf("aircall %s: decode: %w", route, err), "Aircall API answered something that is not its JSON")
		}
		return nil
	}
	ae := &Error{Route: route, Status: res.StatusCode, Message: errorMessage(body)}
	switch s := res.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fault.Wrap(fault.Permanent, ae, fmt.Sprintf("Aircall API refused the credentials (HTTP %d): check AIRCALL_API_ID and AIRCALL_API_TOKEN", s))
	case s == http.StatusNotFound:
		return fault.Wrap(fault.NotFound, ae, "not found at Aircall")
	case s == http.StatusTooManyRequests:
		ae.RetryAfter = a.rateLimitWait(res.Header)
		return fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Aircall API rate limit reached, retry after %s", ae.RetryAfter))
	case s >= 500:
		ae.RetryAfter, _ = backoff.ParseRetryAfter(res.Header.Get("Retry-After"), a.now())
		return fault.Wrap(fault.Unavailable, ae, fmt.Sprintf("Aircall API unavailable (HTTP %d)", s))
	default:
		return fault.Wrap(fault.Permanent, ae, fmt.Sprintf("Aircall API refused the request (HTTP %d)", s))
	}
}

// rateLimitWait reads a 429's wait: Retry-After when given, else
// X-AircallApi-Reset (the UNIX time the count starts again; read as
// milliseconds when too large for seconds), else a minute. It is at least
// a second and at most maxRateLimitWait.
func (a *Client) rateLimitWait(h http.Header) time.Duration {
	now := a.now()
	wait := defaultRateLimitWait
	if v := h.Get("Retry-After"); v != "" {
		wait, _ = backoff.ParseRetryAfter(v, now)
	} else if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-AircallApi-Reset")), 10, 64); err == nil && n > 0 {
		at := time.Unix(n, 0)
		if n > 1e11 { // milliseconds
			at = time.UnixMilli(n)
		}
		wait = at.Sub(now).Round(time.Second)
	}
	return min(max(wait, time.Second), maxRateLimitWait)
}

// errorMessage reads Aircall's error body, {"error": ..., "troubleshoot":
// ...}, clipped; "" when it is something else.
func errorMessage(body []byte) string {
	var e struct {
		Error        string `json:"error"`
		Troubleshoot string `json:"troubleshoot"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := strings.TrimSpace(strings.TrimSpace(e.Error) + ": " + strings.TrimSpace(e.Troubleshoot))
	msg = strings.Trim(msg, ": ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

// scrubURL keeps the scheme and host of a transport error's URL.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Scheme + "://" + u.Host + "/…", Err: ue.Err}
		}
	}
	return err
}

// Call holds the fields of Aircall's call object that Concierge uses.
type Call struct {
	ID               int64                  `json:"id" validate:"required,gt=0"`
	CallUUID         string                 `json:"call_uuid"`
	Direction        string                 `json:"direction" validate:"omitempty,oneof=inbound outbound"`
	Status           string                 `json:"status"`
	MissedCallReason *string                `json:"missed_call_reason"`
	StartedAt        *int64                 `json:"started_at"`
	AnsweredAt       *int64                 `json:"answered_at"`
	EndedAt          *int64                 `json:"ended_at"`
	Duration         int                    `json:"duration" validate:"gte=0"`
	RawDigits        string                 `json:"raw_digits"`
	Voicemail        *string                `json:"voicemail"`
	Recording        *string                `json:"recording"`
	Asset            *string                `json:"asset"`
	Archived         bool                   `json:"archived"`
	User             *struct{ Name string } `json:"user"`
	Contact          *struct{ ID int64 }    `json:"contact"`
	Comments         json.RawMessage        `json:"comments"`
	Tags             json.RawMessage        `json:"tags"`
}

// AudioLink is the audio worth a transcript: the call's recording, or the
// voicemail a caller left (AI Assist transcribes neither for missed calls);
// nil when the call has neither.
func (c Call) AudioLink() *string {
	if c.Recording != nil && *c.Recording != "" {
		return c.Recording
	}
	if c.Voicemail != nil && *c.Voicemail != "" {
		return c.Voicemail
	}
	return nil
}

// Audio is the signed link of the audio worth a transcript (the recording,
// else the voicemail), or "" when the call has neither.
func (c Call) Audio() string {
	if p := c.AudioLink(); p != nil {
		return *p
	}
	return ""
}
