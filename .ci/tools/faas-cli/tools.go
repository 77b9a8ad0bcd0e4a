//go:build tools

// Package tools pins faas-cli 0.17.0 (the only version the module proxy serves
// here) so CI can build it offline from the module cache:
//
//	go build -o "$BIN/faas-cli" github.com/openfaas/faas-cli
package tools

import _ "github.com/openfaas/faas-cli"
