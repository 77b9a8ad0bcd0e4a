-- Urgent missed calls (issue 15): a missed call or voicemail from a guest
-- whose check-in is today or tomorrow becomes an urgent Chatwoot
-- conversation (or a private note in the guest's open one) for the team.
-- One row per such call, written before anything is posted; it goes with
-- the call (retention, erasure). No note text is kept: the access details
-- are read from the listing when the note is written.
CREATE TABLE urgent_calls (
    call_id          bigint      PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
    guest_id         text        NOT NULL,
    reservation_id   text        NOT NULL,
    listing_id       text,
    check_in_local   date        NOT NULL,
    called_at        timestamptz NOT NULL,
    account_id       bigint,
    -- The conversation the notes went to (display id), and whether this
    -- flow opened it (else it is the guest's open one).
    conversation_id  bigint,
    opened           boolean     NOT NULL DEFAULT false,
    -- The parts already posted (call, voicemail, transcript) and their
    -- Chatwoot message ids, in order: a retry posts only what is missing.
    noted            text[]      NOT NULL DEFAULT '{}',
    note_ids         bigint[]    NOT NULL DEFAULT '{}',
    -- Posting is not idempotent at Chatwoot, so a post is claimed first:
    -- the job that posts, the part, and when. An attempt after one whose
    -- outcome is unknown looks for what it may have posted.
    post_claim       text,
    post_part        text,
    post_started_at  timestamptz,
    priority_set_at  timestamptz,
    -- pending: not (all) posted yet; posted: the team has it; failed: the
    -- job gave up (replayable); local: Chatwoot is not configured.
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'posted', 'failed', 'local')),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    posted_at        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The console's overview counts them by the time of the call.
CREATE INDEX urgent_calls_called_at ON urgent_calls (called_at);
