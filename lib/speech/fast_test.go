package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
)

const (
	fastPath  = "/speechtotext/transcriptions:transcribe"
	shortPath = "/speech/recognition/conversation/cognitiveservices/v1"
)

// checkFast holds a fast transcription request to the documented
// contract and records its locales; false answers 400 as Azure would.
func (f *fakeAzure) checkFast(r *http.Request) bool {
	t := f.t
	if v := r.URL.Query().Get("api-version"); v != "2024-11-15" {
		t.Errorf("api-version %q", v)
		return false
	}
	if ua := r.Header.Get("User-Agent"); ua != UserAgent {
		t.Errorf("User-Agent %q", ua)
	}
	if a := r.Header.Get("Accept"); a != "application/json" {
		t.Errorf("fast accept %q", a)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		t.Errorf("fast content type %q", r.Header.Get("Content-Type"))
		return false
	}
	parts := map[string]int{}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("multipart: %v", err)
			return false
		}
		body, _ := io.ReadAll(p)
		parts[p.FormName()]++
		switch p.FormName() {
		case "audio":
			if p.FileName() != "audio.wav" || p.Header.Get("Content-Type") != "audio/wav" {
				t.Errorf("audio part %q %q", p.FileName(), p.Header.Get("Content-Type"))
			}
			if !bytes.HasPrefix(body, []byte("RIFF")) {
				t.Errorf("audio part is not WAV")
			}
		case "definition":
			var def struct {
				Locales []string `json:"locales"`
			}
			if err := json.Unmarshal(body, &def); err != nil {
				t.Errorf("definition %s: %v", body, err)
				return false
			}
			f.locales = def.Locales
		}
	}
	if len(parts) != 2 || parts["audio"] != 1 || parts["definition"] != 1 {
		t.Errorf("parts %v, want audio and definition once each", parts)
		return false
	}
	return true
}

// fastEnglish is the documented response shape: two phrases, 3 s at 0.9
// and 1 s at 0.5, so the duration-weighted confidence is 0.8.
const fastEnglish = `{"durationMilliseconds": 90000,
	"combinedPhrases": [{"text": "Hi, what time is check-in? And where can we park?"}],
	"phrases": [
		{"offsetMilliseconds": 960, "durationMilliseconds": 3000, "text": "Hi, what time is check-in?", "words": [{"text": "Hi", "offsetMilliseconds": 960, "durationMilliseconds": 240}], "locale": "en-US", "confidence": 0.9},
		{"offsetMilliseconds": 4200, "durationMilliseconds": 1000, "text": "And where can we park?", "words": [], "locale": "en-US", "confidence": 0.5}]}`

// fastFrench: a short English greeting, then mostly French.
const fastFrench = `{"durationMilliseconds": 10000,
	"combinedPhrases": [{"text": "Hello. Bonjour, à quelle heure est l'arrivée ?"}],
	"phrases": [
		{"offsetMilliseconds": 100, "durationMilliseconds": 600, "text": "Hello.", "locale": "en-US", "confidence": 0.6},
		{"offsetMilliseconds": 900, "durationMilliseconds": 4000, "text": "Bonjour, à quelle heure est l'arrivée ?", "locale": "fr-FR", "confidence": 0.95}]}`

const shortEnglish = `{"RecognitionStatus":"Success","Offset":1800000,"Duration":23600000,"DisplayText":"What time can we check in?",
	"NBest":[{"Confidence":0.93,"Display":"What time can we check in?"}]}`

func TestAzureTranscribeRoutes(t *testing.T) {
	tests := []struct {
		name        string
		audio       time.Duration
		lang        string
		candidates  []string
		body        string
		wantPath    string
		wantLocales []string // sent to fast transcription
		wantText    string
		wantLang    string
		wantConf    float64
	}{
		{name: "90 s, one locale: fast", audio: 90 * time.Second, body: fastEnglish, wantPath: fastPath, wantLocales: []string{"en-US"},
			wantText: "Hi, what time is check-in? And where can we park?", wantLang: "en-US", wantConf: 0.8},
		{name: "90 s, language given: fast in it", audio: 90 * time.Second, lang: "fr", candidates: []string{"en-US", "de-DE"}, body: fastFrench,
			wantPath: fastPath, wantLocales: []string{"fr-FR"}, wantText: "Hello. Bonjour, à quelle heure est l'arrivée ?", wantLang: "fr-FR", wantConf: (0.6*600 + 0.95*4000) / 4600},
		{name: "10 s, one locale: short audio", audio: 10 * time.Second, body: shortEnglish, wantPath: shortPath,
			wantText: "What time can we check in?", wantLang: "en-US", wantConf: 0.93},
		{name: "60 s exactly: short audio", audio: 60 * time.Second, candidates: []string{"en-GB"}, body: shortEnglish, wantPath: shortPath,
			wantText: "What time can we check in?", wantLang: "en-GB", wantConf: 0.93},
		{name: "10 s, language given among candidates: short audio", audio: 10 * time.Second, lang: "de", candidates: []string{"en-US", "fr-FR"}, body: shortEnglish,
			wantPath: shortPath, wantText: "What time can we check in?", wantLang: "de-DE", wantConf: 0.93},
		{name: "10 s, two candidates: fast identifies French", audio: 10 * time.Second, candidates: []string{"en-US", "fr-FR"}, body: fastFrench,
			wantPath: fastPath, wantLocales: []string{"en-US", "fr-FR"}, wantText: "Hello. Bonjour, à quelle heure est l'arrivée ?", wantLang: "fr-FR", wantConf: (0.6*600 + 0.95*4000) / 4600},
		{name: "nothing intelligible: empty transcript", audio: 90 * time.Second, candidates: []string{"es-ES", "en-US"},
			body: `{"durationMilliseconds": 90000, "combinedPhrases": [], "phrases": []}`, wantPath: fastPath, wantLocales: []string{"es-ES", "en-US"}, wantLang: "es-ES"},
		{name: "combinedPhrases absent", audio: 90 * time.Second, body: `{"durationMilliseconds": 90000}`, wantPath: fastPath, wantLocales: []string{"en-US"}, wantLang: "en-US"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, az := newFake(t)
			f.body, az.Locales = tt.body, tt.candidates
			tr, err := az.Transcribe(context.Background(), silenceFor(tt.audio), tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			other := shortPath
			if tt.wantPath == shortPath {
				other = fastPath
			}
			if f.hits[tt.wantPath] != 1 || f.hits[other] != 0 {
				t.Fatalf("hits %v, want one on %s only", f.hits, tt.wantPath)
			}
			if tt.wantPath == fastPath && !slices.Equal(f.locales, tt.wantLocales) {
				t.Errorf("definition locales %q, want %q", f.locales, tt.wantLocales)
			}
			if tr.Text != tt.wantText || tr.Language != tt.wantLang || tr.Provider != "azure" {
				t.Errorf("transcript %+v, want %q in %s", tr, tt.wantText, tt.wantLang)
			}
			if math.Abs(tr.Confidence-tt.wantConf) > 1e-9 {
				t.Errorf("confidence %v, want %v", tr.Confidence, tt.wantConf)
			}
		})
	}
}

func TestFastTranscribeErrors(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		status    int
		header    http.Header
		body      string
		wantKind  fault.Kind
		wantRetry bool
		wantWait  time.Duration
		wantIn    string
	}{
		{name: "bad key", key: "wrong", wantKind: fault.Permanent, wantIn: "AZURE_SPEECH_KEY"},
		{name: "forbidden", status: 403, wantKind: fault.Permanent, wantIn: "AZURE_SPEECH_KEY"},
		{name: "throttled", status: 429, header: http.Header{"Retry-After": {"7"}}, wantKind: fault.Unavailable, wantRetry: true, wantWait: 7 * time.Second},
		{name: "server error", status: 500, wantKind: fault.Unavailable, wantRetry: true},
		{name: "unsupported locale", status: 422, wantKind: fault.Permanent},
		{name: "malformed JSON", status: 200, body: `{"phrases": [`, wantKind: fault.Unavailable, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, az := newFake(t)
			f.status, f.header, f.body = tt.status, tt.header, tt.body
			if tt.key != "" {
				az.Key = tt.key
			}
			_, err := az.Transcribe(context.Background(), silenceFor(90*time.Second), "")
			if fault.KindOf(err) != tt.wantKind || fault.Retryable(err) != tt.wantRetry {
				t.Fatalf("err %v (%s, retryable %t), want %s", err, fault.KindOf(err), fault.Retryable(err), tt.wantKind)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q should name %q and not hold the key", err, tt.wantIn)
			}
			var ra *RetryAfterError
			if tt.wantWait > 0 && (!errors.As(err, &ra) || ra.After != tt.wantWait) {
				t.Errorf("retry after: %v", err)
			}
			if f.hits[shortPath] != 0 {
				t.Errorf("short audio hit: %v", f.hits)
			}
		})
	}
}

func TestFastResultTranscript(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     Transcript
		wantConf float64
	}{
		{name: "channels joined", body: `{"combinedPhrases": [{"channel": 0, "text": " Hello there. "}, {"channel": 1, "text": "Hi, how can I help?"}],
			"phrases": [{"durationMilliseconds": 1000, "locale": "en-GB", "confidence": 0.7}, {"durationMilliseconds": 3000, "locale": "en-GB", "confidence": 0.9}]}`,
			want: Transcript{Text: "Hello there. Hi, how can I help?", Language: "en-GB"}, wantConf: 0.85},
		{name: "longest locale wins over most phrases", body: `{"combinedPhrases": [{"text": "Sí. Sí. What time is check-out tomorrow?"}],
			"phrases": [{"durationMilliseconds": 300, "locale": "es-ES", "confidence": 1}, {"durationMilliseconds": 300, "locale": "es-ES", "confidence": 1},
			{"durationMilliseconds": 2400, "locale": "en-US", "confidence": 0.5}]}`,
			want: Transcript{Text: "Sí. Sí. What time is check-out tomorrow?", Language: "en-US"}, wantConf: 0.6},
		{name: "no locale in phrases: fallback", body: `{"combinedPhrases": [{"text": "Bonjour"}], "phrases": [{"durationMilliseconds": 500, "confidence": 0.4}]}`,
			want: Transcript{Text: "Bonjour", Language: "fr-FR"}, wantConf: 0.4},
		{name: "zero durations: plain mean", body: `{"combinedPhrases": [{"text": "a b"}], "phrases": [{"locale": "fr-FR", "confidence": 0.2}, {"locale": "fr-FR", "confidence": 0.6}]}`,
			want: Transcript{Text: "a b", Language: "fr-FR"}, wantConf: 0.4},
		{name: "phrases without combinedPhrases", body: `{"phrases": [{"durationMilliseconds": 500, "text": "Bonjour.", "locale": "fr-FR", "confidence": 0.5}, {"durationMilliseconds": 500, "text": "Merci.", "locale": "fr-FR", "confidence": 0.5}]}`,
			want: Transcript{Text: "Bonjour. Merci.", Language: "fr-FR"}, wantConf: 0.5},
		{name: "silence", body: `{"durationMilliseconds": 5000, "combinedPhrases": [{"text": ""}], "phrases": []}`,
			want: Transcript{Language: "fr-FR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v fastResult
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatal(err)
			}
			got := v.transcript("fr-FR")
			tt.want.Provider, tt.want.Confidence = "azure", got.Confidence
			if got != tt.want || math.Abs(got.Confidence-tt.wantConf) > 1e-9 {
				t.Errorf("got %+v, want %+v with confidence %v", got, tt.want, tt.wantConf)
			}
		})
	}
}

func TestVoiceLanguages(t *testing.T) {
	tests := []struct {
		name    string
		value   string // unset when empty
		want    []string
		wantErr []string // substrings of the error
	}{
		{name: "default", want: []string{"en-US"}},
		{name: "several", value: "en-US, fr-FR,es-ES", want: []string{"en-US", "fr-FR", "es-ES"}},
		{name: "case and repeats", value: "EN-us,fil-ph,en-US", want: []string{"en-US", "fil-PH"}},
		{name: "language only", value: "en-US,fr", wantErr: []string{"VOICE_LANGUAGES", `"fr"`}},
		{name: "digits", value: "es-419", wantErr: []string{"VOICE_LANGUAGES", `"es-419"`}},
		{name: "script subtag", value: "zh-Hans-CN", wantErr: []string{"VOICE_LANGUAGES", `"zh-Hans-CN"`}},
		{name: "underscore", value: "en_US", wantErr: []string{"VOICE_LANGUAGES", `"en_US"`}},
		{name: "too many", value: "en-US,en-GB,fr-FR,de-DE,es-ES,it-IT,pt-PT,nl-NL,pl-PL,sv-SE,da-DK", wantErr: []string{"VOICE_LANGUAGES", "11 locales", "10"}},
		{name: "ten is enough", value: "en-US,en-GB,fr-FR,de-DE,es-ES,it-IT,pt-PT,nl-NL,pl-PL,sv-SE",
			want: []string{"en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "it-IT", "pt-PT", "nl-NL", "pl-PL", "sv-SE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"AZURE_SPEECH_KEY": testKey, "AZURE_SPEECH_REGION": "westeurope", "AZURE_SPEECH_ENDPOINT": "http://speech.test"}
			if tt.value != "" {
				env["VOICE_LANGUAGES"] = tt.value
			}
			c := config.New(config.FromMap(env))
			e, err := FromConfig(c)
			if tt.wantErr != nil {
				for _, s := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), s) {
						t.Errorf("err %v, want it to hold %q", err, s)
					}
				}
				return
			}
			if err != nil || c.Err() != nil {
				t.Fatal(err, c.Err())
			}
			az, ok := e.Transcriber.(*Azure)
			if !ok {
				t.Fatalf("transcriber %T", e.Transcriber)
			}
			if !slices.Equal(e.Locales, tt.want) || !slices.Equal(az.Locales, tt.want) {
				t.Errorf("locales %q (azure %q), want %q", e.Locales, az.Locales, tt.want)
			}
			if az.FastBase != "http://speech.test" {
				t.Errorf("AZURE_SPEECH_ENDPOINT not used for fast transcription: %q", az.FastBase)
			}
		})
	}
}

func TestVoiceLanguagesLocal(t *testing.T) {
	// An empty secrets folder: no key, so the local engines serve.
	c := config.New(config.FromMap(map[string]string{"SECRETS_DIR": t.TempDir(), "VOICE_LANGUAGES": "en-US,fr-FR"}))
	e, err := FromConfig(c)
	if err != nil || e.Provider != "local" {
		t.Fatalf("%v %q", err, e.Provider)
	}
	if !slices.Equal(e.Locales, []string{"en-US", "fr-FR"}) {
		t.Errorf("locales %q", e.Locales)
	}
}
