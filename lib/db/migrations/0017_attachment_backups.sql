-- Chatwoot's attachments (SeaweedFS, S3 API) copied into the backup store by
-- the backup function (lib/attachments). The database backups need no new
-- column: backups.database_name already tells the databases apart, and the
-- roles and globals are the pseudo-database '_globals'.
--
-- One row per stored copy. A run lists the bucket and copies what has no
-- current row or whose ETag or size changed; each copy is recorded as soon
-- as it is stored, so an interrupted run resumes where it stopped. A copy
-- whose object left the bucket (or was replaced by a new version) gets
-- deleted_at and stays in the store for BACKUP_ATTACHMENTS_KEEP_DAYS, then
-- retention removes it and sets removed_at; the row stays as history.
CREATE TABLE attachment_copies (
    -- Backup store, as in backups.store: s3://host/bucket or file:///dir.
    store        text        NOT NULL,
    -- The attachment bucket's name (not its endpoint: a new address for
    -- the same bucket must not copy everything again).
    source       text        NOT NULL,
    source_key   text        NOT NULL,
    backup_key   text        NOT NULL,
    etag         text        NOT NULL,   -- source ETag of the copied version, unquoted
    size         bigint      NOT NULL,   -- bytes of the attachment
    sha256       text        NOT NULL,   -- of the attachment's bytes, hex
    stored_bytes bigint      NOT NULL,   -- of the stored object (age adds a little)
    copied_at    timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,   -- start of the latest run whose listing had it
    verified_at  timestamptz,            -- latest read-back that matched sha256
    deleted_at   timestamptz,            -- left (or was replaced in) the bucket
    removed_at   timestamptz,            -- retention deleted the stored copy
    PRIMARY KEY (store, backup_key)
);
-- At most one current copy per attachment.
CREATE UNIQUE INDEX attachment_copies_current ON attachment_copies (store, source, source_key) WHERE deleted_at IS NULL;
CREATE INDEX attachment_copies_expiring ON attachment_copies (store, deleted_at) WHERE deleted_at IS NOT NULL AND removed_at IS NULL;

-- One row per run, for `make restore` ("last proven"), the metrics and
-- the next run (a run left 'running' was interrupted).
CREATE TABLE attachment_syncs (
    id           bigserial   PRIMARY KEY,
    store        text        NOT NULL,
    source       text        NOT NULL,
    status       text        NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    listed       bigint      NOT NULL DEFAULT 0,
    copied       bigint      NOT NULL DEFAULT 0,
    copied_bytes bigint      NOT NULL DEFAULT 0,
    unchanged    bigint      NOT NULL DEFAULT 0,
    pending      bigint      NOT NULL DEFAULT 0,   -- left for the next run (time budget)
    failed       bigint      NOT NULL DEFAULT 0,   -- copies that failed
    deleted      bigint      NOT NULL DEFAULT 0,   -- copies whose object left the bucket
    removed      bigint      NOT NULL DEFAULT 0,   -- copies retention deleted
    verified     bigint      NOT NULL DEFAULT 0,   -- sampled copies read back intact
    corrupt      bigint      NOT NULL DEFAULT 0,   -- sampled copies that were not
    error        text                               -- why it failed (no attachment content)
);
CREATE INDEX attachment_syncs_started ON attachment_syncs (store, source, started_at DESC);
