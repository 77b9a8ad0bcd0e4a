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
		switch {
		case len(s.Default) > 60:
			// Keyword lists: too long for a table cell; the help says where.
			def = "(built-in list)"
		case s.Default != "":
			def = "`" + cell(s.Default) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, secret, def, cell(s.Used), cell(s.Help))
	}
	return b.String()
}

// cell escapes the pipes of a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
