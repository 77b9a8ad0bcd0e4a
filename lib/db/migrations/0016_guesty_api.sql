-- Guesty Open API (issue 12).

-- The access token every replica shares: Guesty issues at most five tokens
-- per client in 24 hours, so a token per invocation (or per replica) would
-- lock the account out. One row per client (keyed by a digest of the client
-- id, so rotated credentials start a row of their own); renewed under an
-- advisory lock by one caller while the others wait and read the new row.
-- The token is sealed with a key derived from the client secret: a dump or
-- a backup of the database alone does not hold a usable bearer token.
CREATE TABLE guesty_tokens (
    client_key   text PRIMARY KEY,
    sealed_token bytea       NOT NULL,
    -- SHA-256 of the token: a caller whose token Guesty refused expires
    -- exactly that one, not a newer one another replica stored meanwhile.
    token_digest text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    -- Tokens requested for this client so far: the operator's view of how
    -- close the account came to Guesty's daily cap.
    issued_count integer     NOT NULL DEFAULT 1
);

-- Cursors of long API walks (the first import, the reconciliation), so an
-- interrupted run resumes where it stopped instead of starting over.
CREATE TABLE guesty_sync (
    name        text PRIMARY KEY,
    phase       text        NOT NULL,
    skip        integer     NOT NULL DEFAULT 0,
    window_from timestamptz,
    window_to   timestamptz,
    counts      jsonb       NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- When the stored status was last decided, by a lean v2 event (its
-- publishedAt) or by a whole reservation (its lastUpdatedAt): a whole
-- reservation fetched before a cancellation must not bring a canceled stay
-- back to confirmed.
ALTER TABLE reservations ADD COLUMN status_at timestamptz;
