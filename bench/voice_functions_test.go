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
	ttsfn "github.com/harborstays/concierge/functions/tts"
	"github.com/harborstays/concierge/lib/dbtest"
	"github.com/harborstays/concierge/lib/faas"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/replies"
	"github.com/harborstays/concierge/lib/speech"
)

// benchKey signs the job invocations the benchmarks send, as jobs.Invoke does.
var benchKey = jobs.RandomKey()

// serveFunction builds a function on d with the local engines and serves it.
func serveFunction(b *testing.B, d *dbtest.DB, name string, ctor faas.Constructor) string {
	vars := map[string]string{"SECRETS_DIR": b.TempDir(), "LOG_LEVEL": "info", "JOB_SIGNING_KEY": benchKey}
	h, e, err := faas.Build(context.Background(), faas.Options{
		Name: name, Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		LogOutput: io.Discard, DB: d.Pool, Invoker: discard{},
	}, ctor)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(faas.Handler(h, e.MaxBody))
	b.Cleanup(srv.Close)
	return srv.URL
}

// runJob posts a job message to a function and wants 200 with want in it.
func runJob(url string, job jobs.Job, want string) error {
	body, _ := json.Marshal(jobs.Message{JobID: job.ID, Kind: job.Kind, Subject: job.Subject})
	keys, err := jobs.NewKeys(benchKey)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	keys.Sign(req.Header, job.Function, body)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(want)) {
		return fmt.Errorf("%s: %d %s", job.Function, res.StatusCode, out)
	}
	return nil
}

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
	url := serveFunction(b, d, sttfn.Name, sttfn.New)

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
			job, err = jobs.Enqueue(ctx, tx, jobs.Transcribe, jobs.MessageSubject(1, msg), "")
			return err
		}); err != nil {
			return err
		}
		return runJob(url, job, `"transcribed"`)
	}
	bare := func() error {
		if err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", oggPath, "-vn", "-ac", "1", "-ar", "16000",
			"-acodec", "pcm_s16le", "-f", "wav", wavPath).Run(); err != nil {
			return err
		}
		return exec.Command("pocketsphinx_continuous", speech.PocketsphinxArgs(wavPath)...).Run()
	}
	// Warm: the first pocketsphinx run loads its model from disk.
	compare(b, 3, "stt", "10 s voice note: stt function", "bare ffmpeg + pocketsphinx_continuous", viaFunction, bare)
}

// BenchmarkTTSFunction: a reply of about 10 s of speech through the whole
// tts function (job claim, reply and channel read, flite, ffmpeg to
// OGG/Opus for WhatsApp, clip stored, reply job re-queued), beside the bare
// flite + ffmpeg commands, in the same run. Target: overhead <= 10 %.
func BenchmarkTTSFunction(b *testing.B) {
	needSpeechTools(b)
	ctx := context.Background()
	dir := b.TempDir()
	txt, wav, ogg := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.wav"), filepath.Join(dir, "out.ogg")
	if err := os.WriteFile(txt, []byte(tenSeconds), 0o600); err != nil {
		b.Fatal(err)
	}
	d := dbtest.New(b)
	url := serveFunction(b, d, ttsfn.Name, ttsfn.New)
	if _, err := d.Pool.Exec(ctx, "INSERT INTO conversations (account_id, id, status, channel) VALUES (1, 1287, 'pending', 'Channel::Whatsapp')"); err != nil {
		b.Fatal(err)
	}
	inbound := int64(0)
	viaFunction := func() error {
		inbound++
		var job jobs.Job
		if err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			rj, err := replies.Insert(ctx, tx, replies.Reply{AccountID: 1, ConversationID: 1287, InboundMessageID: inbound,
				Mode: replies.Auto, Content: tenSeconds, Language: "en", WantAudio: true})
			if err != nil {
				return err
			}
			job, err = jobs.Enqueue(ctx, tx, jobs.Synthesize, rj.Subject, "")
			return err
		}); err != nil {
			return err
		}
		return runJob(url, job, `"ready"`)
	}
	bare := func() error {
		if err := exec.Command("flite", speech.FliteArgs("rms", txt, wav)...).Run(); err != nil {
			return err
		}
		return exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", wav, "-vn", "-ac", "1", "-ar", "48000",
			"-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "ogg", ogg).Run()
	}
	compare(b, 5, "tts", "10 s reply: tts function", "bare flite + ffmpeg", viaFunction, bare)
}

// compare warms both paths once, then times them interleaved n times per
// benchmark iteration (a noisy neighbour hits both alike) and reports the
// function's figure beside the bare commands'.
func compare(b *testing.B, n int, metric, what, baseline string, viaFunction, bare func() error) {
	b.Helper()
	for _, f := range []func() error{bare, viaFunction} {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var cli, fn time.Duration
		for j := 0; j < n; j++ {
			cli += timeIt(b, 1, bare)
			fn += timeIt(b, 1, viaFunction)
		}
		cli, fn = cli/time.Duration(n), fn/time.Duration(n)
		b.ReportMetric(float64(fn.Milliseconds()), metric+"-function-ms")
		b.ReportMetric(float64(cli.Milliseconds()), metric+"-bare-cli-ms")
		fmt.Printf("\n%s, mean of %d interleaved runs\n", what, n)
		fmt.Printf("%-44s %9s %9s %9s\n", "", "function", "bare CLI", "overhead")
		printOverhead(metric+" function", what, baseline, fn, cli)
	}
}

// discard drops async invocations (the answer job stt queues).
type discard struct{}

func (discard) Async(context.Context, string, []byte, http.Header) error { return nil }
