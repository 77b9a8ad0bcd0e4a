package localrun

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/rs/zerolog"

	"github.com/harborstays/concierge/lib/jobs"
)

// The runner signs the jobs handed to it (jobs.Invoke), like the functions'
// invokers; what arrives over HTTP it passes on unsigned, so the local
// gateway is no signing service for whoever can reach it.
func TestGatewaySignsOnlyItsOwnJobs(t *testing.T) {
	keys, err := jobs.NewKeys(jobs.RandomKey())
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{Workers: 1, Log: zerolog.Nop(), JobKeys: keys})
	defer g.Close()
	type got struct {
		header http.Header
		body   []byte
	}
	calls := make(chan got, 2)
	g.Register("vectorize", func(req handler.Request) (handler.Response, error) {
		calls <- got{req.Header.Clone(), append([]byte(nil), req.Body...)}
		return handler.Response{StatusCode: http.StatusOK}, nil
	})
	next := func() got {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("async call never ran")
			return got{}
		}
	}
	j := jobs.Job{ID: "3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f", Kind: "vectorize", Function: "vectorize", Subject: "listing:1"}
	if err := jobs.Invoke(context.Background(), g, j); err != nil {
		t.Fatal(err)
	}
	if c := next(); keys.Verify(c.header, "vectorize", c.body) != nil {
		t.Errorf("job invoked through the runner is not signed: %v", c.header)
	}

	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	body := `{"job_id":"3f1c0a52-9d0e-4c55-8a51-3c9e4b1d2e7f","kind":"vectorize","subject":"listing:1"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/async-function/vectorize", strings.NewReader(body))
	req.Header.Set(jobs.JobIDHeader, j.ID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if c := next(); c.header.Get(jobs.SignatureHeader) != "" || keys.Verify(c.header, "vectorize", c.body) == nil {
		t.Errorf("an HTTP caller's invocation was signed: %v", c.header)
	}
}
