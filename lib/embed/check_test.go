package embed

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	p, srv := newProvider(t, 768)
	c := newClient(t, srv, &clock{}, Options{})
	dims, err := c.Probe(t.Context())
	if err != nil || dims != 768 {
		t.Fatalf("Probe = %d, %v", dims, err)
	}
	if len(p.inputs) != 1 || len(p.inputs[0]) != 1 || p.inputs[0][0] != ProbeText {
		t.Fatalf("inputs %q", p.inputs)
	}
}

func TestProbeRefusedOnceWithoutRetry(t *testing.T) {
	p, srv := newProvider(t, 8, status(http.StatusUnauthorized), status(http.StatusUnauthorized))
	c := newClient(t, srv, &clock{}, Options{})
	_, err := c.Probe(t.Context())
	if HTTPStatus(err) != http.StatusUnauthorized {
		t.Fatalf("err %v, status %d", err, HTTPStatus(err))
	}
	if strings.Contains(err.Error(), testKey) {
		t.Fatalf("key in error: %v", err)
	}
	if len(p.inputs) != 1 {
		t.Fatalf("%d requests, want 1", len(p.inputs))
	}
}

func TestProbeChecksConfiguredDimensions(t *testing.T) {
	_, srv := newProvider(t, 384)
	c := newClient(t, srv, &clock{}, Options{Dimensions: 768})
	dims, err := c.Probe(t.Context())
	var de *DimensionsError
	if !errors.As(err, &de) || dims != 384 || de.Got != 384 || de.Configured != 768 {
		t.Fatalf("Probe = %d, %v", dims, err)
	}
	if c.Dimensions() != 768 {
		t.Fatalf("the probe changed the client's size to %d", c.Dimensions())
	}
}
