package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// num writes n with thin thousands separators: 1 234 567.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u2009")
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// human writes a duration the way a person says it: 42 s, 3.5 min, 2 h,
// 3 days.
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Second:
		return "under 1 s"
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Minutes()), ".0") + " min"
	case d < 48*time.Hour:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Hours()), ".0") + " h"
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// bytesize writes n bytes as kB, MB or GB (powers of 1000).
func bytesize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

func pct(f float64) string { return fmt.Sprintf("%.0f %%", 100*f) }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
