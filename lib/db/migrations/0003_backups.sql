-- One row per backup run of the backup function (lib/backup). The object in
-- the store is the backup; this row is its record: checksum, size, the row
-- counts of its snapshot, and whether a restore of it was verified.
CREATE TABLE backups (
    id             bigserial   PRIMARY KEY,
    database_name  text        NOT NULL,
    -- Where the object lives, without credentials: s3://host/bucket or file:///dir.
    store          text        NOT NULL,
    object_key     text        NOT NULL,
    status         text        NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'uploaded', 'verified', 'failed')),
    server_version text,
    started_at     timestamptz NOT NULL,
    uploaded_at    timestamptz,
    verified_at    timestamptz,
    finished_at    timestamptz,
    -- Set by retention once the object is deleted; the row stays as history.
    deleted_at     timestamptz,
    bytes          bigint,                    -- size of the stored (compressed) object
    dump_bytes     bigint,                    -- size of pg_dump's output before compression
    sha256         text,                      -- of the stored object, hex
    row_counts     jsonb,                     -- {"schema.table": rows} in the dump's snapshot
    error          text,                      -- why a failed run failed (no data values)
    UNIQUE (store, object_key)
);
CREATE INDEX backups_database_started ON backups (database_name, started_at DESC);
