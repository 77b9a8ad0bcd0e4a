package speech_test

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/speech/azuretest"
)

func TestIssueTokenRegionalKeys(t *testing.T) {
	fake := azuretest.New(t, "westeurope")
	northKey := fake.AddRegion("northeurope")
	westKey := fake.Key("westeurope")
	for _, tc := range []struct {
		name, key, region string
		refused, dns      bool
	}{
		{"key of the region", westKey, "westeurope", false, false},
		{"key of another region", northKey, "westeurope", true, false},
		{"region asked with another region's key", westKey, "northeurope", true, false},
		{"wrong key", "0123456789abcdef0123456789abcdef", "westeurope", true, false},
		{"unknown region", westKey, "westeurop", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &speech.Azure{Key: tc.key, Region: tc.region, HTTP: fake.Client()}
			if got := a.TokenURL(); got != "https://"+tc.region+".api.cognitive.microsoft.com/sts/v1.0/issueToken" {
				t.Fatalf("token URL %s", got)
			}
			tok, err := a.IssueToken(t.Context())
			var dns *net.DNSError
			switch {
			case tc.refused:
				if !errors.Is(err, speech.ErrKeyRefused) {
					t.Fatalf("err %v, want ErrKeyRefused", err)
				}
			case tc.dns:
				if !errors.As(err, &dns) || !dns.IsNotFound {
					t.Fatalf("err %v, want a host that does not resolve", err)
				}
			default:
				if err != nil || !strings.HasPrefix(tok, "eyJ") {
					t.Fatalf("token %q, %v", tok, err)
				}
			}
			if err != nil && strings.Contains(err.Error(), tc.key) {
				t.Fatalf("key in error %v", err)
			}
		})
	}
}

func TestListVoicesAndMissing(t *testing.T) {
	fake := azuretest.New(t, "westeurope", azuretest.NeuralVoice("en-US-AvaMultilingualNeural"), azuretest.NeuralVoice("fr-FR-DeniseNeural"))
	voices, _ := speech.ParseVoices("en=en-US-AvaMultilingualNeural,en-gb=en-US-AvaMultilingualNeural,fr=fr-FR-DeniseNeural,de=de-DE-NoSuchNeural")
	// Through the base URL, as AZURE_SPEECH_ENDPOINT sets it.
	a := &speech.Azure{Key: fake.Key("westeurope"), Region: "westeurope", TTSBase: fake.URL, FastBase: fake.URL, Voices: voices}
	list, err := a.ListVoices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ShortName != "en-US-AvaMultilingualNeural" || list[0].Locale != "en-US" {
		t.Fatalf("list %+v", list)
	}
	if got := a.ConfiguredVoices(); !slices.Equal(got, []string{"de-DE-NoSuchNeural", "en-US-AvaMultilingualNeural", "fr-FR-DeniseNeural"}) {
		t.Fatalf("configured %q", got)
	}
	if got := a.MissingVoices(list); !slices.Equal(got, []string{"de-DE-NoSuchNeural"}) {
		t.Fatalf("missing %q", got)
	}
	if _, err := a.IssueToken(t.Context()); err != nil {
		t.Fatalf("token through the endpoint: %v", err)
	}
	a.Key = "0123456789abcdef0123456789abcdef"
	if _, err := a.ListVoices(t.Context()); !errors.Is(err, speech.ErrKeyRefused) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Region != "westeurope" {
			t.Fatalf("request %+v", r)
		}
	}
}
