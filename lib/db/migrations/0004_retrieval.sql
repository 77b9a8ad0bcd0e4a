-- What vectorize last indexed for each retrieval document, whatever the
-- index: unchanged content (same hash) is not indexed again.
CREATE TABLE documents (
    id         text PRIMARY KEY,            -- e.g. listing:<id>:access
    source     text        NOT NULL,        -- the vectorize subject: listing:<id>, call:<id>, knowledge
    kind       text        NOT NULL,
    guest_id   text,                        -- owner, when a guest's: re-synced when the guest changes
    hash       text        NOT NULL,
    chunks     integer     NOT NULL,
    indexed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_source ON documents (source);
CREATE INDEX documents_guest ON documents (guest_id) WHERE guest_id IS NOT NULL;

-- The PostgreSQL full-text index (the embedded default). English stems for
-- the business's own language plus 'simple' tokens, so words of any other
-- language still match exactly.
CREATE TABLE chunks (
    id             text PRIMARY KEY,
    document_id    text    NOT NULL,
    kind           text    NOT NULL,
    section        text    NOT NULL DEFAULT '',
    title          text    NOT NULL DEFAULT '',
    body           text    NOT NULL,
    global         boolean NOT NULL DEFAULT false,
    guest_id       text,
    listing_id     text,
    reservation_id text,
    restricted     boolean NOT NULL DEFAULT false,
    tsv            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('simple', title), 'A') ||
        setweight(to_tsvector('english', body), 'B') || setweight(to_tsvector('simple', body), 'D')
    ) STORED
);
CREATE INDEX chunks_document ON chunks (document_id);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX chunks_guest ON chunks (guest_id) WHERE guest_id IS NOT NULL;
CREATE INDEX chunks_listing ON chunks (listing_id) WHERE listing_id IS NOT NULL AND guest_id IS NULL;
CREATE INDEX chunks_global ON chunks (global) WHERE global;
