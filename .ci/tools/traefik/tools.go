//go:build tools

// Package tools pins Traefik v3.6.12, the version the traefik stack runs
// (ansible/roles/platform/files/stacks/traefik/stack.yml), so .ci/tools/traefik/run
// can build the real binary from the module proxy and load the platform's
// dynamic configuration into it. Traefik's own go.mod replaces three modules;
// replace directives of a dependency are ignored, so go.mod repeats them.
//
//	go build -o traefik github.com/traefik/traefik/v3/cmd/traefik
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
