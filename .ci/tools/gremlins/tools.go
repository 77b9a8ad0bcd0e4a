//go:build tools

// Package tools pins gremlins v0.6.0, the mutation tester `make mutate` runs
// (.ci/tools/mutate drives it one package at a time):
//
//	go build -o "$BIN/gremlins" github.com/go-gremlins/gremlins/cmd/gremlins
package tools

import _ "github.com/go-gremlins/gremlins/cmd/gremlins"
