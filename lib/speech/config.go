package speech

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/config"
)

// Settings of the speech providers.
var (
	AzureKey = config.Register(config.Setting{Name: "AZURE_SPEECH_KEY", Secret: "azure-speech-key",
		Help: "Azure Speech subscription key; with AZURE_SPEECH_REGION it switches stt and tts to Azure (else local pocketsphinx, flite/espeak-ng)", Used: "stt, tts"})
	AzureRegion = config.Register(config.Setting{Name: "AZURE_SPEECH_REGION",
		Help: "Azure Speech region, e.g. westeurope", Used: "stt, tts"})
	AzureEndpoint = config.Register(config.Setting{Name: "AZURE_SPEECH_ENDPOINT",
		Help: "base URL replacing the regional Azure Speech hosts of stt, tts and fast transcription (a private endpoint or proxy; tests point it at a fake)", Used: "stt, tts"})
	AzureVoices = config.Register(config.Setting{Name: "AZURE_SPEECH_VOICES", Default: DefaultVoices,
		Help: "Azure TTS voice per language: lang=VoiceName, comma-separated (a locale such as en-GB may have its own)", Used: "tts"})
	MaxBytes = config.Register(config.Setting{Name: "VOICE_MAX_BYTES", Default: "10485760",
		Help: "largest voice message downloaded and transcribed, in bytes", Used: "stt"})
	MaxDuration = config.Register(config.Setting{Name: "VOICE_MAX_DURATION", Default: "2m",
		Help: "longest voice message transcribed (Azure switches to fast transcription beyond 60 s; calls: CALL_MAX_DURATION)", Used: "stt"})
	Languages = config.Register(config.Setting{Name: "VOICE_LANGUAGES", Default: "en-US",
		Help: "locales voice messages and call recordings may be in, comma-separated (BCP 47, e.g. en-US,fr-FR,es-ES); more than one makes Azure identify the language (fast transcription); the local pocketsphinx model is English only", Used: "stt"})
)

// maxLocales is how many candidate locales Azure's language
// identification accepts.
const maxLocales = 10

// ParseLocales reads "en-US,fr-FR": language-REGION locales, 2 or 3
// letters then 2, written back as Azure spells them (en-us → en-US).
// Repeats are dropped; empty yields none.
func ParseLocales(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		lang, region, ok := strings.Cut(part, "-")
		if !ok || len(lang) < 2 || len(lang) > 3 || len(region) != 2 || !letters(lang) || !letters(region) {
			return nil, fmt.Errorf("locale %q: want language-REGION such as en-US or fil-PH", part)
		}
		loc := strings.ToLower(lang) + "-" + strings.ToUpper(region)
		if seen[loc] {
			continue
		}
		seen[loc] = true
		out = append(out, loc)
	}
	if len(out) > maxLocales {
		return nil, fmt.Errorf("%d locales: Azure identifies a language among %d at most", len(out), maxLocales)
	}
	return out, nil
}

func letters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// Engines are the configured providers.
type Engines struct {
	Provider    string // azure or local
	Transcriber Transcriber
	Synthesizer Synthesizer
	Tools       Tools
	Limits      Limits
	// Locales are the languages audio may be in (VOICE_LANGUAGES), the
	// first the most likely; pocketsphinx hears English whatever they say.
	Locales []string
}

// FromConfig picks Azure when a key and a region are set, else the local
// engines. A missing region is collected in c (c.Err()).
func FromConfig(c *config.Config) (Engines, error) {
	e := Engines{Provider: "local", Limits: Limits{MaxBytes: int64(c.Int(MaxBytes)), MaxDuration: c.Duration(MaxDuration)}}
	key, region := c.String(AzureKey), c.String(AzureRegion)
	voices, err := ParseVoices(c.String(AzureVoices))
	if err != nil {
		return e, fmt.Errorf("AZURE_SPEECH_VOICES: %w", err)
	}
	locales, err := ParseLocales(c.String(Languages))
	if err != nil {
		return e, fmt.Errorf("VOICE_LANGUAGES: %w", err)
	}
	if len(locales) == 0 {
		locales = []string{"en-US"}
	}
	e.Locales = locales
	if key != "" {
		region = c.Require(AzureRegion)
	}
	if key != "" && region != "" {
		base := c.String(AzureEndpoint)
		az := &Azure{Key: key, Region: region, STTBase: base, TTSBase: base, FastBase: base, Locales: locales,
			Voices: voices, HTTP: &http.Client{Timeout: 60 * time.Second}}
		e.Provider, e.Transcriber, e.Synthesizer = "azure", az, az
		return e, nil
	}
	e.Transcriber = Pocketsphinx{Tools: e.Tools}
	e.Synthesizer = LocalVoice{Tools: e.Tools}
	return e, nil
}
