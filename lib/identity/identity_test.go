package identity

import "testing"

func TestPhone(t *testing.T) {
	tests := []struct {
		raw, region, want string
	}{
		{"+1 (555) 555-0142", "US", "+15555550142"},
		{"+1 555-555-0142", "US", "+15555550142"},
		{"+15555550142", "US", "+15555550142"},
		{"12016665626", "US", "+12016665626"},
		{"2016665626", "US", "+12016665626"},
		{"07700 900123", "GB", "+447700900123"},
		{"0044 7700 900123", "GB", "+447700900123"},
		{"anonymous", "US", ""},
		{"", "US", ""},
		{"12", "US", ""},
		{"not a number", "US", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := Phone(tt.raw, tt.region); got != tt.want {
				t.Errorf("Phone(%q, %q) = %q, want %q", tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	tests := map[string]string{
		" Jordan.Avery@Example.com ": "jordan.avery@example.com",
		"jordan.avery@example.com":   "jordan.avery@example.com",
		"no-at-sign":                 "",
		"@example.com":               "",
		"x@":                         "",
	}
	for raw, want := range tests {
		if got := Email(raw); got != want {
			t.Errorf("Email(%q) = %q, want %q", raw, got, want)
		}
	}
}
