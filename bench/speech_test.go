package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/harborstays/concierge/lib/speech"

	"github.com/harborstays/concierge/lib/testenv"
)

// tenSeconds is about 10 s of flite rms speech.
const tenSeconds = "We are arriving tomorrow evening around nine. " +
	"Could you tell us what time we can check in, where we can park the car, " +
	"and whether there is a washing machine."

func needSpeechTools(b *testing.B) {
	testenv.NeedTools(b, "apt-get install ffmpeg flite espeak-ng pocketsphinx pocketsphinx-en-us", "flite", "ffmpeg", "ffprobe", "pocketsphinx_continuous")
}

// timeIt runs f n times and returns the mean.
func timeIt(b *testing.B, n int, f func() error) time.Duration {
	b.Helper()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkSpeech: stt and tts of a 10 s clip with the local engines,
// each beside the bare CLI calls it makes, in the same run. Our overhead
// (temp files, ffprobe/ffmpeg checks are counted in the CLI baseline where
// the CLI needs them too) should stay within 10 %.
func BenchmarkSpeech(b *testing.B) {
	needSpeechTools(b)
	ctx := context.Background()
	dir := b.TempDir()
	txt := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(txt, []byte(tenSeconds), 0o600); err != nil {
		b.Fatal(err)
	}
	tools := speech.Tools{}
	v := speech.LocalVoice{}
	rawWAV, err := v.WAV(ctx, tenSeconds, "en")
	if err != nil {
		b.Fatal(err)
	}
	wav, dur, err := tools.ToWAV16k(ctx, rawWAV, speech.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	wavPath := filepath.Join(dir, "clip16k.wav")
	if err := os.WriteFile(wavPath, wav, 0o600); err != nil {
		b.Fatal(err)
	}
	const n = 3
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// stt: transcription of the 16 kHz WAV.
		cliSTT := timeIt(b, n, func() error {
			return exec.Command("pocketsphinx_continuous", speech.PocketsphinxArgs(wavPath)...).Run()
		})
		ourSTT := timeIt(b, n, func() error {
			_, err := speech.Pocketsphinx{}.Transcribe(ctx, wav, "en")
			return err
		})
		// tts: flite then ffmpeg to OGG/Opus.
		out, ogg := filepath.Join(dir, "out.wav"), filepath.Join(dir, "out.ogg")
		cliTTS := timeIt(b, n, func() error {
			if err := exec.Command("flite", speech.FliteArgs("rms", txt, out)...).Run(); err != nil {
				return err
			}
			return exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", out, "-vn", "-ac", "1", "-ar", "48000",
				"-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "ogg", ogg).Run()
		})
		ourTTS := timeIt(b, n, func() error {
			_, _, err := v.Synthesize(ctx, tenSeconds, "en", speech.OggOpus)
			return err
		})
		over := func(ours, cli time.Duration) float64 { return 100 * (float64(ours)/float64(cli) - 1) }
		b.ReportMetric(float64(ourSTT.Milliseconds()), "stt-ms")
		b.ReportMetric(float64(cliSTT.Milliseconds()), "stt-cli-ms")
		b.ReportMetric(float64(ourTTS.Milliseconds()), "tts-ms")
		b.ReportMetric(float64(cliTTS.Milliseconds()), "tts-cli-ms")
		b.Logf("clip %.1fs: stt %v (bare pocketsphinx_continuous %v, overhead %+.1f%%); tts %v (bare flite+ffmpeg %v, overhead %+.1f%%)",
			dur.Seconds(), ourSTT.Round(time.Millisecond), cliSTT.Round(time.Millisecond), over(ourSTT, cliSTT),
			ourTTS.Round(time.Millisecond), cliTTS.Round(time.Millisecond), over(ourTTS, cliTTS))
	}
}
