package main

import (
	"fmt"
	"strings"

	"github.com/harborstays/concierge/lib/config"
)

// configTable renders every registered setting as a Markdown table.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | secret file | default | used by | meaning |\n|---|---|---|---|---|\n")
	for _, s := range config.All() {
		secret := ""
		if s.Secret != "" {
			secret = "`" + s.Secret + "`"
		}
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, secret, def, s.Used, s.Help)
	}
	return b.String()
}
