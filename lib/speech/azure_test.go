package speech

import (
	"context"
	"encoding/binary"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

const testKey = "azure-test-key-0123456789"

// fakeAzure is Azure Speech's two REST endpoints as documented: it checks
// what the contract requires and answers with the documented bodies.
type fakeAzure struct {
	t      *testing.T
	status int
	header http.Header
	body   string
	ssml   string         // last TTS body
	hits   map[string]int // requests per path
	// locales is the last fast transcription definition's.
	locales []string
}

func (f *fakeAzure) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost {
		t.Errorf("method %s", r.Method)
	}
	if r.Header.Get("Ocp-Apim-Subscription-Key") != testKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ua := r.Header.Get("User-Agent"); ua == "" || len(ua) >= 255 {
		t.Errorf("User-Agent %q", ua)
	}
	f.hits[r.URL.Path]++
	if r.URL.Path == fastPath {
		// Multipart: read part by part, not as one body.
		if !f.checkFast(r) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.reply(w)
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/speech/recognition/conversation/cognitiveservices/v1":
		q := r.URL.Query()
		if q.Get("language") == "" || q.Get("format") != "detailed" {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		if ct := r.Header.Get("Content-Type"); ct != "audio/wav; codecs=audio/pcm; samplerate=16000" {
			t.Errorf("stt content type %q", ct)
		}
		if r.Header.Get("Accept") != "application/json" {
			t.Errorf("stt accept %q", r.Header.Get("Accept"))
		}
		if len(body) < 44 || string(body[:4]) != "RIFF" {
			t.Errorf("stt body is not WAV")
		}
	case "/cognitiveservices/v1":
		if ct := r.Header.Get("Content-Type"); ct != "application/ssml+xml" {
			t.Errorf("tts content type %q", ct)
		}
		if f := r.Header.Get("X-Microsoft-OutputFormat"); f != "ogg-16khz-16bit-mono-opus" && f != "audio-16khz-32kbitrate-mono-mp3" {
			t.Errorf("output format %q", f)
		}
		f.ssml = string(body)
		// The body must be well-formed XML.
		d := xml.NewDecoder(strings.NewReader(f.ssml))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("SSML is not well-formed: %v: %s", err, f.ssml)
				break
			}
		}
	default:
		t.Errorf("path %s", r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f.reply(w)
}

func (f *fakeAzure) reply(w http.ResponseWriter) {
	for k, v := range f.header {
		w.Header()[k] = v
	}
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func newFake(t *testing.T) (*fakeAzure, *Azure) {
	f := &fakeAzure{t: t, status: 200, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	voices, _ := ParseVoices(DefaultVoices + ",en-gb=en-GB-SoniaNeural")
	return f, &Azure{Key: testKey, STTBase: srv.URL, TTSBase: srv.URL, FastBase: srv.URL, Voices: voices, HTTP: srv.Client()}
}

// silence is 1 s of 16 kHz mono 16-bit WAV.
func silence() []byte { return silenceFor(time.Second) }

// silenceFor is d of 16 kHz mono 16-bit PCM WAV, all zero samples, with
// the 44-byte header ToWAV16k writes.
func silenceFor(d time.Duration) []byte {
	const rate, bytesPerSample = 16000, 2
	n := int(d.Seconds() * rate * bytesPerSample)
	b := make([]byte, 44+n)
	le := binary.LittleEndian
	copy(b, "RIFF")
	le.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)                  // fmt chunk size
	le.PutUint16(b[20:], 1)                   // PCM
	le.PutUint16(b[22:], 1)                   // mono
	le.PutUint32(b[24:], rate)                // sample rate
	le.PutUint32(b[28:], rate*bytesPerSample) // byte rate
	le.PutUint16(b[32:], bytesPerSample)      // block align
	le.PutUint16(b[34:], 8*bytesPerSample)    // bits per sample
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(n))
	return b
}

func TestAzureTranscribe(t *testing.T) {
	detailed := `{"RecognitionStatus":"Success","Offset":1800000,"Duration":23600000,"DisplayText":"What time can we check in?",
		"NBest":[{"Confidence":0.93,"Lexical":"what time can we check in","ITN":"what time can we check in","MaskedITN":"what time can we check in","Display":"What time can we check in?"}]}`
	tests := []struct {
		name     string
		key      string
		status   int
		header   http.Header
		body     string
		wantText string
		wantKind fault.Kind
		wantWait time.Duration
	}{
		{name: "success", status: 200, body: detailed, wantText: "What time can we check in?"},
		{name: "no match", status: 200, body: `{"RecognitionStatus":"NoMatch","Offset":0,"Duration":0}`},
		{name: "initial silence", status: 200, body: `{"RecognitionStatus":"InitialSilenceTimeout","Offset":0,"Duration":0}`},
		{name: "recognition error", status: 200, body: `{"RecognitionStatus":"Error"}`, wantKind: fault.Unavailable},
		{name: "bad key", key: "wrong", wantKind: fault.Permanent},
		{name: "bad language", status: 400, wantKind: fault.Permanent},
		{name: "throttled", status: 429, header: http.Header{"Retry-After": {"7"}}, wantKind: fault.Unavailable, wantWait: 7 * time.Second},
		{name: "server error", status: 503, wantKind: fault.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, az := newFake(t)
			f.status, f.header, f.body = tt.status, tt.header, tt.body
			if tt.key != "" {
				az.Key = tt.key
			}
			tr, err := az.Transcribe(context.Background(), silence(), "en")
			if tt.wantKind != 0 || err != nil {
				if fault.KindOf(err) != tt.wantKind {
					t.Fatalf("err %v (%s), want %s", err, fault.KindOf(err), tt.wantKind)
				}
				var ra *RetryAfterError
				if tt.wantWait > 0 && (!asRetry(err, &ra) || ra.After != tt.wantWait) {
					t.Errorf("retry after: %v", err)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Error("error holds the key")
				}
				return
			}
			if tr.Text != tt.wantText || tr.Provider != "azure" || tr.Language != "en-US" {
				t.Errorf("transcript %+v", tr)
			}
			if tt.wantText != "" && tr.Confidence != 0.93 {
				t.Errorf("confidence %v", tr.Confidence)
			}
		})
	}
}

func asRetry(err error, ra **RetryAfterError) bool {
	for err != nil {
		if r, ok := err.(*RetryAfterError); ok {
			*ra = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestAzureSynthesize(t *testing.T) {
	tests := []struct {
		name, text, lang string
		format           Format
		wantSSML         string
		wantCT           string
	}{
		{"escaping", `Tom & Jerry's "<b>" check-in > 3`, "en", OggOpus,
			`<speak version='1.0' xml:lang='en-US'><voice name='en-US-AvaMultilingualNeural'>Tom &amp; Jerry&#39;s &#34;&lt;b&gt;&#34; check-in &gt; 3</voice></speak>`, "audio/ogg"},
		{"voice per language", "Bonjour", "fr", MP3,
			`<speak version='1.0' xml:lang='fr-FR'><voice name='fr-FR-DeniseNeural'>Bonjour</voice></speak>`, "audio/mpeg"},
		{"voice per locale", "Cheers", "en-GB", MP3,
			`<speak version='1.0' xml:lang='en-GB'><voice name='en-GB-SoniaNeural'>Cheers</voice></speak>`, "audio/mpeg"},
		{"unknown language falls back to English voice", "Hallo", "xx", MP3,
			`<speak version='1.0' xml:lang='xx'><voice name='en-US-AvaMultilingualNeural'>Hallo</voice></speak>`, "audio/mpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, az := newFake(t)
			f.body = "OggS-audio-bytes"
			out, ct, err := az.Synthesize(context.Background(), tt.text, tt.lang, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != f.body || ct != tt.wantCT {
				t.Errorf("audio %q %q", out, ct)
			}
			if f.ssml != tt.wantSSML {
				t.Errorf("SSML\n got %s\nwant %s", f.ssml, tt.wantSSML)
			}
		})
	}
}

func TestAzureSynthesizeErrors(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		status   int
		header   http.Header
		wantKind fault.Kind
		wantWait time.Duration
	}{
		{"unauthorized", "bad", 0, nil, fault.Permanent, 0},
		{"throttled", "", 429, http.Header{"Retry-After": {"3"}}, fault.Unavailable, 3 * time.Second},
		{"bad gateway", "", 502, nil, fault.Unavailable, 0},
		{"unsupported media", "", 415, nil, fault.Permanent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, az := newFake(t)
			f.status, f.header = tt.status, tt.header
			if tt.key != "" {
				az.Key = tt.key
			}
			_, _, err := az.Synthesize(context.Background(), "hi", "en", MP3)
			if fault.KindOf(err) != tt.wantKind {
				t.Fatalf("got %v (%s)", err, fault.KindOf(err))
			}
			var ra *RetryAfterError
			if tt.wantWait > 0 && (!asRetry(err, &ra) || ra.After != tt.wantWait) {
				t.Errorf("retry after missing: %v", err)
			}
		})
	}
}
