package speech

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/harborstays/concierge/lib/fault"
)

// Pocketsphinx transcribes with CMU pocketsphinx's continuous recogniser
// and its default US English model (Debian's pocketsphinx and
// pocketsphinx-en-us). It knows English only: other languages come out as
// English words, so the voice flow prefers Azure for them.
type Pocketsphinx struct {
	Tools Tools
}

// Transcribe runs pocketsphinx_continuous on the WAV.
func (p Pocketsphinx) Transcribe(ctx context.Context, wav []byte, _ string) (Transcript, error) {
	dir, err := os.MkdirTemp("", "speech-")
	if err != nil {
		return Transcript{}, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, wav, 0o600); err != nil {
		return Transcript{}, fmt.Errorf("write audio: %w", err)
	}
	out, err := run(ctx, p.Tools.path("pocketsphinx_continuous", p.Tools.Pocketsphinx), PocketsphinxArgs(in)...)
	if err != nil {
		if fault.KindOf(err) == fault.Unavailable {
			return Transcript{}, err
		}
		return Transcript{}, fmt.Errorf("transcribe: %w", err)
	}
	// Debian's only pocketsphinx model is US English: whatever was said,
	// the words came out as English.
	return Transcript{Text: strings.Join(strings.Fields(string(out)), " "), Provider: "pocketsphinx", Language: "en-US"}, nil
}

// PocketsphinxArgs are the arguments Pocketsphinx passes for a WAV file
// (the benchmark runs the bare CLI with the same ones).
func PocketsphinxArgs(wavPath string) []string {
	return []string{"-infile", wavPath, "-logfn", os.DevNull}
}

// LocalVoice speaks with flite's rms voice for English and espeak-ng for
// other languages, then ffmpeg encodes.
type LocalVoice struct {
	Tools Tools
	// FliteVoice is flite's voice for English ("rms" when empty).
	FliteVoice string
}

// Synthesize speaks text.
func (v LocalVoice) Synthesize(ctx context.Context, text, lang string, format Format) ([]byte, string, error) {
	wav, err := v.WAV(ctx, text, lang)
	if err != nil {
		return nil, "", err
	}
	out, err := v.Tools.Encode(ctx, wav, format)
	if err != nil {
		return nil, "", err
	}
	return out, format.ContentType(), nil
}

// WAV speaks text into a WAV at the engine's own rate.
func (v LocalVoice) WAV(ctx context.Context, text, lang string) ([]byte, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fault.New(fault.Invalid, "nothing to say")
	}
	dir, err := os.MkdirTemp("", "speech-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	txt, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.wav")
	// The text goes through a file, never the command line: no argument
	// parsing of guest-visible text and no length limit.
	if err := os.WriteFile(txt, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("write text: %w", err)
	}
	if l := baseLang(lang); l == "en" {
		_, err = run(ctx, v.Tools.path("flite", v.Tools.Flite), FliteArgs(v.FliteVoice, txt, out)...)
	} else {
		_, err = run(ctx, v.Tools.path("espeak-ng", v.Tools.EspeakNG), "-v", l, "-f", txt, "-w", out)
	}
	if err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	return os.ReadFile(out)
}

// FliteArgs are the arguments LocalVoice passes to flite.
func FliteArgs(voice, textPath, outPath string) []string {
	if voice == "" {
		voice = "rms"
	}
	return []string{"-voice", voice, "-f", textPath, "-o", outPath}
}
