package voice

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/harborstays/concierge/lib/fault"
)

// A signed webhook may still name any address: stt fetches only from the
// Chatwoot server (and the configured hosts), following its redirects.
func TestDownloadOnlyFromAllowedHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/ogg")
		w.Write([]byte("OggS"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		allowed []string
		url     string
		ok      bool
	}{
		{nil, srv.URL + "/a.ogg", true},
		{[]string{host}, srv.URL + "/a.ogg", true},
		{[]string{"chatwoot.example.com"}, srv.URL + "/a.ogg", false},
		{[]string{host}, "file:///etc/passwd", false},
	} {
		l := &Listener{HTTP: NewHTTPClient(0), AllowedHosts: tt.allowed}
		_, err := l.download(context.Background(), tt.url)
		if tt.ok && err != nil {
			t.Errorf("%v %s: %v", tt.allowed, tt.url, err)
		}
		if !tt.ok && fault.KindOf(err) != fault.Invalid {
			t.Errorf("%v %s: %v, want an invalid-input refusal", tt.allowed, tt.url, err)
		}
	}
}

// A signed link's path and query never reach an error (logs, jobs.last_error).
func TestDownloadErrorsHideTheSignature(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addr := srv.URL
	srv.Close() // refused: a transport error that names the URL
	d := downloader{HTTP: NewHTTPClient(0), What: "call recording"}
	_, err := d.get(context.Background(), addr+"/blobs/redirect/eyJfcmFpbHMiOnsibWVzc2Fn--s1gn3d/rec.mp3?X-Amz-Signature=s3cr3tsig&X-Amz-Credential=AKIAEXAMPLE", nil)
	if err == nil || fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("err %v, want unavailable", err)
	}
	for _, secret := range []string{"s3cr3tsig", "AKIAEXAMPLE", "eyJfcmFpbHMi", "s1gn3d"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s leaked: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(addr, "http://")) {
		t.Errorf("the error no longer says which host failed: %v", err)
	}
}
