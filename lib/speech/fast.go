package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// Fast transcription (api-version 2024-11-15) takes audio shorter than 2 h
// and smaller than 200 MB in one synchronous request.
const (
	fastAPIVersion = "2024-11-15"
	fastMaxBytes   = 200_000_000
	fastMaxAudio   = 2 * time.Hour
)

func (a *Azure) fastURL() string {
	if a.FastBase != "" {
		return strings.TrimRight(a.FastBase, "/")
	}
	return "https://" + a.Region + ".api.cognitive.microsoft.com"
}

// FastTranscribe sends audio of contentType ("" = audio/wav) to Azure's
// fast transcription API. One locale names the language; several (up to
// 10) have Azure identify it among them; none means a.Locales. The
// transcript's Language is the locale that covers most of the speech.
func (a *Azure) FastTranscribe(ctx context.Context, audio []byte, contentType string, locales []string) (Transcript, error) {
	if contentType == "" {
		contentType = "audio/wav"
	}
	if len(locales) == 0 {
		locales = a.locales()
	}
	// Refused here rather than uploaded: the guest hears why, and a job
	// does not retry what Azure would refuse again.
	if len(audio) >= fastMaxBytes {
		return Transcript{}, fault.New(fault.Invalid, "%s (%d bytes, Azure fast transcription takes under %d)", ReasonTooLarge, len(audio), fastMaxBytes)
	}
	var dur time.Duration
	if isWAV(contentType) {
		dur = WAVDuration(audio)
		if dur >= fastMaxAudio {
			return Transcript{}, fault.New(fault.Invalid, "%s (%s, Azure fast transcription takes under %s)", ReasonTooLong, dur.Round(time.Second), fastMaxAudio)
		}
	}
	body, ctype, err := fastForm(audio, contentType, locales)
	if err != nil {
		return Transcript{}, fmt.Errorf("azure fast stt: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		a.fastURL()+"/speechtotext/transcriptions:transcribe?api-version="+fastAPIVersion, bytes.NewReader(body))
	if err != nil {
		return Transcript{}, fmt.Errorf("azure fast stt: %w", err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", a.Key)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	res, err := a.doWith(a.fastClient(dur), req, "fast stt")
	if err != nil {
		return Transcript{}, err
	}
	var v fastResult
	if err := json.Unmarshal(res, &v); err != nil {
		return Transcript{}, fault.Wrap(fault.Unavailable, fmt.Errorf("azure fast stt: decode: %w", err), "Azure Speech answered malformed JSON")
	}
	return v.transcript(locales[0]), nil
}

// fastForm is the multipart body: the audio and its definition.
func fastForm(audio []byte, contentType string, locales []string) ([]byte, string, error) {
	def, err := json.Marshal(struct {
		Locales []string `json:"locales"`
	}{locales})
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	b.Grow(len(audio) + len(def) + 512)
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="audio"; filename="`+audioFilename(contentType)+`"`)
	h.Set("Content-Type", contentType)
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(audio); err != nil {
		return nil, "", err
	}
	if err := w.WriteField("definition", string(def)); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

func isWAV(contentType string) bool {
	ct := strings.ToLower(contentType)
	return strings.HasPrefix(ct, "audio/wav") || strings.HasPrefix(ct, "audio/x-wav") || strings.HasPrefix(ct, "audio/wave")
}

// audioFilename gives the upload an extension matching its type, which
// the service may use to pick a decoder.
func audioFilename(contentType string) string {
	ct, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	switch strings.TrimSpace(ct) {
	case "audio/wav", "audio/x-wav", "audio/wave":
		return "audio.wav"
	case "audio/ogg":
		return "audio.ogg"
	case "audio/mpeg":
		return "audio.mp3"
	}
	return "audio"
}

// fastClient is a.client() with room for the transcription itself: Azure
// is faster than real time, but a timeout sized for short requests would
// cut a long call recording off on every attempt.
func (a *Azure) fastClient(audio time.Duration) *http.Client {
	c := a.client()
	need := time.Minute + audio
	if c.Timeout == 0 || c.Timeout >= need {
		return c
	}
	longer := *c
	longer.Timeout = need
	return &longer
}

// fastResult is the documented response of fast transcription.
type fastResult struct {
	DurationMilliseconds int64 `json:"durationMilliseconds"`
	CombinedPhrases      []struct {
		Text string `json:"text"`
	} `json:"combinedPhrases"`
	Phrases []struct {
		OffsetMilliseconds   int64   `json:"offsetMilliseconds"`
		DurationMilliseconds int64   `json:"durationMilliseconds"`
		Text                 string  `json:"text"`
		Locale               string  `json:"locale"`
		Confidence           float64 `json:"confidence"`
	} `json:"phrases"`
}

// transcript sums the phrases up; fallback is the language when no phrase
// names one. No phrases is silence or noise: an empty transcript.
func (v fastResult) transcript(fallback string) Transcript {
	t := Transcript{Provider: "azure", Language: fallback}
	texts := make([]string, 0, len(v.CombinedPhrases))
	for _, c := range v.CombinedPhrases {
		if s := strings.TrimSpace(c.Text); s != "" {
			texts = append(texts, s)
		}
	}
	if len(texts) == 0 {
		// combinedPhrases missing while phrases came: the words are still
		// there, better heard than dropped.
		for _, p := range v.Phrases {
			if s := strings.TrimSpace(p.Text); s != "" {
				texts = append(texts, s)
			}
		}
	}
	t.Text = strings.Join(texts, " ")
	if len(v.Phrases) == 0 {
		return t
	}
	// Weighting by duration keeps a short "uh" or a one-word aside in
	// another language from outvoting the message itself.
	var total, weighted, plain float64
	perLocale := map[string]float64{}
	var order []string
	for _, p := range v.Phrases {
		d := float64(max(p.DurationMilliseconds, 0))
		total += d
		weighted += d * p.Confidence
		plain += p.Confidence
		if p.Locale == "" {
			continue
		}
		if _, seen := perLocale[p.Locale]; !seen {
			order = append(order, p.Locale)
		}
		perLocale[p.Locale] += d
	}
	if total > 0 {
		t.Confidence = weighted / total
	} else {
		t.Confidence = plain / float64(len(v.Phrases))
	}
	best := -1.0
	for _, l := range order {
		if perLocale[l] > best {
			t.Language, best = l, perLocale[l]
		}
	}
	return t
}
