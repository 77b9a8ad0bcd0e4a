package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sttfn "github.com/harborstays/concierge/functions/stt"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/fnenv"
	"github.com/harborstays/concierge/lib/fnserver"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/speech"
	"github.com/harborstays/concierge/lib/voice"
)

// BenchmarkSTTFunction: a 10 s voice note through the whole stt function
// (job claim, download over HTTP, ffprobe checks, ffmpeg to 16 kHz mono,
// pocketsphinx, transcript and clip stored, answer queued), beside the bare
// CLI chain a script would run for the same result (ffmpeg to 16 kHz mono,
// then pocketsphinx_continuous), in the same run. Target: overhead <= 10 %.
func BenchmarkSTTFunction(b *testing.B) {
	needSpeechTools(b)
	ctx := context.Background()
	ogg, _, err := speech.LocalVoice{}.Synthesize(ctx, tenSeconds, "en", speech.OggOpus)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	oggPath, wavPath := filepath.Join(dir, "in.ogg"), filepath.Join(dir, "in16k.wav")
	if err := os.WriteFile(oggPath, ogg, 0o600); err != nil {
		b.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/ogg")
		w.Write(ogg)
	}))
	b.Cleanup(files.Close)
	d := dbtest.New(b)
	vars := map[string]string{"SECRETS_DIR": b.TempDir(), "LOG_LEVEL": "info"}
	h, e, err := fnenv.Build(ctx, fnenv.Options{
		Name: sttfn.Name, Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		LogOutput: io.Discard, DB: d.Pool, Invoker: discard{},
	}, sttfn.New)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(fnserver.Handler(h, e.MaxBody))
	b.Cleanup(srv.Close)

	msg := int64(0)
	viaFunction := func() error {
		msg++
		att, _ := json.Marshal([]map[string]any{{"id": 1, "file_type": "audio", "extension": "ogg", "data_url": files.URL + "/voice.ogg"}})
		if _, err := d.Pool.Exec(ctx, `INSERT INTO messages (account_id, id, conversation_id, message_type, sender_type, attachments, created_at)
			VALUES (1, $1, 1287, 'incoming', 'contact', $2, now())`, msg, att); err != nil {
			return err
		}
		var job jobs.Job
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) (err error) {
			job, err = jobs.Enqueue(ctx, tx, voice.TranscribeJob, voice.MessageSubject(1, msg), "")
			return err
		}); err != nil {
			return err
		}
		body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
		res, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"transcribed"`)) {
			return fmt.Errorf("stt: %d %s", res.StatusCode, out)
		}
		return nil
	}
	bare := func() error {
		if err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", oggPath, "-vn", "-ac", "1", "-ar", "16000",
			"-acodec", "pcm_s16le", "-f", "wav", wavPath).Run(); err != nil {
			return err
		}
		return exec.Command("pocketsphinx_continuous", speech.PocketsphinxArgs(wavPath)...).Run()
	}
	// Warm: the first pocketsphinx run loads its model from disk.
	if err := bare(); err != nil {
		b.Fatal(err)
	}
	if err := viaFunction(); err != nil {
		b.Fatal(err)
	}
	const n = 3
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Interleaved, so a noisy neighbour hits both alike.
		var cli, fn time.Duration
		for j := 0; j < n; j++ {
			cli += timeIt(b, 1, bare)
			fn += timeIt(b, 1, viaFunction)
		}
		cli, fn = cli/n, fn/n
		b.ReportMetric(float64(fn.Milliseconds()), "stt-function-ms")
		b.ReportMetric(float64(cli.Milliseconds()), "stt-bare-cli-ms")
		b.Logf("10 s voice note: stt function %v (bare ffmpeg + pocketsphinx_continuous %v, overhead %+.1f%%)",
			fn.Round(time.Millisecond), cli.Round(time.Millisecond), 100*(float64(fn)/float64(cli)-1))
	}
}

// discard drops async invocations (the answer job stt queues).
type discard struct{}

func (discard) Async(context.Context, string, []byte, http.Header) error { return nil }
