package trust

import "testing"

// A phone channel's sender proves a number only when it is one: digits,
// with at most a leading + and Twilio's "whatsapp:" prefix. Anything else
// (a WhatsApp business-scoped user id, a number typed with dashes, which
// no channel sets) proves nothing. Written for `make mutate`.
// Kills: sourcePhone's `digits == "" || strings.Trim(...) != ""` made &&
// or either side negated.
func TestSourcePhone(t *testing.T) {
	for source, want := range map[string]string{
		"15555550142":                "+15555550142",
		"+15555550142":               "+15555550142",
		" +15555550142 ":             "+15555550142",
		"whatsapp:+15555550142":      "+15555550142",
		"US.13491208655302741918":    "",
		"1-555-555-0142":             "",
		"+1 555 555 0142":            "",
		"whatsapp:":                  "",
		"+":                          "",
		"":                           "",
		"sms:15555550142":            "",
		"15555550142@s.whatsapp.net": "",
	} {
		if got := sourcePhone(source, "US"); got != want {
			t.Errorf("sourcePhone(%q) = %q, want %q", source, got, want)
		}
	}
}
