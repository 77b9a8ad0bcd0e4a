package main

import (
	aircallhook "github.com/harborstays/concierge/functions/aircall-hook"
	guestyhook "github.com/harborstays/concierge/functions/guesty-hook"
	vectorize "github.com/harborstays/concierge/functions/vectorize"
	"github.com/harborstays/concierge/lib/fnenv"
)

// builtin lists the functions compiled into the runner. A function of
// stack.yml missing here answers 501 until its issue lands.
var builtin = map[string]fnenv.Constructor{
	aircallhook.Name: aircallhook.New,
	guestyhook.Name:  guestyhook.New,
	vectorize.Name:   vectorize.New,
}
