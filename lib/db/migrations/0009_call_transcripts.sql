-- Call transcripts and summaries come from Aircall AI Assist
-- (transcription.created, summary.created) or, for a recorded call that
-- gets none, from our own transcription of the recording (stt). Aircall's
-- speaker-separated transcript wins over ours whenever it arrives.
ALTER TABLE calls
    ADD COLUMN transcript_source   text CHECK (transcript_source IN ('aircall', 'azure', 'local')),
    ADD COLUMN transcript_language text,
    ADD COLUMN transcript_at       timestamptz,
    ADD COLUMN transcript_error    text,
    ADD COLUMN summary_at          timestamptz,
    -- Aircall's signed recording link (valid for about an hour): what stt
    -- downloads; after it expires, the stable asset_url with API
    -- credentials.
    ADD COLUMN recording_url       text;

-- A job that must not start before a time (a call's own transcription
-- waits for Aircall's). Start leaves it alone until then; redrive invokes
-- it once due.
ALTER TABLE jobs ADD COLUMN not_before timestamptz;

-- A voice message's transcript is stored before its private note is
-- posted; transcript_noted_at says the note went out (a retry posts only
-- what is missing). transcript_language is the locale recognised.
ALTER TABLE messages
    ADD COLUMN transcript_noted_at timestamptz,
    ADD COLUMN transcript_language text;
