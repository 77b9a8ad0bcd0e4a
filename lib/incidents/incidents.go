// Package incidents counts provider refusals that only a configuration
// change fixes — a model id the provider retired, a rejected key — so an
// operator sees them as a metric. Functions run as separate processes that
// nobody scrapes, so each occurrence is written to the database
// (provider_incidents: one row per provider, setting and provider code,
// with a count and when it was first and last seen), and the operator's
// Prometheus endpoint (redrive's GET) writes the rows with WritePrometheus.
package incidents

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/promtext"
)

// Incident is one refusal of a provider caused by a setting.
type Incident struct {
	// Provider names the dependency: llm, embeddings, speech...
	Provider string
	// Setting is what to change, by its configuration name (LLM_MODEL).
	Setting string
	// Code is the provider's error code (model_decommissioned); "unknown"
	// when it gave none.
	Code string
	// Message explains it for the operator. It must hold no secret and no
	// personal data; Record still masks what looks like a key or an email
	// address and bounds its length.
	Message string

	// Read by List.
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// Bounds of what is stored: labels stay short identifiers (a provider's
// free text must not become a metric label), messages a few lines.
const (
	maxMessageRunes = 500
	codeUnknown     = "unknown"
	codeOther       = "other"
)

var (
	labelRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	// Keys of the providers this project calls (Groq gsk_, OpenAI sk-,
	// xAI xai-...), bearer tokens, and email addresses.
	secretRe = regexp.MustCompile(`(?i)\b(?:gsk|sk|xai|pk|rk)[-_][A-Za-z0-9_-]{8,}|bearer\s+\S+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
)

// Record counts one occurrence of in: the first creates its row, the next
// ones add one to the count and move last_seen (the database's clock) and
// keep the newest message.
func Record(ctx context.Context, db *pgxpool.Pool, in Incident) error {
	if !labelRe.MatchString(in.Provider) || !labelRe.MatchString(in.Setting) {
		return fault.Field("incident", "provider and setting must be short identifiers, got %q and %q", in.Provider, in.Setting)
	}
	code := in.Code
	switch {
	case code == "":
		code = codeUnknown
	case !labelRe.MatchString(code):
		code = codeOther
	}
	_, err := db.Exec(ctx, `INSERT INTO provider_incidents AS p (provider, setting, code, message) VALUES ($1, $2, $3, $4)
		ON CONFLICT (provider, setting, code) DO UPDATE SET count = p.count + 1, last_seen = now(),
			message = CASE WHEN EXCLUDED.message <> '' THEN EXCLUDED.message ELSE p.message END`,
		in.Provider, in.Setting, code, clean(in.Message))
	if err != nil {
		return fault.Wrap(fault.Unavailable, fmt.Errorf("record incident %s %s %s: %w", in.Provider, in.Setting, code, err), "database unavailable")
	}
	return nil
}

// clean masks key-like tokens and email addresses, drops control
// characters and bounds the length.
func clean(s string) string {
	s = secretRe.ReplaceAllString(s, "[redacted]")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxMessageRunes {
		s = string(r[:maxMessageRunes]) + "…"
	}
	return s
}

// List returns every incident, by provider, setting and code.
func List(ctx context.Context, db *pgxpool.Pool) ([]Incident, error) {
	rows, err := db.Query(ctx, `SELECT provider, setting, code, message, count, first_seen, last_seen
		FROM provider_incidents ORDER BY provider, setting, code`)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("list incidents: %w", err), "database unavailable")
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		var in Incident
		if err := rows.Scan(&in.Provider, &in.Setting, &in.Code, &in.Message, &in.Count, &in.FirstSeen, &in.LastSeen); err != nil {
			return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("list incidents: %w", err), "database unavailable")
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("list incidents: %w", err), "database unavailable")
	}
	return out, nil
}

// Metric names WritePrometheus writes.
const (
	MetricTotal    = "concierge_provider_config_errors_total"
	MetricLastSeen = "concierge_provider_config_error_last_seen_timestamp_seconds"
)

// WritePrometheus writes every incident in the Prometheus text exposition
// format (text/plain; version=0.0.4, as jobs.PrometheusContentType), after
// the HELP and TYPE lines even when there is none:
//
//	concierge_provider_config_errors_total{provider="llm",setting="LLM_MODEL",code="model_decommissioned"} 3
//	concierge_provider_config_error_last_seen_timestamp_seconds{provider="llm",setting="LLM_MODEL",code="model_decommissioned"} 1786924800.000
//
// The total only grows (rows are never deleted), so
// increase(concierge_provider_config_errors_total[10m]) > 0 is the alert.
func WritePrometheus(ctx context.Context, db *pgxpool.Pool, w io.Writer) error {
	list, err := List(ctx, db)
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	promtext.Header(b, MetricTotal, "Provider refusals only a configuration change fixes (a retired model id, a rejected key), by provider, the setting to change and the provider's code.", "counter")
	for _, in := range list {
		fmt.Fprintf(b, "%s{%s} %d\n", MetricTotal, labels(in), in.Count)
	}
	promtext.Header(b, MetricLastSeen, "When the latest such refusal happened, in Unix seconds.", "gauge")
	for _, in := range list {
		fmt.Fprintf(b, "%s{%s} %s\n", MetricLastSeen, labels(in), strconv.FormatFloat(float64(in.LastSeen.UnixMilli())/1000, 'f', 3, 64))
	}
	return b.Flush()
}

func labels(in Incident) string {
	return "provider=" + promtext.Label(in.Provider) + ",setting=" + promtext.Label(in.Setting) + ",code=" + promtext.Label(in.Code)
}
