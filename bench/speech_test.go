package bench

import (
	"context"
	"fmt"
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
		b.ReportMetric(float64(ourSTT.Milliseconds()), "stt-ms")
		b.ReportMetric(float64(cliSTT.Milliseconds()), "stt-cli-ms")
		b.ReportMetric(float64(ourTTS.Milliseconds()), "tts-ms")
		b.ReportMetric(float64(cliTTS.Milliseconds()), "tts-cli-ms")
		fmt.Printf("\nSpeech with the local engines, a %.1f s clip, mean of %d runs\n", dur.Seconds(), n)
		fmt.Printf("%-44s %9s %9s %9s\n", "", "ours", "bare CLI", "overhead")
		printOverhead("stt", "speech.Pocketsphinx.Transcribe", "bare pocketsphinx_continuous", ourSTT, cliSTT)
		printOverhead("tts", "speech.LocalVoice.Synthesize to OGG/Opus", "bare flite + ffmpeg", ourTTS, cliTTS)
	}
}

// maxSpeechOverhead is the speech benchmarks' target, in percent: our
// path may take at most this much longer than the bare commands it runs.
const maxSpeechOverhead = 10

// overheadVerdict says whether ours stays within maxSpeechOverhead of
// bare, and the overhead in percent. A baseline that took no time
// compares with nothing.
func overheadVerdict(ours, bare time.Duration) (verdict string, overhead float64) {
	if bare <= 0 {
		return "MISSES", 0
	}
	overhead = 100 * (float64(ours)/float64(bare) - 1)
	// In whole nanoseconds: the bound itself meets, whatever floats say.
	if int64(ours)*100 > int64(bare)*(100+maxSpeechOverhead) {
		return "MISSES", overhead
	}
	return "meets", overhead
}

// printOverhead prints a figure beside its baseline and the verdict, as
// the other benchmarks do.
func printOverhead(name, what, baseline string, ours, bare time.Duration) {
	verdict, over := overheadVerdict(ours, bare)
	fmt.Printf("%-44s %9s %9s %+8.1f%%   (baseline: %s)\n", what, ours.Round(time.Millisecond), bare.Round(time.Millisecond), over, baseline)
	fmt.Printf("%s %s the target (overhead <= %d%% over %s)\n", name, verdict, maxSpeechOverhead, baseline)
}
