// Package speech turns audio into text and text into audio: local engines
// (ffmpeg, pocketsphinx, flite, espeak-ng, run as processes) and Azure
// Speech's REST APIs, behind two small interfaces. Configuration picks the
// provider: an Azure key and region switch Azure on, otherwise the local
// engines serve.
package speech

import (
	"context"
	"strings"
)

// Transcript is what a Transcriber heard.
type Transcript struct {
	Text string `json:"text"`
	// Confidence in [0, 1] when the provider gives one, else 0.
	Confidence float64 `json:"confidence,omitempty"`
	Provider   string  `json:"provider"`
	// Language is the BCP 47 locale the provider recognised or was told
	// to use, so a reply can be spoken in the guest's language.
	Language string `json:"language,omitempty"`
}

// Transcriber turns 16 kHz mono 16-bit PCM WAV into text. lang is a BCP 47
// tag such as en-US ("" = en-US).
type Transcriber interface {
	Transcribe(ctx context.Context, wav16kMono []byte, lang string) (Transcript, error)
}

// Format is an output audio format.
type Format string

// Output formats: OGG/Opus is what WhatsApp plays as a voice note; MP3
// plays everywhere else.
const (
	OggOpus Format = "ogg-opus"
	MP3     Format = "mp3"
)

// ContentType is the MIME type of f.
func (f Format) ContentType() string {
	if f == OggOpus {
		return "audio/ogg"
	}
	return "audio/mpeg"
}

// Ext is the file extension of f, without the dot.
func (f Format) Ext() string {
	if f == OggOpus {
		return "ogg"
	}
	return "mp3"
}

// FormatFor returns the format a Chatwoot channel plays best
// ("Channel::Whatsapp" → OGG/Opus, anything else MP3).
func FormatFor(channel string) Format {
	if strings.Contains(strings.ToLower(channel), "whatsapp") {
		return OggOpus
	}
	return MP3
}

// Synthesizer speaks text in lang ("" = en-US) and returns the audio in
// format with its content type.
type Synthesizer interface {
	Synthesize(ctx context.Context, text, lang string, format Format) (audio []byte, contentType string, err error)
}

// baseLang is the primary subtag of lang, lower case ("en-US" → "en").
func baseLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if lang == "" {
		return "en"
	}
	return lang
}

// locale turns a language into the locale Azure wants ("en" → "en-US").
func locale(lang string) string {
	lang = strings.TrimSpace(strings.ReplaceAll(lang, "_", "-"))
	if strings.Contains(lang, "-") {
		return lang
	}
	if l, ok := defaultLocales[baseLang(lang)]; ok {
		return l
	}
	if lang == "" {
		return "en-US"
	}
	return lang
}

var defaultLocales = map[string]string{
	"en": "en-US", "fr": "fr-FR", "de": "de-DE", "es": "es-ES", "it": "it-IT", "pt": "pt-PT", "nl": "nl-NL",
}
