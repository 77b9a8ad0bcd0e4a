// Gateway calls OpenFaaS functions asynchronously through the
// gateway: POST {gateway}/async-function/NAME answers 202 and the
// queue-worker runs the call later.

package faas

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Gateway invokes functions through an OpenFaaS gateway.
type Gateway struct {
	URL    string
	Client *http.Client
}

// NewGateway returns a Gateway for base URL u with a short timeout: the
// gateway only enqueues, it does not run the function.
func NewGateway(u string) *Gateway {
	// Keep connections to the gateway open: every delivery invokes, and the
	// default two idle connections per host make busy hooks redial.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &Gateway{URL: u, Client: &http.Client{Timeout: 5 * time.Second, Transport: t}}
}

// Async posts body to /async-function/function with header.
func (g *Gateway) Async(ctx context.Context, function string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/async-function/"+function, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := g.Client.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusAccepted && res.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke %s: gateway answered %s", function, res.Status)
	}
	return nil
}
