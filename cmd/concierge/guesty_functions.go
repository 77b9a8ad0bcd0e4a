package main

import guestyfetch "github.com/harborstays/concierge/functions/guesty-fetch"

// guesty-fetch joins the runner's functions here rather than in
// functions.go's literal, which other work edits concurrently.
func init() { builtin[guestyfetch.Name] = guestyfetch.New }
