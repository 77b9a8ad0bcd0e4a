-- Who may read a chunk (issue 13). Aircall call comments and tags are the
-- team's internal notes: indexed as team-only chunks, never returned for a
-- guest's answer. Existing rows were all written for guests, so the default
-- is the guest audience; call documents are re-chunked (see below) so their
-- old comment chunks go.
ALTER TABLE chunks ADD COLUMN team_only boolean NOT NULL DEFAULT false;

-- Paragraphs screening held back at indexing (lib/screen): text that reads
-- as an instruction to an assistant, planted in a listing or a call. They are
-- never stored as chunks; this is the team's list of what to fix at the
-- source (`concierge quarantine`, and the concierge_quarantined_passages
-- gauge on redrive's metrics). A row lives while its document still holds
-- the paragraph: re-indexing without it, or removing the document, deletes
-- it. passage may hold personal data: it is shown to the team, never logged.
CREATE TABLE quarantined_passages (
    document_id text        NOT NULL,
    source      text        NOT NULL,   -- the vectorize subject: listing:<id>, call:<id>, knowledge
    kind        text        NOT NULL,
    section     text        NOT NULL DEFAULT '',
    passage     text        NOT NULL,
    digest      text        GENERATED ALWAYS AS (md5(passage)) STORED,
    rule        text        NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, digest)
);
CREATE INDEX quarantined_passages_source ON quarantined_passages (source);

-- Documents are hashed with the chunker and screening version
-- (lib/documents), so every document is re-chunked and screened on its next
-- sync. Calls and listings are where the new rules change what guests see
-- (internal notes, planted text): queue their re-index now rather than
-- waiting for their next change. redrive invokes these pending jobs once
-- their grace period has passed; a pending job of the same subject absorbs
-- the new one.
INSERT INTO jobs (kind, function, subject)
SELECT DISTINCT 'vectorize', 'vectorize', source FROM documents
WHERE kind IN ('call', 'listing')
ON CONFLICT (kind, subject) WHERE status = 'pending' DO NOTHING;
