package main

import (
	aircallhook "github.com/harborstays/concierge/functions/aircall-hook"
	backupfn "github.com/harborstays/concierge/functions/backup"
	chatwootreply "github.com/harborstays/concierge/functions/chatwoot-reply"
	consolefn "github.com/harborstays/concierge/functions/console"
	guestyhook "github.com/harborstays/concierge/functions/guesty-hook"
	llmquery "github.com/harborstays/concierge/functions/llm-query"
	purge "github.com/harborstays/concierge/functions/purge"
	redrive "github.com/harborstays/concierge/functions/redrive"
	stt "github.com/harborstays/concierge/functions/stt"
	tts "github.com/harborstays/concierge/functions/tts"
	vectorize "github.com/harborstays/concierge/functions/vectorize"
	"github.com/harborstays/concierge/lib/faas"
)

// builtin lists the functions compiled into the runner (other files add to
// it in init, e.g. guesty_functions.go); every function of stack.yml is
// here today. One missing would be declared and answer 501 with the reason.
var builtin = map[string]faas.Constructor{
	aircallhook.Name:   aircallhook.New,
	backupfn.Name:      backupfn.New,
	chatwootreply.Name: chatwootreply.New,
	consolefn.Name:     consolefn.Local, // the runner serves 127.0.0.1 only: its console may be open
	guestyhook.Name:    guestyhook.New,
	llmquery.Name:      llmquery.New,
	purge.Name:         purge.New,
	redrive.Name:       redrive.New,
	stt.Name:           stt.New,
	tts.Name:           tts.New,
	vectorize.Name:     vectorize.New,
}
