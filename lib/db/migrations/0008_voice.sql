-- Voice messages (stt) and spoken replies (tts). Audio is personal data:
-- every clip has an expiry and the purge function deletes it after.
CREATE TABLE voice_clips (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text        NOT NULL CHECK (kind IN ('input', 'reply')),
    account_id      bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    message_id      bigint,                       -- input: the guest's Chatwoot message
    reply_id        uuid,                         -- reply: replies.id
    content_type    text        NOT NULL,
    bytes           bytea       NOT NULL,         -- short clips only (VOICE_MAX_BYTES)
    size            integer     NOT NULL,
    duration_ms     integer,
    transcript      text,
    provider        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX voice_clips_input ON voice_clips (account_id, message_id) WHERE kind = 'input';
CREATE UNIQUE INDEX voice_clips_reply ON voice_clips (reply_id) WHERE kind = 'reply';
CREATE INDEX voice_clips_expires ON voice_clips (expires_at);

-- Why a voice message could not be transcribed (the answer explains it or
-- hands off); the channel decides the reply's audio format.
ALTER TABLE messages ADD COLUMN voice_error text;
ALTER TABLE conversations ADD COLUMN channel text;

-- A spoken reply: its clip, and the outcome of synthesis (pending, ready,
-- failed with a reason: the text is posted alone then).
ALTER TABLE replies
    ADD COLUMN voice_clip_id uuid REFERENCES voice_clips (id) ON DELETE SET NULL,
    ADD COLUMN voice_status  text CHECK (voice_status IN ('pending', 'ready', 'failed')),
    ADD COLUMN voice_error   text;
