package main

import (
	guestyfetch "github.com/harborstays/concierge/functions/guesty-fetch"
	guestyreconcile "github.com/harborstays/concierge/functions/guesty-reconcile"
)

// The Guesty Open API functions join the runner's functions here rather
// than in functions.go's literal, which other work edits concurrently.
func init() {
	builtin[guestyfetch.Name] = guestyfetch.New
	builtin[guestyreconcile.Name] = guestyreconcile.New
}
