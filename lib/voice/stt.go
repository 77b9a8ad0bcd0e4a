package voice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/harborstays/concierge/lib/chatwoot"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/jobs"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/speech"
)

// NotePrefix starts the private note that carries a transcript.
const NotePrefix = "Voice message transcript: "

// maxRedirects bounds the redirects of a download (Chatwoot's ActiveStorage
// answers data_url with one redirect to the blob).
const maxRedirects = 5

// downloadTypes are the Content-Types a voice note may be served with;
// ffprobe checks the bytes after.
var downloadTypes = []string{"audio/", "video/ogg", "video/webm", "video/mp4", "video/3gpp", "application/ogg", "application/octet-stream", "binary/octet-stream"}

// Listener is the stt step: it transcribes one guest voice message.
type Listener struct {
	DB      *pgxpool.Pool
	Engines speech.Engines
	// Chat posts the transcript note; nil keeps it local (the transcript is
	// in messages.transcript).
	Chat    *chatwoot.Client
	Invoker jobs.Invoker
	HTTP    *http.Client
	TTL     time.Duration
	Now     func() time.Time
	// AllowedHosts, when set, are the only hosts a data_url may name (the
	// Chatwoot server's, and VOICE_DOWNLOAD_HOSTS): a signed webhook still
	// must not make stt fetch arbitrary addresses. Redirects from them (to
	// the blob store) are followed.
	AllowedHosts []string
}

// Heard is the outcome of a transcribe job.
type Heard struct {
	Status   string `json:"status"` // transcribed, failed, already
	Provider string `json:"provider,omitempty"`
	Chars    int    `json:"chars,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Note     bool   `json:"note,omitempty"` // the transcript note was posted to Chatwoot
}

// NewHTTPClient is the downloader: redirects followed up to a bound.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		return nil
	}}
}

type storedMessage struct {
	conversation int64
	attachments  []chatwoot.Attachment
	// done: transcribed and noted, or failed; transcript: transcribed.
	done       bool
	transcript string
}

// Run handles a claimed transcribe job.
func (l *Listener) Run(ctx context.Context, job jobs.Claimed) (Heard, error) {
	account, id, err := jobs.ParseMessageSubject(job.Subject)
	if err != nil {
		return Heard{}, err
	}
	log := logging.From(ctx).With().Int64("account_id", account).Int64("message_id", id).Logger()
	ctx = logging.WithLogger(ctx, log)
	m, err := l.load(ctx, account, id)
	if err != nil {
		return Heard{}, err
	}
	if m.done {
		// An earlier attempt stored the outcome; make sure the answer runs.
		return Heard{Status: "already"}, l.queueAnswer(ctx, account, m.conversation)
	}
	if m.transcript != "" {
		// Transcribed by an earlier attempt whose note did not go out.
		return l.note(ctx, job, account, id, m.conversation, Heard{Status: "transcribed", Chars: len(m.transcript)}, m.transcript)
	}
	var audio *chatwoot.Attachment
	for i := range m.attachments {
		if m.attachments[i].FileType == "audio" && m.attachments[i].DataURL != "" {
			audio = &m.attachments[i]
			break
		}
	}
	if audio == nil {
		return l.failed(ctx, account, id, m.conversation, fault.New(fault.Invalid, speech.ReasonEmpty))
	}
	raw, err := l.download(ctx, audio.DataURL)
	var dur time.Duration
	var tr speech.Transcript
	if err == nil {
		tr, dur, err = hear(ctx, l.Engines, raw, l.Engines.Limits, "voice message")
	}
	if err != nil {
		if fault.Retryable(err) && job.Attempt < jobs.Transcribe.Policy.MaxAttempts {
			return Heard{}, err
		}
		return l.failed(ctx, account, id, m.conversation, err)
	}
	h := Heard{Status: "transcribed", Provider: tr.Provider, Chars: len(tr.Text)}
	// The transcript is stored before the note goes out: a retry after a
	// failed note posts only the note, never transcribes twice.
	err = pgx.BeginFunc(ctx, l.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE messages SET transcript = $3, transcript_language = $4, voice_error = NULL WHERE account_id = $1 AND id = $2",
			account, id, tr.Text, nullable(tr.Language)); err != nil {
			return err
		}
		_, err := StoreClip(ctx, tx, Clip{Kind: KindInput, AccountID: account, ConversationID: m.conversation, MessageID: id,
			ContentType: contentTypeOf(audio), Bytes: raw, Duration: dur, Transcript: tr.Text, Provider: tr.Provider,
			ExpiresAt: l.Now().Add(l.TTL)})
		return err
	})
	if err != nil {
		return Heard{}, fault.Wrap(fault.Unavailable, fmt.Errorf("store transcript: %w", err), "database unavailable")
	}
	log.Info().Str("provider", tr.Provider).Int("chars", len(tr.Text)).Dur("audio", dur).Msg("voice message transcribed")
	return l.note(ctx, job, account, id, m.conversation, h, tr.Text)
}

// note posts the transcript as a private note for the agents, then marks it
// posted and queues the answer in one transaction. A retryable failure to
// post is retried (the transcript is kept); after the last attempt, or on
// a permanent one, the answer goes ahead without the note.
func (l *Listener) note(ctx context.Context, job jobs.Claimed, account, id, conv int64, h Heard, transcript string) (Heard, error) {
	log := logging.From(ctx)
	var noteID *int64
	if l.Chat != nil {
		msg, err := l.Chat.ForAccount(account).PostMessage(ctx, conv, chatwoot.NewMessage{Content: NotePrefix + transcript, Private: true})
		switch {
		case err == nil:
			h.Note = true
			// Kept so chatwoot-reply does not take our note, posted with
			// an agent's token, for a person writing.
			noteID = &msg.ID
		case fault.Retryable(err) && job.Attempt < jobs.Transcribe.Policy.MaxAttempts:
			return Heard{}, err
		default:
			log.Warn().Err(err).Msg("transcript note not posted")
		}
	}
	var answer jobs.Job
	err := pgx.BeginFunc(ctx, l.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE messages SET transcript_noted_at = now(), transcript_note_id = $3 WHERE account_id = $1 AND id = $2",
			account, id, noteID); err != nil {
			return err
		}
		var err error
		answer, err = l.enqueueAnswer(ctx, tx, account, conv)
		return err
	})
	if err != nil {
		// The note is out; the retry posts it again (at least once).
		return Heard{}, fault.Wrap(fault.Unavailable, fmt.Errorf("queue answer: %w", err), "database unavailable")
	}
	jobs.Dispatch(ctx, l.Invoker, []jobs.Job{answer})
	return h, nil
}

// withoutQuery keeps only the scheme and host of the URL in a transport
// error: a signed link's query (Aircall's recordings) and path (Chatwoot's
// blob ids, which do not expire) are credentials and must not reach logs
// or jobs.last_error.
func withoutQuery(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Scheme + "://" + u.Host + "/…", Err: ue.Err}
		}
		return &url.Error{Op: ue.Op, URL: "(address withheld)", Err: ue.Err}
	}
	return err
}

// hear transcodes audio to 16 kHz mono within lim and transcribes it; no
// recognisable speech is invalid input (what names the audio).
func hear(ctx context.Context, e speech.Engines, audio []byte, lim speech.Limits, what string) (speech.Transcript, time.Duration, error) {
	wav, dur, err := e.Tools.ToWAV16k(ctx, audio, lim)
	if err != nil {
		return speech.Transcript{}, 0, err
	}
	tr, err := e.Transcriber.Transcribe(ctx, wav, "")
	if err == nil && strings.TrimSpace(tr.Text) == "" {
		err = fault.New(fault.Invalid, "no speech was recognised in the %s", what)
	}
	return tr, dur, err
}

func contentTypeOf(a *chatwoot.Attachment) string {
	if a.ContentType != "" {
		return a.ContentType
	}
	if t := mime.TypeByExtension("." + a.Extension); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (l *Listener) load(ctx context.Context, account, id int64) (storedMessage, error) {
	var m storedMessage
	var raw []byte
	err := l.DB.QueryRow(ctx, `SELECT conversation_id, attachments,
			(transcript IS NOT NULL AND transcript_noted_at IS NOT NULL) OR voice_error IS NOT NULL, COALESCE(transcript, '')
		FROM messages WHERE account_id = $1 AND id = $2`, account, id).Scan(&m.conversation, &raw, &m.done, &m.transcript)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fault.New(fault.NotFound, "no message %d:%d", account, id)
	}
	if err != nil {
		return m, fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	if err := json.Unmarshal(raw, &m.attachments); err != nil {
		return m, fault.Wrap(fault.Permanent, err, "stored attachments are not JSON")
	}
	return m, nil
}

// failed records why the message could not be transcribed and queues the
// answer, which explains it to the guest or hands off: never silence.
func (l *Listener) failed(ctx context.Context, account, id, conv int64, cause error) (Heard, error) {
	reason := ErrFailedPrefix + fault.Public(cause)
	if fault.KindOf(cause) == fault.Invalid {
		reason = ErrInvalidPrefix + fault.Public(cause)
	}
	logging.From(ctx).Warn().Err(cause).Str("reason", reason).Msg("voice message not transcribed")
	var answer jobs.Job
	err := pgx.BeginFunc(ctx, l.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE messages SET voice_error = $3 WHERE account_id = $1 AND id = $2 AND transcript IS NULL",
			account, id, reason); err != nil {
			return err
		}
		var err error
		answer, err = l.enqueueAnswer(ctx, tx, account, conv)
		return err
	})
	if err != nil {
		return Heard{}, fault.Wrap(fault.Unavailable, fmt.Errorf("record voice error: %w", err), "database unavailable")
	}
	jobs.Dispatch(ctx, l.Invoker, []jobs.Job{answer})
	return Heard{Status: "failed", Reason: reason}, nil
}

// queueAnswer enqueues the conversation's answer job in its own
// transaction and invokes it.
func (l *Listener) queueAnswer(ctx context.Context, account, conv int64) error {
	var j jobs.Job
	err := pgx.BeginFunc(ctx, l.DB, func(tx pgx.Tx) error {
		var err error
		j, err = l.enqueueAnswer(ctx, tx, account, conv)
		return err
	})
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "database unavailable")
	}
	jobs.Dispatch(ctx, l.Invoker, []jobs.Job{j})
	return nil
}

// enqueueAnswer wakes the conversation's answer job, which waits for this
// transcript, or queues one.
func (l *Listener) enqueueAnswer(ctx context.Context, tx pgx.Tx, account, conv int64) (jobs.Job, error) {
	return jobs.WakeOrEnqueue(ctx, tx, jobs.Answer, jobs.ConversationSubject(account, conv), logging.Trace(ctx))
}

// download fetches a voice message's data_url within the size limit.
func (l *Listener) download(ctx context.Context, u string) ([]byte, error) {
	d := downloader{HTTP: l.HTTP, AllowedHosts: l.AllowedHosts, MaxBytes: l.Engines.Limits.MaxBytes, What: "voice message"}
	return d.get(ctx, u, nil)
}

// downloader fetches audio over HTTP within limits and maps failures to
// fault kinds with reasons a guest or an agent can read.
type downloader struct {
	HTTP *http.Client
	// AllowedHosts, when set, are the only hosts u may name.
	AllowedHosts []string
	MaxBytes     int64
	// What names the audio in reasons ("voice message", "call recording").
	What string
}

// goneError is an answer saying the audio is not there (403, 404, 410):
// a signed link that expired, or a deleted file.
type goneError struct{ status int }

func (e *goneError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// get fetches u; auth, when set, decorates the request (API credentials).
func (d downloader) get(ctx context.Context, u string, auth func(*http.Request)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, fault.New(fault.Invalid, "the %s has no valid download address", d.What)
	}
	if len(d.AllowedHosts) > 0 && !slices.ContainsFunc(d.AllowedHosts, func(h string) bool { return strings.EqualFold(h, req.URL.Host) }) {
		return nil, fault.New(fault.Invalid, "the %s's download address is not on the Chatwoot server", d.What)
	}
	if auth != nil {
		auth(req)
	}
	res, err := d.HTTP.Do(req)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, withoutQuery(err), "the "+d.What+" could not be downloaded")
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusGone || res.StatusCode == http.StatusForbidden:
		return nil, fault.Wrap(fault.Invalid, &goneError{res.StatusCode}, fmt.Sprintf("the %s is no longer available (HTTP %d)", d.What, res.StatusCode))
	case res.StatusCode == http.StatusUnauthorized:
		return nil, fault.New(fault.Permanent, "the %s could not be downloaded (HTTP 401: credentials refused)", d.What)
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return nil, fault.New(fault.Unavailable, "the %s could not be downloaded (HTTP %d)", d.What, res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return nil, fault.New(fault.Permanent, "the %s could not be downloaded (HTTP %d)", d.What, res.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	ok := ct == ""
	for _, p := range downloadTypes {
		ok = ok || strings.HasPrefix(ct, p)
	}
	if !ok {
		return nil, fault.New(fault.Invalid, "%s (%s)", speech.ReasonUnsupported, ct)
	}
	max := d.MaxBytes
	if max > 0 && res.ContentLength > max {
		return nil, fault.New(fault.Invalid, "%s (%d bytes, limit %d)", speech.ReasonTooLarge, res.ContentLength, max)
	}
	r := io.Reader(res.Body)
	if max > 0 {
		r = io.LimitReader(res.Body, max+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "the "+d.What+" could not be downloaded")
	}
	if max > 0 && int64(len(b)) > max {
		return nil, fault.New(fault.Invalid, "%s (limit %d bytes)", speech.ReasonTooLarge, max)
	}
	return b, nil
}
