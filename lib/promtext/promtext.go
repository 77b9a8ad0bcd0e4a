// Package promtext writes Prometheus's text exposition format, the parts
// every metrics writer of the project repeats: a metric's HELP and TYPE
// lines and a quoted label value.
package promtext

import (
	"io"
	"strings"
)

// labelEscaper escapes what the exposition format escapes in a label value.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Label quotes v as a label value: "v" with backslash, quote and newline
// escaped.
func Label(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// Header writes the HELP and TYPE lines of metric name (typ: gauge,
// counter). Write errors are left to the writer's Flush, as bufio reports
// them.
func Header(w io.StringWriter, name, help, typ string) {
	_, _ = w.WriteString("# HELP " + name + " " + help + "\n")
	_, _ = w.WriteString("# TYPE " + name + " " + typ + "\n")
}
