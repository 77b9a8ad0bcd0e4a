// Package guestytest is a fake Guesty Open API that plays the protocol as
// Guesty documents it, so the client, guesty-fetch and the import are
// tested against what Guesty would refuse, not only what it accepts:
//
//   - POST /oauth2/token (form: client_credentials, scope open-api): a token
//     valid TokenTTL (24 h), and no more than TokensPerDay (Guesty: five)
//     per client in any 24 hours — the sixth is refused with 429;
//   - bearer tokens checked on every /v1 request (401 for an unknown,
//     expired or revoked one);
//   - the rate limits (15 a second, 120 a minute, 5,000 an hour by
//     default), counted over trailing windows: 429 with Retry-After (whole
//     seconds until the window has room) and the X-RateLimit-* headers;
//   - lists paged with limit (default 25, at most 100) and skip, answering
//     {results, count, limit, skip}; fields= selects fields (dotted paths
//     too; _id always); reservations filter on checkOut and lastUpdatedAt
//     (filters=[{field, operator, value|from,to}]);
//   - GET /v1/reservations/{id}, /v1/listings, /v1/listings/{id},
//     /v1/guests/{id}; 404 for an unknown id;
//   - injected failures (FailNext) and forbidden resources (Forbid).
//
// It records every request, so tests assert what reached Guesty and how
// many requests fell in each window (Peak).
package guestytest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits are the fake's rate limits per trailing window; 0 is unlimited.
type Limits struct {
	PerSecond, PerMinute, PerHour int
}

// GuestyLimits are Guesty's published limits.
var GuestyLimits = Limits{PerSecond: 15, PerMinute: 120, PerHour: 5000}

// DefaultTokensPerDay is Guesty's documented cap: "up to five access
// tokens per API key within a 24-hour period".
const DefaultTokensPerDay = 5

// Server is a running fake.
type Server struct {
	URL          string
	ClientID     string
	ClientSecret string

	mu           sync.Mutex
	limits       Limits
	tokensPerDay int
	tokenTTL     time.Duration
	now          func() time.Time

	reservations map[string]map[string]any
	listings     map[string]map[string]any
	guests       map[string]map[string]any

	tokens   map[string]time.Time // token -> expiry
	issued   []time.Time          // when each token was issued
	refused  int                  // token requests refused for the daily cap
	accepted []time.Time          // API requests let through the rate limit
	log      []Request
	thrott   int
	fail     []int
	forbid   []string
	slow     time.Duration
}

// Request is one request the fake received.
type Request struct {
	Method, Path string
	Query        url.Values
	Status       int
}

// Option configures a Server.
type Option func(*Server)

// WithLimits sets the rate limits (tests use small ones to finish fast).
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithTokensPerDay sets the daily token cap.
func WithTokensPerDay(n int) Option { return func(s *Server) { s.tokensPerDay = n } }

// WithClock sets the clock of token expiry and the daily cap (the rate
// windows always use the real clock: clients sleep on it).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTokenTTL sets the lifetime of a token (Guesty: 24 h).
func WithTokenTTL(d time.Duration) Option { return func(s *Server) { s.tokenTTL = d } }

// New starts a fake with Guesty's limits and a fresh client id and secret;
// it stops when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// NewServer returns an unstarted fake (serve it with httptest or a
// listener and set URL) for benchmarks and commands.
func NewServer(opts ...Option) *Server {
	s := &Server{
		ClientID: "0oa-fake-client", ClientSecret: "fake-secret-8d1f0c7e2b",
		limits: GuestyLimits, tokensPerDay: DefaultTokensPerDay, tokenTTL: 24 * time.Hour, now: time.Now,
		reservations: map[string]map[string]any{}, listings: map[string]map[string]any{}, guests: map[string]map[string]any{},
		tokens: map[string]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddListing stores a listing (a JSON object with _id), replacing one with
// the same id.
func (s *Server) AddListing(l map[string]any) { s.put(s.listings, l) }

// AddReservation stores a reservation.
func (s *Server) AddReservation(r map[string]any) { s.put(s.reservations, r) }

// AddGuest stores a guest.
func (s *Server) AddGuest(g map[string]any) { s.put(s.guests, g) }

// AddJSON stores the object of a fixture: kind is "reservation", "listing"
// or "guest".
func (s *Server) AddJSON(kind string, raw []byte) error {
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	switch kind {
	case "reservation":
		s.AddReservation(o)
	case "listing":
		s.AddListing(o)
	case "guest":
		s.AddGuest(o)
	default:
		return fmt.Errorf("guestytest: unknown kind %q", kind)
	}
	return nil
}

func (s *Server) put(m map[string]map[string]any, o map[string]any) {
	id, _ := o["_id"].(string)
	if id == "" {
		panic("guestytest: object without _id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m[id] = clone(o)
}

// UpdateReservation applies change to a stored reservation and stamps
// lastUpdatedAt with the fake's clock, as Guesty does on every change.
func (s *Server) UpdateReservation(id string, change func(r map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reservations[id]
	if !ok {
		panic("guestytest: no reservation " + id)
	}
	change(r)
	r["lastUpdatedAt"] = Stamp(s.now())
}

// Forget removes a reservation, listing or guest by id, as a deletion at
// Guesty does: later reads of it answer 404.
func (s *Server) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reservations, id)
	delete(s.listings, id)
	delete(s.guests, id)
}

// Reservation returns a copy of a stored reservation, or nil.
func (s *Server) Reservation(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reservations[id]; ok {
		return clone(r)
	}
	return nil
}

// Stamp formats t as Guesty writes instants (millisecond ISO-8601 UTC).
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// FailNext makes the next API requests (after authentication) answer the
// given statuses, one each.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// Forbid makes requests whose path starts with prefix answer 403, as for
// an OAuth application without that permission.
func (s *Server) Forbid(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbid = append(s.forbid, prefix)
}

// SetLimits changes the rate limits of a running fake (a test that is
// throttled first, then lets a later run through).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// Slow delays every API answer by d (concurrency tests).
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = d
}

// Revoke invalidates every token issued so far, as Guesty does when the
// application's secret is regenerated.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Stats are the fake's counters.
type Stats struct {
	// TokensIssued and TokensRefused count token requests.
	TokensIssued, TokensRefused int
	// Requests counts /v1 requests let through the rate limit;
	// Throttled the ones answered 429.
	Requests, Throttled int
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{TokensIssued: len(s.issued), TokensRefused: s.refused, Requests: len(s.accepted), Throttled: s.thrott}
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Peak is the most API requests let through in any interval of length d.
func (s *Server) Peak(d time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	peak, lo := 0, 0
	for hi, t := range s.accepted {
		for t.Sub(s.accepted[lo]) >= d {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// MinDuration is the least time n requests take under l, from a standing
// start: the figure an import's wall time is measured against.
func MinDuration(n int, l Limits) time.Duration {
	var d time.Duration
	for _, w := range []struct {
		n    int
		span time.Duration
	}{{l.PerSecond, time.Second}, {l.PerMinute, time.Minute}, {l.PerHour, time.Hour}} {
		if w.n > 0 && n > w.n {
			// The n-th request cannot leave before (n-1)/w.n whole windows.
			d = max(d, time.Duration((n-1)/w.n)*w.span)
		}
	}
	return d
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: rec.status})
		s.mu.Unlock()
	}()
	if r.URL.Path == "/oauth2/token" {
		s.token(rec, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		apiError(rec, http.StatusNotFound, "NOT_FOUND", "no such route")
		return
	}
	if r.Method != http.MethodGet {
		apiError(rec, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "the fake serves GET only")
		return
	}
	if !s.authorized(r) {
		apiError(rec, http.StatusUnauthorized, "UNAUTHORIZED", "invalid or expired access token")
		return
	}
	status, retry := s.admit(rec.Header())
	if status == http.StatusTooManyRequests {
		rec.Header().Set("Retry-After", strconv.Itoa(retry))
		apiError(rec, status, "TOO_MANY_REQUESTS", "rate limit exceeded")
		return
	}
	s.mu.Lock()
	slow := s.slow
	var injected int
	if len(s.fail) > 0 {
		injected, s.fail = s.fail[0], s.fail[1:]
	}
	forbidden := false
	for _, p := range s.forbid {
		forbidden = forbidden || strings.HasPrefix(r.URL.Path, p)
	}
	s.mu.Unlock()
	if slow > 0 {
		time.Sleep(slow)
	}
	switch {
	case injected != 0:
		apiError(rec, injected, "INJECTED", "injected failure")
		return
	case forbidden:
		apiError(rec, http.StatusForbidden, "FORBIDDEN", "the application has no permission for this resource")
		return
	}
	s.route(rec, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// token serves POST /oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "form body required")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	case r.PostForm.Get("scope") != "open-api":
		oauthError(w, http.StatusBadRequest, "invalid_scope", "scope must be open-api")
		return
	case r.PostForm.Get("client_id") != s.ClientID || r.PostForm.Get("client_secret") != s.ClientSecret:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	s.mu.Lock()
	now := s.now()
	day := 0
	oldest := now
	for _, t := range s.issued {
		if now.Sub(t) < 24*time.Hour {
			if day == 0 {
				oldest = t
			}
			day++
		}
	}
	if day >= s.tokensPerDay {
		s.refused++
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(oldest.Add(24*time.Hour).Sub(now).Seconds()))))
		oauthError(w, http.StatusTooManyRequests, "too_many_requests", fmt.Sprintf("at most %d access tokens per client in 24 hours", s.tokensPerDay))
		return
	}
	tok := fmt.Sprintf("fake-token-%d-%d", len(s.issued)+1, now.UnixNano())
	s.issued = append(s.issued, now)
	s.tokens[tok] = now.Add(s.tokenTTL)
	ttl := s.tokenTTL
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(ttl.Seconds()), "access_token": tok, "scope": "open-api"})
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.now().Before(exp)
}

// admit counts a request against the trailing windows: 200, or 429 with
// the whole seconds until every window has room.
func (s *Server) admit(h http.Header) (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var wait time.Duration
	for _, w := range []struct {
		name string
		n    int
		span time.Duration
	}{{"Second", s.limits.PerSecond, time.Second}, {"Minute", s.limits.PerMinute, time.Minute}, {"Hour", s.limits.PerHour, time.Hour}} {
		if w.n <= 0 {
			continue
		}
		in := 0
		for i := len(s.accepted) - 1; i >= 0 && now.Sub(s.accepted[i]) < w.span; i-- {
			in++
		}
		if in >= w.n {
			// Room again once the request that is w.n-th from the end leaves.
			at := s.accepted[len(s.accepted)-w.n].Add(w.span)
			wait = max(wait, at.Sub(now))
		}
		h.Set("X-RateLimit-Limit-"+w.name, strconv.Itoa(w.n))
		h.Set("X-RateLimit-Remaining-"+w.name, strconv.Itoa(max(w.n-in-1, 0)))
	}
	if wait > 0 {
		s.thrott++
		return http.StatusTooManyRequests, max(int(math.Ceil(wait.Seconds())), 1)
	}
	s.accepted = append(s.accepted, now)
	return http.StatusOK, 0
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	var coll map[string]map[string]any
	switch parts[0] {
	case "reservations":
		coll = s.reservations
	case "listings":
		coll = s.listings
	case "guests":
		coll = s.guests
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
		return
	}
	fields := strings.Fields(r.URL.Query().Get("fields"))
	switch len(parts) {
	case 1:
		if parts[0] == "guests" {
			apiError(w, http.StatusNotFound, "NOT_FOUND", "the fake lists reservations and listings only")
			return
		}
		s.list(w, r, coll, fields)
	case 2:
		s.mu.Lock()
		o, ok := coll[parts[1]]
		var out map[string]any
		if ok {
			out = project(o, fields)
		}
		s.mu.Unlock()
		if !ok {
			apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %s not found", strings.TrimSuffix(parts[0], "s"), parts[1]))
			return
		}
		writeJSON(w, http.StatusOK, out)
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
	}
}

// Filter is one of the reservations list's filters.
type Filter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, coll map[string]map[string]any, fields []string) {
	q := r.URL.Query()
	limit, skip := 25, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "limit must be 1 to 100")
			return
		}
		limit = n
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "skip must be a whole number")
			return
		}
		skip = n
	}
	var filters []Filter
	if v := q.Get("filters"); v != "" {
		if err := json.Unmarshal([]byte(v), &filters); err != nil {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "filters must be a JSON array")
			return
		}
		for _, f := range filters {
			if f.Field != "checkOut" && f.Field != "lastUpdatedAt" && f.Field != "status" {
				apiError(w, http.StatusBadRequest, "BAD_REQUEST", "the fake filters on checkOut, lastUpdatedAt and status")
				return
			}
		}
	}
	s.mu.Lock()
	ids := make([]string, 0, len(coll))
	for id, o := range coll {
		if matches(o, filters) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if strings.HasPrefix(q.Get("sort"), "-") {
		sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	}
	results := []map[string]any{}
	for i := skip; i < len(ids) && i < skip+limit; i++ {
		results = append(results, project(coll[ids[i]], fields))
	}
	count := len(ids)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "count": count, "limit": limit, "skip": skip})
}

func matches(o map[string]any, filters []Filter) bool {
	for _, f := range filters {
		v, _ := o[f.Field].(string)
		val := fmt.Sprint(f.Value)
		switch f.Operator {
		case "$between":
			if v == "" || v < f.From || v > f.To {
				return false
			}
		case "$gte":
			if v == "" || v < val {
				return false
			}
		case "$gt":
			if v == "" || v <= val {
				return false
			}
		case "$lte":
			if v == "" || v > val {
				return false
			}
		case "$lt":
			if v == "" || v >= val {
				return false
			}
		case "$eq":
			if v != val {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// project keeps the given fields of o (dotted paths select inside objects;
// _id always); all of them when fields is empty.
func project(o map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return clone(o)
	}
	out := map[string]any{"_id": o["_id"]}
	for _, f := range fields {
		head, rest, dotted := strings.Cut(f, ".")
		v, ok := o[head]
		if !ok {
			continue
		}
		if !dotted {
			out[head] = cloneValue(v)
			continue
		}
		sub, ok := v.(map[string]any)
		if !ok {
			continue
		}
		have, _ := out[head].(map[string]any)
		if have == nil {
			have = map[string]any{}
			out[head] = have
		}
		for k, vv := range project(sub, []string{rest}) {
			have[k] = vv
		}
	}
	return out
}

func clone(o map[string]any) map[string]any {
	return cloneValue(o).(map[string]any)
}

func cloneValue(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers in the Open API's error shape.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// oauthError answers in OAuth 2.0's error shape (RFC 6749 §5.2), which
// Guesty's token endpoint follows.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}
