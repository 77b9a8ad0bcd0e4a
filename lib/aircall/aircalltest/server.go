// Package aircalltest is a fake of Aircall's public API for tests, faithful
// to the contract (shared/contracts, Aircall): HTTP Basic auth api_id:api_token
// (401 {error, troubleshoot} otherwise), GET /v1/ping ({"ping":"pong"}),
// GET /v1/calls/{id} ({"call": {...}} with freshly signed recording or
// voicemail links; 404 for an unknown call), and the company's rate limit
// (429 once Limit requests were made in the current window, with
// X-AircallApi-Limit, -Remaining and -Reset, the reset in UNIX seconds).
//
// The signed links point at a second server standing in for the object
// store, which serves the audio like an S3 presigned URL: 403
// "Request has expired" once the link's lifetime (LinkTTL) passed, 403 for
// a wrong signature, and 400 when the request carries an Authorization
// header as well (S3 allows one auth mechanism per request).
//
// It does not import lib/aircall: its JSON is written from the contract, so
// a decoding mistake in the client shows up in tests.
package aircalltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of a new Server, from the contract.
const (
	// DefaultLimit is Aircall's documented rate limit per company and
	// minute (the brief's figure; newer pages say 120).
	DefaultLimit = 60
	// DefaultLinkTTL is the reported lifetime of a signed recording link.
	DefaultLinkTTL = time.Hour
)

// Request is one request the fake received (never the credentials).
type Request struct {
	Method, Path string
	// Auth: "ok", "wrong" or "none" for API requests; for the object
	// store, whether an Authorization header came along ("none" is right).
	Auth   string
	Status int
}

// Call is a call the fake knows.
type Call struct {
	ID int64
	// Audio is served at the call's signed link; nil means no recording.
	Audio []byte
	// ContentType of Audio; audio/mpeg when empty.
	ContentType string
	// Voicemail puts the link under voicemail (a missed call) instead of
	// recording.
	Voicemail bool
}

// Server is a running fake. Set its fields before the requests they
// govern; they are read under its lock.
type Server struct {
	// URL is the API's base URL (AIRCALL_API_URL).
	URL string
	// StoreURL is the object store's base URL, where signed links point.
	StoreURL string
	// ID and Token are the accepted credentials.
	ID, Token string

	mu sync.Mutex
	// Limit is the API requests answered per Window before 429; 0 means no
	// limit.
	Limit int
	// Window is the span the limit counts over: a minute at Aircall. A
	// window starts with its first request.
	Window time.Duration
	// LinkTTL is how long a signed link works.
	LinkTTL time.Duration
	// Now is the fake's clock (time.Now by default).
	Now func() time.Time

	calls       map[int64]Call
	windowStart time.Time
	count       int
	requests    []Request
	secret      []byte
}

// New starts a fake with the contract's defaults and the credentials
// "aircall-api-id" / "aircall-api-token"; it stops with the test.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		ID: "aircall-api-id", Token: "aircall-api-token",
		Limit: DefaultLimit, Window: time.Minute, LinkTTL: DefaultLinkTTL, Now: time.Now,
		calls: map[int64]Call{}, secret: []byte("aircalltest-signing-key"),
	}
	api := httptest.NewServer(http.HandlerFunc(s.serveAPI))
	store := httptest.NewServer(http.HandlerFunc(s.serveStore))
	t.Cleanup(api.Close)
	t.Cleanup(store.Close)
	s.URL, s.StoreURL = api.URL, store.URL
	return s
}

// AddCall makes c known to the API.
func (s *Server) AddCall(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.ID] = c
}

// SignedLink is the link to call id's audio signed at signedAt: what a
// webhook or an earlier API answer held. It stops working LinkTTL after
// signedAt.
func (s *Server) SignedLink(id int64, signedAt time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedLink(id, signedAt)
}

// Requests returns what the fake received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// APIRequests counts the requests made to the API (not the object store).
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if strings.HasPrefix(r.Path, "/v1/") {
			n++
		}
	}
	return n
}

func (s *Server) record(r *http.Request, auth string, status int) {
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Auth: auth, Status: status})
}

// writeError answers Aircall's error body.
func writeError(w http.ResponseWriter, status int, title, troubleshoot string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": title, "troubleshoot": troubleshoot})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := "none"
	if id, token, ok := r.BasicAuth(); ok {
		auth = "wrong"
		if id == s.ID && token == s.Token {
			auth = "ok"
		}
	}
	status := s.answer(w, r, auth)
	s.record(r, auth, status)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, auth string) int {
	if auth != "ok" {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Check your api_id/api_token or your access_token")
		return http.StatusUnauthorized
	}
	now := s.Now()
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.Window)) {
		s.windowStart, s.count = now, 0
	}
	s.count++
	if s.Limit > 0 && s.count > s.Limit {
		reset := s.windowStart.Add(s.Window)
		w.Header().Set("X-AircallApi-Limit", strconv.Itoa(s.Limit))
		w.Header().Set("X-AircallApi-Remaining", "0")
		// UNIX seconds, rounded up so the reset is never early.
		w.Header().Set("X-AircallApi-Reset", strconv.FormatInt(reset.Add(time.Second-time.Nanosecond).Unix(), 10))
		writeError(w, http.StatusTooManyRequests, "Too Many Requests", "Rate limit reached, wait for the reset")
		return http.StatusTooManyRequests
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "")
		return http.StatusMethodNotAllowed
	}
	switch rest, isCall := strings.CutPrefix(r.URL.Path, "/v1/calls/"); {
	case r.URL.Path == "/v1/ping":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"ping":"pong"}`))
		return http.StatusOK
	case isCall && !strings.Contains(rest, "/"):
		id, err := strconv.ParseInt(rest, 10, 64)
		c, ok := s.calls[id]
		if err != nil || !ok {
			writeError(w, http.StatusNotFound, "Not found", "Call not found")
			return http.StatusNotFound
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]any{"call": s.callObject(c, now)})
		return http.StatusOK
	}
	writeError(w, http.StatusNotFound, "Not found", "Unknown route")
	return http.StatusNotFound
}

// callObject is the contract's call object, as the REST API names its
// fields (sid, not call_uuid).
func (s *Server) callObject(c Call, now time.Time) map[string]any {
	var recording, voicemail, short any
	status, missed := "done", any(nil)
	answered := any(now.Add(-200 * time.Second).Unix())
	user := any(map[string]any{"id": 987654, "direct_link": s.URL + "/v1/users/987654", "name": "Riley Chen",
		"email": "riley.chen@example.com", "available": true, "language": "en-US"})
	if c.Audio != nil {
		link := s.signedLink(c.ID, now)
		short = "https://short.example.com/r/" + strconv.FormatInt(c.ID, 36)
		if c.Voicemail {
			voicemail = link
		} else {
			recording = link
		}
	}
	if c.Voicemail {
		missed, answered, user = "out_of_opening_hours", nil, nil
	}
	return map[string]any{
		"id": c.ID, "direct_link": fmt.Sprintf("%s/v1/calls/%d", s.URL, c.ID),
		"sid": fmt.Sprintf("CA%032x", c.ID), "direction": "inbound", "status": status,
		"missed_call_reason": missed, "started_at": now.Add(-210 * time.Second).Unix(), "answered_at": answered,
		"ended_at": now.Add(-10 * time.Second).Unix(), "duration": 200, "cost": "0", "hangup_cause": nil,
		"raw_digits": "+1 555-555-0142", "recording": recording, "recording_short_url": short, "voicemail": voicemail,
		"asset": fmt.Sprintf("https://assets.aircall.io/calls/%d/recording", c.ID), "archived": false,
		"user": user, "assigned_to": nil, "contact": nil,
		"number": map[string]any{"id": 512345, "direct_link": s.URL + "/v1/numbers/512345", "name": "Harbor Stays Guest Line",
			"digits": "+1 555-555-0100", "country": "US", "time_zone": "America/Los_Angeles"},
		"comments": []any{}, "tags": []any{}, "teams": []any{}, "conference_participants": []any{},
		"ivr_options_selected": []any{},
	}
}

// signedLink is an S3-style presigned URL for call id's audio.
func (s *Server) signedLink(id int64, signedAt time.Time) string {
	date := signedAt.UTC().Format("20060102T150405Z")
	expires := strconv.Itoa(int(s.LinkTTL / time.Second))
	path := fmt.Sprintf("/calls/%d/recording.mp3", id)
	return fmt.Sprintf("%s%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=%s&X-Amz-Expires=%s&X-Amz-Signature=%s",
		s.StoreURL, path, date, expires, s.sign(path, date, expires))
}

func (s *Server) sign(path, date, expires string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(path + "\n" + date + "\n" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

// s3Error answers like S3.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (s *Server) serveStore(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := "none"
	if r.Header.Get("Authorization") != "" {
		auth = "sent"
	}
	status := s.serveAudio(w, r, auth)
	s.record(r, auth, status)
}

func (s *Server) serveAudio(w http.ResponseWriter, r *http.Request, auth string) int {
	q := r.URL.Query()
	date, expires, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Signature")
	switch {
	case auth != "none":
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return http.StatusBadRequest
	case !hmac.Equal([]byte(sig), []byte(s.sign(r.URL.Path, date, expires))):
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return http.StatusForbidden
	}
	signed, err := time.Parse("20060102T150405Z", date)
	ttl, err2 := strconv.Atoi(expires)
	if err != nil || err2 != nil || !s.Now().Before(signed.Add(time.Duration(ttl)*time.Second)) {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return http.StatusForbidden
	}
	var id int64
	if _, err := fmt.Sscanf(r.URL.Path, "/calls/%d/recording.mp3", &id); err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return http.StatusNotFound
	}
	c, ok := s.calls[id]
	if !ok || c.Audio == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return http.StatusNotFound
	}
	ct := c.ContentType
	if ct == "" {
		ct = "audio/mpeg"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Audio)))
	_, _ = w.Write(c.Audio)
	return http.StatusOK
}
