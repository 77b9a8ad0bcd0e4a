package speech

import (
	"fmt"
	"net/http"
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
		Help: "base URL replacing both regional Azure Speech hosts (a private endpoint or proxy; tests point it at a fake)", Used: "stt, tts"})
	AzureVoices = config.Register(config.Setting{Name: "AZURE_SPEECH_VOICES", Default: DefaultVoices,
		Help: "Azure TTS voice per language: lang=VoiceName, comma-separated (a locale such as en-GB may have its own)", Used: "tts"})
	MaxBytes = config.Register(config.Setting{Name: "VOICE_MAX_BYTES", Default: "10485760",
		Help: "largest voice message downloaded and transcribed, in bytes", Used: "stt"})
	MaxDuration = config.Register(config.Setting{Name: "VOICE_MAX_DURATION", Default: "2m",
		Help: "longest voice message transcribed (Azure short audio takes 60 s at most)", Used: "stt"})
)

// Engines are the configured providers.
type Engines struct {
	Provider    string // azure or local
	Transcriber Transcriber
	Synthesizer Synthesizer
	Tools       Tools
	Limits      Limits
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
	if key != "" {
		region = c.Require(AzureRegion)
	}
	if key != "" && region != "" {
		base := c.String(AzureEndpoint)
		az := &Azure{Key: key, Region: region, STTBase: base, TTSBase: base, Voices: voices, HTTP: &http.Client{Timeout: 60 * time.Second}}
		e.Provider, e.Transcriber, e.Synthesizer = "azure", az, az
		return e, nil
	}
	e.Transcriber = Pocketsphinx{Tools: e.Tools}
	e.Synthesizer = LocalVoice{Tools: e.Tools}
	return e, nil
}
