// Package azuretest fakes the Azure Speech endpoints `concierge doctor`
// probes: the token endpoint of {region}.api.cognitive.microsoft.com and
// the voices list of {region}.tts.speech.microsoft.com.
//
// Keys are regional, as Azure's are: a key of a Speech resource in
// westeurope is refused (401) when asked as northeurope, and a region the
// fake does not know does not resolve. Two ways to reach it:
//   - Client: an *http.Client that sends https://{region}.… to the fake,
//     so the regional URLs are built as in production;
//   - URL: a base URL standing for a private endpoint of one resource
//     (AZURE_SPEECH_ENDPOINT), answering as that resource's region.
package azuretest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Host suffixes of the two regional services.
const (
	tokenHost = ".api.cognitive.microsoft.com"
	ttsHost   = ".tts.speech.microsoft.com"
)

// Paths of the endpoints.
const (
	TokenPath  = "/sts/v1.0/issueToken"
	VoicesPath = "/cognitiveservices/voices/list"
)

// refused is the body Azure's gateway answers a wrong key or region with.
const refused = `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}`

// Voice is one entry of the voices list.
type Voice struct {
	Name      string
	ShortName string
	Gender    string
	Locale    string
	VoiceType string
	Status    string
}

// NeuralVoice is a GA neural voice named short (e.g. en-US-AvaMultilingualNeural).
func NeuralVoice(short string) Voice {
	parts := strings.SplitN(short, "-", 3)
	loc := short
	if len(parts) == 3 {
		loc = parts[0] + "-" + parts[1]
	}
	return Voice{
		Name:      fmt.Sprintf("Microsoft Server Speech Text to Speech Voice (%s, %s)", loc, strings.TrimPrefix(short, loc+"-")),
		ShortName: short, Gender: "Female", Locale: loc, VoiceType: "Neural", Status: "GA",
	}
}

// Request is one request the fake received.
type Request struct {
	Method, Path string
	// Region is the region the request was addressed to.
	Region string
	// KeyOK: the key belongs to Region.
	KeyOK bool
}

// Server is the fake.
type Server struct {
	// URL is the base URL of a private endpoint of a resource in Region.
	URL string
	// Region is the region URL answers as.
	Region string

	srv      *httptest.Server
	mu       sync.Mutex
	keys     map[string]string  // key -> region
	voices   map[string][]Voice // region -> voices
	requests []Request
}

// New starts a fake knowing region, with one key (Key(region)) and the
// voices given (none: an empty list).
func New(t testing.TB, region string, voices ...Voice) *Server {
	t.Helper()
	s := &Server{Region: region, keys: map[string]string{}, voices: map[string][]Voice{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	s.AddRegion(region, voices...)
	return s
}

// AddRegion makes region known (it resolves), with a key and voices.
func (s *Server) AddRegion(region string, voices ...Voice) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := randomKey()
	s.keys[key] = region
	s.voices[region] = append([]Voice(nil), voices...)
	return key
}

// Key returns a key of a Speech resource in region ("" if none).
func (s *Server) Key(region string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.keys {
		if r == region {
			return k
		}
	}
	return ""
}

// Requests returns what the fake received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Client returns an *http.Client that sends requests for
// https://{region}.api.cognitive.microsoft.com and
// https://{region}.tts.speech.microsoft.com to the fake; a region the fake
// does not know fails as an unknown host does. Requests for other hosts go
// out as usual, so one client serves a test's other fakes too.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: roundTripper{s}}
}

type roundTripper struct{ s *Server }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	region, ok := regionOf(host)
	if !ok {
		return http.DefaultTransport.RoundTrip(req)
	}
	rt.s.mu.Lock()
	_, known := rt.s.voices[region]
	rt.s.mu.Unlock()
	if !known {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}
	out := req.Clone(req.Context())
	out.URL.Scheme = "http"
	out.URL.Host = strings.TrimPrefix(rt.s.URL, "http://")
	out.Host = host
	return http.DefaultTransport.RoundTrip(out)
}

func regionOf(host string) (string, bool) {
	for _, suffix := range []string{tokenHost, ttsHost} {
		if r, ok := strings.CutSuffix(host, suffix); ok && r != "" && !strings.Contains(r, ".") {
			return r, true
		}
	}
	return "", false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	// Through URL: a private endpoint of the resource, both services on
	// one host. Through Client: the regional host names the service.
	region, service := s.Region, ""
	if reg, ok := regionOf(host); ok {
		region = reg
		service = tokenHost
		if strings.HasSuffix(host, ttsHost) {
			service = ttsHost
		}
	}
	key := r.Header.Get("Ocp-Apim-Subscription-Key")
	s.mu.Lock()
	keyOK := key != "" && s.keys[key] == region
	voices := s.voices[region]
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Region: region, KeyOK: keyOK})
	s.mu.Unlock()

	switch {
	case r.URL.Path == TokenPath && service != ttsHost:
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
	case r.URL.Path == VoicesPath && service != tokenHost:
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if !keyOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(refused))
		return
	}
	if r.URL.Path == TokenPath {
		// A JWT-shaped token; nobody verifies it.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "eyJhbGciOiJIUzI1NiJ9.%s.%s", hex.EncodeToString([]byte(`{"region":"`+region+`"}`)), randomKey())
		return
	}
	if voices == nil {
		voices = []Voice{}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(voices)
}
