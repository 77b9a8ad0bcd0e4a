package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// Charts are small hand-written SVG: a bar per day, and labelled
// horizontal bars. No script, no library; colours come from the page's
// stylesheet by class, so they follow it and the CSP allows them.

// dailyChart draws a bar per day: the guest messages in grey, and on top
// of it the replies stacked (answered, drafts, hand-offs) on the same
// scale.
func dailyChart(days []Day) template.HTML {
	const (
		w, h   = 600.0, 180.0
		left   = 36.0
		bottom = 22.0
		top    = 8.0
	)
	var most int64
	for _, d := range days {
		most = max(most, d.GuestMessages, d.Answered+d.Drafts+d.Handoffs)
	}
	if most == 0 {
		most = 1
	}
	plotH := h - bottom - top
	slot := (w - left) / float64(max(len(days), 1))
	y := func(n int64) float64 { return plotH * float64(n) / float64(most) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="guest messages and replies per day">`, w, h)
	// Axis: the highest count and zero.
	fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-4, top+8, num(most))
	fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">0</text>`, left-4, top+plotH)
	fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, left, top+plotH, w, top+plotH)
	for i, d := range days {
		x := left + float64(i)*slot
		bw := slot * 0.8
		base := top + plotH
		fmt.Fprintf(&b, `<g><title>%s: %s guest messages, %s answered, %s drafts, %s hand-offs</title>`,
			template.HTMLEscapeString(d.Day.Format("Mon 2 Jan")), num(d.GuestMessages), num(d.Answered), num(d.Drafts), num(d.Handoffs))
		fmt.Fprintf(&b, `<rect class="bar-msg" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-y(d.GuestMessages), bw, y(d.GuestMessages))
		stack := base
		for _, part := range []struct {
			n     int64
			class string
		}{{d.Answered, "bar-auto"}, {d.Drafts, "bar-draft"}, {d.Handoffs, "bar-handoff"}} {
			if part.n == 0 {
				continue
			}
			stack -= y(part.n)
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, part.class, x+bw*0.25, stack, bw*0.5, y(part.n))
		}
		b.WriteString(`</g>`)
		if i == 0 || i == len(days)-1 || (len(days) > 8 && i == len(days)/2) {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+bw/2, h-6, template.HTMLEscapeString(d.Day.Format("2 Jan")))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barsChart draws one labelled bar per count, longest first.
func barsChart(label string, cs []Count) template.HTML {
	if len(cs) == 0 {
		return ""
	}
	const (
		w, row = 600.0, 24.0
		labelW = 300.0
	)
	var most int64
	for _, c := range cs {
		most = max(most, c.N)
	}
	h := row * float64(len(cs))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(label))
	for i, c := range cs {
		y := float64(i) * row
		bw := (w - labelW - 60) * float64(c.N) / float64(max(most, 1))
		fmt.Fprintf(&b, `<g><title>%s: %s</title>`, template.HTMLEscapeString(c.Label), num(c.N))
		fmt.Fprintf(&b, `<text class="label" x="0" y="%.1f">%s</text>`, y+16, template.HTMLEscapeString(truncateRunes(c.Label, 44)))
		fmt.Fprintf(&b, `<rect class="bar-auto" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, labelW, y+4, max(bw, 1), row-8)
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f">%s</text></g>`, labelW+max(bw, 1)+6, y+16, num(c.N))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// breakdownTable writes the per-inbox or per-listing table: a line per
// inbox or listing (up to a few hundred), written here rather than by the
// template, whose reflection costs milliseconds at that size. Every text
// is escaped; param is "inbox" or "listing".
func breakdownTable(rows []Breakdown, param string, days int) template.HTML {
	if len(rows) == 0 {
		return `<p class="muted">Nothing in this window.</p>`
	}
	var b strings.Builder
	b.WriteString(`<div class="scroll"><table class="breakdown"><thead><tr><th></th><th class="n">guest messages</th><th class="n">answered</th>` +
		`<th class="n">drafts</th><th class="n">hand-offs</th><th class="n">median</th><th class="n">p90</th><th class="n">voice</th></tr></thead><tbody>`)
	for _, r := range rows {
		href := "?" + url.Values{"page": {"overview"}, "days": {strconv.Itoa(days)}, param: {r.Key}}.Encode()
		fmt.Fprintf(&b, `<tr><td><a href="%s">%s</a></td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>`+
			`<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>`,
			template.HTMLEscapeString(href), template.HTMLEscapeString(r.Label), num(r.GuestMessages), num(r.Answered), num(r.Drafts),
			num(r.Handoffs), human(r.Median), human(r.P90), num(r.VoiceMessages))
	}
	b.WriteString(`</tbody></table></div>`)
	return template.HTML(b.String())
}
