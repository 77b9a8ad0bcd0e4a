package localrun

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Bounds of the runner's HTTP server: a request's headers and its whole
// body must arrive within these, so a slow client cannot hold a connection
// (and a goroutine) open for ever. Answers are not bounded: /dev/ask waits
// up to a minute for the assistant.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// NewServer returns the runner's HTTP server for h: h behind Guard, with
// read timeouts.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           Guard(h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    1 << 20,
	}
}

// Guard keeps web pages the developer visits away from the runner, which
// listens on loopback but holds real webhook secrets (POST /dev/ask signs
// whatever it is sent) and guest conversations (GET /outbox):
//   - only loopback Host names are served, so a page cannot reach the
//     runner through a name it controls that resolves to 127.0.0.1 (DNS
//     rebinding);
//   - /dev/* refuses cross-site requests: an Origin other than the runner's
//     own, or Sec-Fetch-Site other than same-origin or none. curl sends
//     neither and is served.
func Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			jsonError(w, http.StatusMisdirectedRequest,
				"the local runner answers only to 127.0.0.1, localhost or [::1] as Host (a guard against DNS rebinding); use http://127.0.0.1:PORT")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/dev/") {
			if why := crossSite(r); why != "" {
				jsonError(w, http.StatusForbidden, "cross-site request to "+r.URL.Path+" refused: "+why)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether hostport (a Host header) names a loopback
// address: 127.0.0.1, localhost or [::1], with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	switch strings.ToLower(host) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// crossSite says why r comes from another site, or "" when it comes from
// the runner's own origin or from no browser page at all.
func crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "Sec-Fetch-Site is " + site
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || !loopbackHost(u.Host) || !strings.EqualFold(u.Host, r.Host) {
		return "Origin is not this runner's"
	}
	return ""
}
