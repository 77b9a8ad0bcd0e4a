package guestdata

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
)

// Export is everything Concierge holds about one guest: every row of every
// part, whole (to_jsonb of the row, so a column added later is exported
// without touching this code), voice clips' audio included (base64).
type Export struct {
	GeneratedAt time.Time `json:"generated_at"`
	Selector    string    `json:"selector"` // the kind only: the value is the guest's own
	Holdings    Holdings  `json:"linked"`
	// Sections in a fixed order, each a list of rows.
	Sections []Section `json:"sections"`
}

// Section is one part's rows.
type Section struct {
	Name string           `json:"name"`
	Rows []map[string]any `json:"rows"`
}

// Rows returns the section named name, or nil.
func (e Export) Rows(name string) []map[string]any {
	for _, s := range e.Sections {
		if s.Name == name {
			return s.Rows
		}
	}
	return nil
}

// Collect reads every part of h in one snapshot.
func Collect(ctx context.Context, db *pgxpool.Pool, sel Selector, h Holdings, now time.Time) (Export, error) {
	e := Export{GeneratedAt: now.UTC(), Selector: sel.Kind, Holdings: h}
	args := h.args()
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, p := range append(append([]part{}, parts...), indexParts...) {
			// tsv is derived from the chunk's text; the export keeps the text.
			rows, err := tx.Query(ctx, "SELECT to_jsonb(t) - 'tsv' FROM "+p.table+" t WHERE "+p.where, args)
			if err != nil {
				return fmt.Errorf("export %s: %w", p.name, err)
			}
			list, err := pgx.CollectRows(rows, pgx.RowTo[map[string]any])
			if err != nil {
				return fmt.Errorf("export %s: %w", p.name, err)
			}
			if list == nil {
				list = []map[string]any{}
			}
			e.Sections = append(e.Sections, Section{Name: p.name, Rows: list})
		}
		return nil
	})
	if err != nil {
		return e, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	return e, nil
}

// WriteJSON writes e as one indented JSON document.
func (e Export) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

// WriteHTML writes e as a page a person can read: one table per section,
// one row per record, nested values as JSON. html/template escapes every
// value, so a message holding markup is shown, never run.
func (e Export) WriteHTML(w io.Writer) error {
	type row struct{ Fields [][2]string }
	type section struct {
		Name string
		Rows []row
	}
	var view struct {
		GeneratedAt string
		Sections    []section
		Total       int
	}
	view.GeneratedAt = e.GeneratedAt.Format(time.RFC1123)
	for _, s := range e.Sections {
		vs := section{Name: s.Name}
		for _, r := range s.Rows {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var out row
			for _, k := range keys {
				out.Fields = append(out.Fields, [2]string{k, display(r[k])})
			}
			vs.Rows = append(vs.Rows, out)
		}
		view.Total += len(s.Rows)
		view.Sections = append(view.Sections, vs)
	}
	return page.Execute(w, view)
}

// display renders one value: strings as they are, the rest as JSON.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

var page = template.Must(template.New("export").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Your data held by Harbor Stays' Concierge</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}
table{border-collapse:collapse;margin:0 0 1rem;width:100%}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{width:14rem;background:#f4f4f4;font-weight:600}
td{white-space:pre-wrap;word-break:break-word}
</style></head><body>
<h1>Your data held by Concierge</h1>
<p>Generated {{.GeneratedAt}}. {{.Total}} record(s) in {{len .Sections}} section(s). The JSON file beside this page holds the same records, machine-readable.</p>
{{range .Sections}}<h2>{{.Name}} ({{len .Rows}})</h2>
{{if not .Rows}}<p>Nothing held.</p>{{end}}{{range .Rows}}<table>{{range .Fields}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{end}}{{end}}</body></html>
`))
