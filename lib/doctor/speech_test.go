package doctor

import (
	"testing"

	"github.com/harborstays/concierge/lib/speech/azuretest"
)

// azureVoices are the voices of the default AZURE_SPEECH_VOICES.
func azureVoices() []azuretest.Voice {
	var out []azuretest.Voice
	for _, v := range []string{"en-US-AvaMultilingualNeural", "fr-FR-DeniseNeural", "de-DE-KatjaNeural", "es-ES-ElviraNeural",
		"it-IT-ElsaNeural", "pt-PT-RaquelNeural", "nl-NL-ColetteNeural", "en-GB-SoniaNeural"} {
		out = append(out, azuretest.NeuralVoice(v))
	}
	return out
}

func TestAzureRight(t *testing.T) {
	fake := azuretest.New(t, "westeurope", azureVoices()...)
	res := report(t, map[string]string{"AZURE_SPEECH_KEY": fake.Key("westeurope"), "AZURE_SPEECH_REGION": "westeurope"},
		Options{HTTPClient: fake.Client()})
	want(t, res, "azure speech key", OK, "key accepted by region westeurope", "")
	want(t, res, "azure speech voices", OK, "all 7 configured voices offered in westeurope (of 8)", "")
	for _, r := range fake.Requests() {
		if r.Region != "westeurope" || !r.KeyOK {
			t.Errorf("request %+v", r)
		}
	}
}

func TestAzureBroken(t *testing.T) {
	fake := azuretest.New(t, "westeurope", azureVoices()...)
	northKey := fake.AddRegion("northeurope", azureVoices()...)
	for _, tc := range []struct {
		name             string
		env              map[string]string
		keyFound, keyFix string
		voicesState      State
		voiceFound, vFix string
	}{
		{"wrong key", map[string]string{"AZURE_SPEECH_KEY": "0123456789abcdef0123456789abcdef", "AZURE_SPEECH_REGION": "westeurope"},
			"westeurope.api.cognitive.microsoft.com refused the key", "AZURE_SPEECH_KEY", Skip, "not checked", ""},
		{"key of another region", map[string]string{"AZURE_SPEECH_KEY": northKey, "AZURE_SPEECH_REGION": "westeurope"},
			"refused the key", "AZURE_SPEECH_REGION", Skip, "not checked", ""},
		{"unknown region", map[string]string{"AZURE_SPEECH_KEY": northKey, "AZURE_SPEECH_REGION": "northeurop"},
			"northeurop.api.cognitive.microsoft.com does not resolve", "AZURE_SPEECH_REGION", Skip, "not checked", ""},
		{"voice the region lacks", map[string]string{"AZURE_SPEECH_KEY": northKey, "AZURE_SPEECH_REGION": "northeurope",
			"AZURE_SPEECH_VOICES": "en=en-US-AvaMultilingualNeural,ga=ga-IE-OrlaNeural"},
			"key accepted by region northeurope", "", Fail, "1 of 2 configured voices not offered in northeurope: ga-IE-OrlaNeural", "AZURE_SPEECH_VOICES"},
		{"region missing", map[string]string{"AZURE_SPEECH_KEY": northKey},
			"AZURE_SPEECH_REGION", "correct the setting", Skip, "not checked", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := report(t, tc.env, Options{HTTPClient: fake.Client()})
			state := Fail
			if tc.keyFix == "" {
				state = OK
			}
			want(t, res, "azure speech key", state, tc.keyFound, tc.keyFix)
			want(t, res, "azure speech voices", tc.voicesState, tc.voiceFound, tc.vFix)
			for name, r := range res {
				if k := tc.env["AZURE_SPEECH_KEY"]; containsStr(r.Found+r.Fix, k) {
					t.Errorf("%s shows the key", name)
				}
			}
		})
	}
}

// Through AZURE_SPEECH_ENDPOINT, the mechanism stt and tts tests use: the
// fake answers as a private endpoint of a westeurope resource.
func TestAzureEndpoint(t *testing.T) {
	fake := azuretest.New(t, "westeurope", azureVoices()...)
	northKey := fake.AddRegion("northeurope")
	env := map[string]string{"AZURE_SPEECH_KEY": fake.Key("westeurope"), "AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_ENDPOINT": fake.URL}
	res := report(t, env, Options{})
	want(t, res, "azure speech key", OK, "(AZURE_SPEECH_ENDPOINT)", "")
	want(t, res, "azure speech voices", OK, "all 7", "")

	env["AZURE_SPEECH_KEY"] = northKey
	res = report(t, env, Options{})
	want(t, res, "azure speech key", Fail, "refused the key", "AZURE_SPEECH_KEY")

	env["AZURE_SPEECH_ENDPOINT"] = "http://127.0.0.1:1"
	res = report(t, env, Options{})
	want(t, res, "azure speech key", Fail, "127.0.0.1:1", "AZURE_SPEECH_ENDPOINT")
}
