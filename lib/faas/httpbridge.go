package faas

import (
	"bytes"
	"context"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/fault"
)

// ServeHTTP runs an http.Handler for one go-http request, for a function
// that serves pages or forms rather than one JSON call. The function sees
// no path behind the gateway (/function/NAME is stripped), so the request
// reaches h as "/?" plus the query string.
func ServeHTTP(h http.Handler, req handler.Request) handler.Response {
	ctx := req.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, "/?"+req.QueryString, bytes.NewReader(req.Body))
	if err != nil {
		return Error(fault.Wrap(fault.Invalid, err, "malformed request"))
	}
	if req.Header != nil {
		r.Header = req.Header.Clone()
	}
	r.Host = req.Host
	w := &recorder{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return handler.Response{StatusCode: w.status, Body: w.body.Bytes(), Header: w.header}
}

// recorder collects what the handler writes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
