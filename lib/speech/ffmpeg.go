package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/fault"
)

// Limits bound the audio a guest may send.
type Limits struct {
	MaxBytes    int64
	MaxDuration time.Duration
}

// DefaultLimits: a voice note of up to two minutes.
var DefaultLimits = Limits{MaxBytes: 10 << 20, MaxDuration: 2 * time.Minute}

// Reasons of the fault.Invalid errors a guest can act on; the voice flow
// explains them to the guest.
const (
	ReasonTooLarge    = "the audio file is too large"
	ReasonTooLong     = "the voice message is too long"
	ReasonUnsupported = "the audio format is not supported or the file is damaged"
	ReasonEmpty       = "the voice message is empty"
)

// inputFormats are the containers ffprobe may report for a voice note
// (WhatsApp and Telegram OGG/Opus, browser WebM, iOS M4A, MP3, WAV, AMR,
// FLAC, AAC).
var inputFormats = []string{"ogg", "matroska", "webm", "mov", "mp4", "m4a", "3gp", "mp3", "wav", "amr", "flac", "aac"}

// Tools are the paths of the programs the local engines run; empty names
// are looked up on PATH.
type Tools struct {
	FFmpeg, FFprobe, Pocketsphinx, Flite, EspeakNG string
}

func (t Tools) path(name, override string) string {
	if override != "" {
		return override
	}
	return name
}

// Probe is what ffprobe says about a file.
type Probe struct {
	Format   string
	Duration time.Duration
	Audio    bool
}

func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Wrap(fault.Unavailable, err, name+" is not installed")
		}
		if ctx.Err() != nil {
			return nil, fault.Wrap(fault.Unavailable, ctx.Err(), name+" did not finish in time")
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.Bytes(), nil
}

// ProbeFile runs ffprobe on path.
func (t Tools) ProbeFile(ctx context.Context, path string) (Probe, error) {
	out, err := run(ctx, t.path("ffprobe", t.FFprobe), "-v", "error", "-show_entries", "format=format_name,duration:stream=codec_type",
		"-of", "json", path)
	if err != nil {
		if fault.KindOf(err) == fault.Unavailable {
			return Probe{}, err
		}
		return Probe{}, fault.Wrap(fault.Invalid, err, ReasonUnsupported)
	}
	var v struct {
		Format struct {
			Name     string `json:"format_name"`
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			Type string `json:"codec_type"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Probe{}, fault.Wrap(fault.Invalid, fmt.Errorf("ffprobe output: %w", err), ReasonUnsupported)
	}
	p := Probe{Format: v.Format.Name}
	if d, err := strconv.ParseFloat(v.Format.Duration, 64); err == nil {
		p.Duration = time.Duration(d * float64(time.Second))
	}
	for _, s := range v.Streams {
		p.Audio = p.Audio || s.Type == "audio"
	}
	return p, nil
}

func knownFormat(name string) bool {
	for _, f := range strings.Split(name, ",") {
		for _, k := range inputFormats {
			if f == k {
				return true
			}
		}
	}
	return false
}

// ToWAV16k checks audio against lim and transcodes it to 16 kHz mono
// 16-bit PCM WAV. A file that is too large, too long, empty, not audio or
// unreadable is fault.Invalid with one of the Reason texts; a missing tool
// is fault.Unavailable.
func (t Tools) ToWAV16k(ctx context.Context, audio []byte, lim Limits) ([]byte, time.Duration, error) {
	switch {
	case len(audio) == 0:
		return nil, 0, fault.New(fault.Invalid, ReasonEmpty)
	case lim.MaxBytes > 0 && int64(len(audio)) > lim.MaxBytes:
		return nil, 0, fault.New(fault.Invalid, "%s (%d bytes, limit %d)", ReasonTooLarge, len(audio), lim.MaxBytes)
	}
	dir, err := os.MkdirTemp("", "speech-")
	if err != nil {
		return nil, 0, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out.wav")
	if err := os.WriteFile(in, audio, 0o600); err != nil {
		return nil, 0, fmt.Errorf("write audio: %w", err)
	}
	p, err := t.ProbeFile(ctx, in)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case !knownFormat(p.Format) || !p.Audio:
		return nil, 0, fault.New(fault.Invalid, "%s (%q)", ReasonUnsupported, p.Format)
	case lim.MaxDuration > 0 && p.Duration > lim.MaxDuration:
		return nil, 0, fault.New(fault.Invalid, "%s (%s, limit %s)", ReasonTooLong, p.Duration.Round(time.Second), lim.MaxDuration)
	}
	args := []string{"-nostdin", "-v", "error", "-y", "-i", in}
	if lim.MaxDuration > 0 {
		// A container that lies about its duration is still cut here.
		args = append(args, "-t", strconv.FormatFloat(lim.MaxDuration.Seconds()+1, 'f', 3, 64))
	}
	args = append(args, "-vn", "-ac", "1", "-ar", "16000", "-acodec", "pcm_s16le", "-f", "wav", out)
	if _, err := run(ctx, t.path("ffmpeg", t.FFmpeg), args...); err != nil {
		if fault.KindOf(err) == fault.Unavailable {
			return nil, 0, err
		}
		return nil, 0, fault.Wrap(fault.Invalid, err, ReasonUnsupported)
	}
	wav, err := os.ReadFile(out)
	if err != nil {
		return nil, 0, fmt.Errorf("read transcoded audio: %w", err)
	}
	d := WAVDuration(wav)
	if d == 0 {
		return nil, 0, fault.New(fault.Invalid, ReasonEmpty)
	}
	if lim.MaxDuration > 0 && d > lim.MaxDuration+500*time.Millisecond {
		return nil, 0, fault.New(fault.Invalid, "%s (limit %s)", ReasonTooLong, lim.MaxDuration)
	}
	return wav, d, nil
}

// WAVDuration is the duration of a 16 kHz mono 16-bit WAV with a 44-byte
// header (what ToWAV16k writes), or 0.
func WAVDuration(wav []byte) time.Duration {
	if len(wav) <= 44 {
		return 0
	}
	return time.Duration(len(wav)-44) * time.Second / 32000
}

// Encode transcodes audio (any format ffmpeg reads) to format.
func (t Tools) Encode(ctx context.Context, audio []byte, format Format) ([]byte, error) {
	dir, err := os.MkdirTemp("", "speech-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out."+format.Ext())
	if err := os.WriteFile(in, audio, 0o600); err != nil {
		return nil, fmt.Errorf("write audio: %w", err)
	}
	args := []string{"-nostdin", "-v", "error", "-y", "-i", in, "-vn", "-ac", "1"}
	if format == OggOpus {
		args = append(args, "-ar", "48000", "-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "ogg", out)
	} else {
		args = append(args, "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3", out)
	}
	if _, err := run(ctx, t.path("ffmpeg", t.FFmpeg), args...); err != nil {
		return nil, fmt.Errorf("encode %s: %w", format, err)
	}
	return os.ReadFile(out)
}
