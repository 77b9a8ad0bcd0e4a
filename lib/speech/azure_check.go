package speech

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Read-only probes of Azure Speech for `concierge doctor`.

// ErrKeyRefused is Azure answering 401 or 403: the key is wrong, or it is
// a key of a Speech resource in another region (keys are regional).
var ErrKeyRefused = errors.New("Azure Speech refused the key")

// maxVoicesList bounds the voices list: about 600 voices of 1-2 KB each.
const maxVoicesList = 8 << 20

// TokenURL is the token endpoint the key is checked against:
// https://{region}.api.cognitive.microsoft.com/sts/v1.0/issueToken, or on
// FastBase when set (AZURE_SPEECH_ENDPOINT).
func (a *Azure) TokenURL() string { return a.fastURL() + "/sts/v1.0/issueToken" }

// VoicesURL is the region's voices list:
// https://{region}.tts.speech.microsoft.com/cognitiveservices/voices/list,
// or on TTSBase when set.
func (a *Azure) VoicesURL() string { return a.ttsURL() + "/cognitiveservices/voices/list" }

// IssueToken exchanges the key for an access token, the cheapest call that
// proves key and region belong together. It returns the token (a JWT, valid
// ten minutes); a refused key is ErrKeyRefused.
func (a *Azure) IssueToken(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.TokenURL(), http.NoBody)
	if err != nil {
		return "", fmt.Errorf("azure token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := a.probe(req, "token")
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(body))
	if tok == "" {
		return "", errors.New("azure token: empty answer")
	}
	return tok, nil
}

// VoiceInfo is one entry of the voices list (the fields the doctor reads).
type VoiceInfo struct {
	ShortName string // e.g. en-US-AvaMultilingualNeural
	Locale    string
	Status    string // GA or Preview
}

// ListVoices reads the voices the region offers.
func (a *Azure) ListVoices(ctx context.Context) ([]VoiceInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.VoicesURL(), nil)
	if err != nil {
		return nil, fmt.Errorf("azure voices: %w", err)
	}
	body, err := a.probe(req, "voices")
	if err != nil {
		return nil, err
	}
	var out []VoiceInfo
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("azure voices: decode: %w", err)
	}
	return out, nil
}

// ConfiguredVoices are the voice names of AZURE_SPEECH_VOICES, sorted,
// each once.
func (a *Azure) ConfiguredVoices() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range a.Voices {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// MissingVoices are the configured voices absent from list.
func (a *Azure) MissingVoices(list []VoiceInfo) []string {
	have := make(map[string]bool, len(list))
	for _, v := range list {
		have[v.ShortName] = true
	}
	var out []string
	for _, v := range a.ConfiguredVoices() {
		if !have[v] {
			out = append(out, v)
		}
	}
	return out
}

// probe sends req once with the key; 401/403 is ErrKeyRefused, any other
// non-2xx an error with the status. Transport errors keep their cause (a
// region that does not resolve is a *net.DNSError).
func (a *Azure) probe(req *http.Request, what string) ([]byte, error) {
	req.Header.Set("Ocp-Apim-Subscription-Key", a.Key)
	req.Header.Set("User-Agent", UserAgent)
	res, err := a.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("azure %s: %w", what, scrub(err))
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxVoicesList))
	if err != nil {
		return nil, fmt.Errorf("azure %s: read: %w", what, err)
	}
	switch s := res.StatusCode; {
	case s >= 200 && s < 300:
		return body, nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, fmt.Errorf("azure %s: HTTP %d: %w", what, s, ErrKeyRefused)
	default:
		return nil, fmt.Errorf("azure %s: HTTP %d", what, s)
	}
}
