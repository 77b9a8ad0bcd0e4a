package faas

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/harborstays/concierge/lib/jobs"
)

// Prometheus answers what write writes, in Prometheus's text format; an
// error of write is answered as Error does.
func Prometheus(write func(io.Writer) error) handler.Response {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return Error(err)
	}
	return handler.Response{StatusCode: http.StatusOK, Body: b.Bytes(), Header: http.Header{"Content-Type": {jobs.PrometheusContentType}}}
}

// WantsJSON: ?format=json, or an Accept header that names JSON (Prometheus
// asks for text formats only).
func WantsJSON(req handler.Request) bool {
	if q, err := url.ParseQuery(req.QueryString); err == nil && q.Get("format") == "json" {
		return true
	}
	return strings.Contains(req.Header.Get("Accept"), "application/json")
}
