-- Personal data kept only as long as it is needed (issue 21): retention by
-- kind of data (purge), erasure on request (concierge forget-guest, Guesty
-- guest.deleted) and its log, which is replayed after a restore.

-- One erasure: who asked (cli, guesty, replay), what it removed (counts),
-- and keyed hashes of the identifiers it erased ("kind:hex", HMAC-SHA256
-- under ERASURE_LOG_KEY), so a restored backup can be narrowed again
-- without the log holding a name, a phone, an e-mail or an id.
CREATE TABLE erasure_log (
    id         bigserial   PRIMARY KEY,
    source     text        NOT NULL CHECK (source IN ('cli', 'guesty', 'replay')),
    key_id     text        NOT NULL,              -- first bytes of sha256(key): which key hashed
    hashes     text[]      NOT NULL,
    counts     jsonb       NOT NULL DEFAULT '{}',
    erased_at  timestamptz NOT NULL DEFAULT now()
);

-- A guest erased after Guesty's guest.deleted keeps its id as a tombstone
-- (every personal column cleared), so a late redelivery of an older update
-- cannot bring the guest back; erased_at says the purge has done it.
ALTER TABLE guests ADD COLUMN erased_at timestamptz;
CREATE INDEX guests_deleted ON guests (deleted_at) WHERE deleted_at IS NOT NULL;

-- What the reports keep once replies leave: counts per day, account, mode,
-- outcome and language. No text, no conversation, no hand-off reason (a
-- reason can be a summary of what the guest said).
CREATE TABLE reply_stats (
    day        date    NOT NULL,
    account_id bigint  NOT NULL,
    mode       text    NOT NULL,
    status     text    NOT NULL,
    language   text    NOT NULL DEFAULT '',
    replies    bigint  NOT NULL DEFAULT 0,
    cited      bigint  NOT NULL DEFAULT 0,   -- replies with at least one citation
    spoken     bigint  NOT NULL DEFAULT 0,   -- replies that wanted audio
    PRIMARY KEY (day, account_id, mode, status, language)
);

-- Voice in Chatwoot: when the purge had Chatwoot delete the message that
-- holds a voice note or a spoken reply (or found it gone).
ALTER TABLE messages ADD COLUMN voice_removed_at timestamptz;
ALTER TABLE replies ADD COLUMN voice_removed_at timestamptz;

-- Retention scans walk these in age order, a batch at a time.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX replies_created ON replies (created_at);
CREATE INDEX calls_event_at ON calls (event_at);
CREATE INDEX jobs_done_at ON jobs (done_at) WHERE status = 'done';
CREATE INDEX jobs_failed_at ON jobs (updated_at) WHERE status = 'failed';
CREATE INDEX messages_voice_pending ON messages (created_at)
    WHERE voice_removed_at IS NULL AND (transcript IS NOT NULL OR voice_error IS NOT NULL);
CREATE INDEX replies_voice_pending ON replies (posted_at)
    WHERE voice_removed_at IS NULL AND voice_status = 'ready' AND chatwoot_message_id IS NOT NULL;

-- One row per retention pass (purge): what it removed by kind, whether it
-- finished within its budget and its longest batch (the longest any row
-- lock was held). redrive and purge export the latest as metrics.
CREATE TABLE retention_runs (
    id               bigserial   PRIMARY KEY,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    complete         boolean     NOT NULL,
    removed          jsonb       NOT NULL DEFAULT '{}',
    batches          integer     NOT NULL DEFAULT 0,
    longest_batch_ms integer     NOT NULL DEFAULT 0,
    error            text
);
