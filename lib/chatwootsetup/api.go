package chatwootsetup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/chatwoot"
)

// Bounds of the setup's requests.
const (
	// DefaultTimeout bounds one request: every call is one small read or
	// write.
	DefaultTimeout = 15 * time.Second
	// maxResponseBytes bounds what is read of an answer (an account's
	// inboxes, agents or the dashboard page).
	maxResponseBytes = 8 << 20
	// maxErrorMessage bounds Chatwoot's error text kept in an error.
	maxErrorMessage = 300
)

// api calls one Chatwoot with one token. It does not retry: the setup is
// idempotent, so running it again is the retry.
type api struct {
	base  string
	token string
	http  *http.Client
	// writes counts the requests that may change something.
	writes int
}

func newAPI(base, token string, hc *http.Client) (*api, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: Chatwoot's base URL must be an absolute http(s) URL", chatwoot.SettingURL.Name)
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	// The dashboard's redirects (onboarding, a sign-in gate) are answers,
	// not places to go.
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &api{base: strings.TrimRight(base, "/"), token: token, http: &cp}, nil
}

// call sends a JSON request to path (from the root, e.g.
// /platform/api/v1/accounts) and decodes a 2xx answer into out. A non-2xx
// answer is a *chatwoot.APIError whose Route is path; the token, the body
// and the query are never in an error.
func (a *api) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("chatwoot %s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("chatwoot %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("api_access_token", a.token)
	}
	if method != http.MethodGet {
		a.writes++
	}
	res, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("chatwoot %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("chatwoot %s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return chatwoot.ErrorOf(method, path, res.StatusCode, b)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("chatwoot %s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

// page fetches a dashboard page: its status, Location and body.
func (a *api) page(ctx context.Context, path string) (status int, location string, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Accept", "text/html")
	res, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", nil, fmt.Errorf("chatwoot GET %s: %w", path, err)
	}
	defer res.Body.Close()
	body, err = io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	return res.StatusCode, res.Header.Get("Location"), body, err
}
