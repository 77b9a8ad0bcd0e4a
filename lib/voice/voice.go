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
	"strings"

	"github.com/harborstays/concierge/lib/config"
)

// TTL is how long audio is kept.
var TTL = config.Register(config.Setting{Name: "VOICE_TTL", Default: "72h",
	Help: "voice messages and spoken replies (audio) are deleted this long after they were stored (purge)", Used: "stt, tts, purge"})

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
