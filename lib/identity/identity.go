// Package identity normalises the keys that join one guest across Guesty,
// Aircall and Chatwoot: E.164 phone numbers and lower-cased emails.
package identity

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone returns raw in E.164 form (+15555550142), or "" when it is not a
// phone number. Numbers without a country code are read in defaultRegion
// (ISO 3166 alpha-2, e.g. "US"); Guesty stores "12016665626" as well as
// "+1 (555) 555-0142".
//
// libphonenumber is used rather than stripping punctuation because guests are
// international: trunk prefixes ("07700 900123" in GB), "00" exits and
// extensions all need the per-country metadata it carries.
func Phone(raw, defaultRegion string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.EqualFold(raw, "anonymous") {
		return ""
	}
	if defaultRegion == "" {
		defaultRegion = "US"
	}
	num, err := phonenumbers.Parse(raw, strings.ToUpper(defaultRegion))
	if err != nil {
		return ""
	}
	// Fictional 555 numbers are not "valid" per the numbering plan but are
	// well-formed; accept any number with a plausible length so matching
	// works for them and for new ranges the metadata does not know yet.
	if !phonenumbers.IsPossibleNumber(num) {
		return ""
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

// Email returns the trimmed, lower-cased address, or "" if it has no @.
func Email(raw string) string {
	e := strings.ToLower(strings.TrimSpace(raw))
	if i := strings.LastIndexByte(e, '@'); i <= 0 || i == len(e)-1 {
		return ""
	}
	return e
}
