-- Posting to Chatwoot is not idempotent, so a reply is claimed before it is
-- posted: post_claim is the job that posts it and post_started_at when. A
-- later attempt of the same job (or a replay) first looks for what an
-- earlier one may have posted; another job waits until the claim is stale.
-- ack_started_at does the same for the hand-off acknowledgement.
ALTER TABLE replies
    ADD COLUMN post_claim         text,
    ADD COLUMN post_started_at    timestamptz,
    ADD COLUMN ack_started_at     timestamptz,
    -- when chatwoot-reply asked tts for the spoken clip: the text goes
    -- alone if the clip is not ready in time.
    ADD COLUMN voice_requested_at timestamptz;

-- The transcript note stt posted for a voice message: ours, not a person's
-- (an agent token posts it as a user).
ALTER TABLE messages ADD COLUMN transcript_note_id bigint;
