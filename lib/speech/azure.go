package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/backoff"
	"github.com/harborstays/concierge/lib/fault"
)

// UserAgent identifies Concierge to Azure (the TTS API requires one).
const UserAgent = "harborstays-concierge/1.0"

// DefaultVoices are Azure neural voices per language.
const DefaultVoices = "en=en-US-AvaMultilingualNeural,fr=fr-FR-DeniseNeural,de=de-DE-KatjaNeural,es=es-ES-ElviraNeural,it=it-IT-ElsaNeural,pt=pt-PT-RaquelNeural,nl=nl-NL-ColetteNeural"

const maxAzureResponse = 20 << 20

// Azure calls Azure Speech's REST APIs with a subscription key.
type Azure struct {
	Key string
	// Region (e.g. westeurope) builds the endpoints; STTBase, TTSBase and
	// FastBase override them (tests point them at a fake).
	Region           string
	STTBase, TTSBase string
	// FastBase is the host of fast transcription
	// (https://{region}.api.cognitive.microsoft.com when empty).
	FastBase string
	// Locales are the candidate locales of audio transcribed without a
	// language (empty = en-US); more than one has Azure identify it.
	Locales []string
	// Voices maps a language ("en" or "en-GB") to a voice name.
	Voices map[string]string
	HTTP   *http.Client
}

// ParseVoices reads "en=en-US-AvaMultilingualNeural,fr=fr-FR-DeniseNeural".
func ParseVoices(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lang, voice, ok := strings.Cut(part, "=")
		lang, voice = strings.ToLower(strings.TrimSpace(lang)), strings.TrimSpace(voice)
		if !ok || lang == "" || voice == "" {
			return nil, fmt.Errorf("voice %q: want language=VoiceName", part)
		}
		out[lang] = voice
	}
	return out, nil
}

func (a *Azure) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

func (a *Azure) sttURL() string {
	if a.STTBase != "" {
		return strings.TrimRight(a.STTBase, "/")
	}
	return "https://" + a.Region + ".stt.speech.microsoft.com"
}

func (a *Azure) ttsURL() string {
	if a.TTSBase != "" {
		return strings.TrimRight(a.TTSBase, "/")
	}
	return "https://" + a.Region + ".tts.speech.microsoft.com"
}

// voice picks the voice for lang: the exact locale, then the language.
func (a *Azure) voice(lang string) string {
	if v, ok := a.Voices[strings.ToLower(lang)]; ok {
		return v
	}
	if v, ok := a.Voices[baseLang(lang)]; ok {
		return v
	}
	return a.Voices["en"]
}

// shortAudioMax is the longest clip the short-audio endpoint takes.
const shortAudioMax = 60 * time.Second

// Transcribe recognises 16 kHz mono WAV in lang, or when lang is empty in
// one of a.Locales. A clip of up to 60 s in a known locale goes to the
// short-audio endpoint, which answers sooner; a longer clip, or one whose
// language Azure must identify, goes to fast transcription.
func (a *Azure) Transcribe(ctx context.Context, wav []byte, lang string) (Transcript, error) {
	candidates := a.locales()
	if lang != "" {
		candidates = []string{locale(lang)}
	}
	if len(candidates) == 1 && WAVDuration(wav) <= shortAudioMax {
		return a.shortAudio(ctx, wav, candidates[0])
	}
	return a.FastTranscribe(ctx, wav, "audio/wav", candidates)
}

// locales are the candidates of audio in an unknown language.
func (a *Azure) locales() []string {
	if len(a.Locales) == 0 {
		return []string{"en-US"}
	}
	return a.Locales
}

// shortAudio sends up to 60 s of 16 kHz mono WAV in loc to the short-audio
// recognition endpoint (detailed format).
func (a *Azure) shortAudio(ctx context.Context, wav []byte, loc string) (Transcript, error) {
	q := url.Values{"language": {loc}, "format": {"detailed"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		a.sttURL()+"/speech/recognition/conversation/cognitiveservices/v1?"+q.Encode(), bytes.NewReader(wav))
	if err != nil {
		return Transcript{}, fmt.Errorf("azure stt: %w", err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", a.Key)
	req.Header.Set("Content-Type", "audio/wav; codecs=audio/pcm; samplerate=16000")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	body, err := a.do(req, "stt")
	if err != nil {
		return Transcript{}, err
	}
	var v struct {
		RecognitionStatus string
		DisplayText       string
		NBest             []struct {
			Confidence float64
			Display    string
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return Transcript{}, fault.Wrap(fault.Unavailable, fmt.Errorf("azure stt: decode: %w", err), "Azure Speech answered malformed JSON")
	}
	switch v.RecognitionStatus {
	case "Success":
		t := Transcript{Text: v.DisplayText, Provider: "azure", Language: loc}
		if len(v.NBest) > 0 {
			t.Confidence = v.NBest[0].Confidence
			if t.Text == "" {
				t.Text = v.NBest[0].Display
			}
		}
		return t, nil
	case "NoMatch", "InitialSilenceTimeout", "BabbleTimeout":
		// Nothing intelligible: an empty transcript, not an error.
		return Transcript{Provider: "azure", Language: loc}, nil
	default:
		return Transcript{}, fault.New(fault.Unavailable, "Azure Speech recognition status %q", v.RecognitionStatus)
	}
}

// SSML builds the TTS request body, escaping text and attributes.
func SSML(text, lang, voice string) string {
	var b strings.Builder
	b.WriteString("<speak version='1.0' xml:lang='")
	xmlEscape(&b, lang)
	b.WriteString("'><voice name='")
	xmlEscape(&b, voice)
	b.WriteString("'>")
	xmlEscape(&b, text)
	b.WriteString("</voice></speak>")
	return b.String()
}

func xmlEscape(b *strings.Builder, s string) {
	// EscapeText escapes & < > " ' and control characters XML forbids.
	_ = xml.EscapeText(b, []byte(s))
}

// AzureOutputFormat is the X-Microsoft-OutputFormat of f.
func AzureOutputFormat(f Format) string {
	if f == OggOpus {
		return "ogg-16khz-16bit-mono-opus"
	}
	return "audio-16khz-32kbitrate-mono-mp3"
}

// Synthesize calls the TTS endpoint with SSML.
func (a *Azure) Synthesize(ctx context.Context, text, lang string, format Format) ([]byte, string, error) {
	loc := locale(lang)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.ttsURL()+"/cognitiveservices/v1",
		strings.NewReader(SSML(text, loc, a.voice(loc))))
	if err != nil {
		return nil, "", fmt.Errorf("azure tts: %w", err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", a.Key)
	req.Header.Set("Content-Type", "application/ssml+xml")
	req.Header.Set("X-Microsoft-OutputFormat", AzureOutputFormat(format))
	req.Header.Set("User-Agent", UserAgent)
	body, err := a.do(req, "tts")
	if err != nil {
		return nil, "", err
	}
	if len(body) == 0 {
		return nil, "", fault.New(fault.Unavailable, "Azure Speech returned no audio")
	}
	return body, format.ContentType(), nil
}

// RetryAfterError is fault.Unavailable with the wait the provider asked for.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// do sends req and maps the status: 401/403 → fault.Permanent (a
// configuration problem: the key), other 4xx → fault.Permanent, 429 and
// 5xx → fault.Unavailable carrying Retry-After.
func (a *Azure) do(req *http.Request, what string) ([]byte, error) {
	return a.doWith(a.client(), req, what)
}

// doWith is do over client c.
func (a *Azure) doWith(c *http.Client, req *http.Request, what string) ([]byte, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("azure %s: %w", what, scrub(err)), "Azure Speech unreachable")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAzureResponse))
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, fmt.Errorf("azure %s: read: %w", what, err), "Azure Speech unreachable")
	}
	switch s := res.StatusCode; {
	case s >= 200 && s < 300:
		return body, nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, fault.New(fault.Permanent, "Azure Speech %s refused the key (HTTP %d): check AZURE_SPEECH_KEY and AZURE_SPEECH_REGION", what, s)
	case s == http.StatusTooManyRequests || s >= 500:
		wait, _ := backoff.ParseRetryAfter(res.Header.Get("Retry-After"), time.Now())
		err := fault.New(fault.Unavailable, "Azure Speech %s unavailable (HTTP %d), retry after %s", what, s, wait)
		return nil, &RetryAfterError{After: wait, Err: err}
	default:
		return nil, fault.New(fault.Permanent, "Azure Speech %s rejected the request (HTTP %d)", what, s)
	}
}

// scrub drops the URL from a transport error (no key is in it, but the
// region is configuration, not a log field).
func scrub(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// RetryDelay is the provider's Retry-After, for the job back-off
// (fault.RetryAfter).
func (e *RetryAfterError) RetryDelay() time.Duration { return e.After }
