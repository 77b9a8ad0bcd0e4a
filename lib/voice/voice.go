// Package voice is the voice flow around the speech engines: guests' voice
// messages are downloaded, transcribed and answered (stt), spoken replies
// are synthesised and stored (tts), and every clip expires (purge).
//
// The flow:
//
//	llm-query intake: a guest's audio-only message → transcribe job (stt)
//	stt: download, transcode, transcribe → messages.transcript, a private
//	     note "Voice message transcript: …", then the answer job (llm-query);
//	     a failure is stored in messages.voice_error and the answer job runs
//	     anyway: the answerer explains the problem or hands off
//	llm-query answerer: a reply to a voice message wants audio
//	chatwoot-reply: a want_audio reply without a clip → synthesize job (tts)
//	tts: synthesise, store the clip (expires_at), re-queue the reply job;
//	     on failure the reply is posted as text alone, with the reason kept
//	chatwoot-reply: posts the text with the clip attached
package voice

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
)

// Jobs of the voice flow.
var (
	// TranscribeJob: stt transcribes one guest message (MessageSubject).
	TranscribeJob = jobs.Kind{Name: "transcribe", Function: "stt"}
	// SynthesizeJob: tts speaks one reply (replies.Subject).
	SynthesizeJob = jobs.Kind{Name: "synthesize", Function: "tts"}
)

// Policy of the voice jobs: a voice answer late by minutes is still worth
// it; the lease covers the functions' 120 s timeout.
var Policy = jobs.Policy{MaxAttempts: 5, Lease: 3 * time.Minute, Base: 10 * time.Second, Max: 5 * time.Minute}

// TTL is how long audio is kept.
var TTL = config.Register(config.Setting{Name: "VOICE_TTL", Default: "72h",
	Help: "voice messages and spoken replies (audio) are deleted this long after they were stored (purge)", Used: "stt, tts, purge"})

// MessageSubject is the subject of a message's transcribe job.
func MessageSubject(account, message int64) string {
	return fmt.Sprintf("message:%d:%d", account, message)
}

// ParseMessageSubject reads MessageSubject.
func ParseMessageSubject(s string) (account, message int64, err error) {
	parts := strings.Split(s, ":")
	if len(parts) == 3 && parts[0] == "message" {
		a, err1 := strconv.ParseInt(parts[1], 10, 64)
		m, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil && a > 0 && m > 0 {
			return a, m, nil
		}
	}
	return 0, 0, fault.New(fault.Permanent, "job subject %q is not message:<account>:<id>", s)
}

// Voice errors stored in messages.voice_error start with one of these:
// the guest can fix an invalid message (send it again, shorter, or type),
// a failed one needs a person.
const (
	ErrInvalidPrefix = "invalid: "
	ErrFailedPrefix  = "failed: "
)

// GuestFixable reports whether voiceErr is one the guest can fix.
func GuestFixable(voiceErr string) bool { return strings.HasPrefix(voiceErr, ErrInvalidPrefix) }

// Explain is the text reply to a voice message that could not be
// transcribed for a reason the guest can fix.
func Explain(voiceErr string) string {
	reason := strings.TrimPrefix(voiceErr, ErrInvalidPrefix)
	if i := strings.Index(reason, " ("); i > 0 {
		reason = reason[:i]
	}
	return "Sorry, I could not listen to your voice message: " + reason +
		". Could you type your question, or send a shorter voice message?"
}
