-- Raw deliveries, kept whatever their type: the source of truth for replay.
CREATE TABLE webhook_events (
    id          bigserial PRIMARY KEY,
    source      text        NOT NULL,
    event_type  text        NOT NULL,
    dedupe_key  text        NOT NULL,
    payload     jsonb       NOT NULL,
    handled     boolean     NOT NULL,
    trace_id    text,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, dedupe_key)
);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

CREATE TABLE guests (
    id                text PRIMARY KEY,           -- Guesty guest id
    full_name         text,
    first_name        text,
    last_name         text,
    email             text,                       -- lower-cased
    phone_e164        text,
    raw               jsonb       NOT NULL DEFAULT '{}',
    source_updated_at timestamptz,
    deleted_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX guests_phone ON guests (phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE INDEX guests_email ON guests (email) WHERE email IS NOT NULL;

CREATE TABLE listings (
    id                     text PRIMARY KEY,      -- Guesty listing id
    title                  text,
    nickname               text,
    timezone               text,
    default_check_in_time  text,
    default_check_out_time text,
    raw                    jsonb       NOT NULL DEFAULT '{}',
    source_updated_at      timestamptz,
    removed_at             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    id                text PRIMARY KEY,           -- Guesty reservation id
    confirmation_code text,
    status            text,
    listing_id        text,
    guest_id          text,
    check_in          timestamptz,
    check_out         timestamptz,
    check_in_local    date,
    check_out_local   date,
    planned_arrival   text,
    planned_departure text,
    guests_count      integer,
    nights_count      integer,
    source            text,
    raw               jsonb       NOT NULL DEFAULT '{}',
    -- Set by lean v2 events, which carry ids but not the whole reservation.
    needs_refresh     boolean     NOT NULL DEFAULT false,
    source_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_guest ON reservations (guest_id);
CREATE INDEX reservations_listing ON reservations (listing_id);

CREATE TABLE calls (
    id                 bigint PRIMARY KEY,        -- Aircall call id
    call_uuid          text,
    direction          text,
    status             text,
    missed_call_reason text,
    started_at         timestamptz,
    answered_at        timestamptz,
    ended_at           timestamptz,
    duration           integer,
    phone_e164         text,
    contact_id         bigint,
    agent_name         text,
    asset_url          text,
    has_recording      boolean     NOT NULL DEFAULT false,
    has_voicemail      boolean     NOT NULL DEFAULT false,
    comments           jsonb       NOT NULL DEFAULT '[]',
    tags               jsonb       NOT NULL DEFAULT '[]',
    archived           boolean     NOT NULL DEFAULT false,
    transcript         text,
    summary            text,
    raw                jsonb       NOT NULL DEFAULT '{}',
    last_event         text        NOT NULL,
    -- (event_at, status_rank) orders deliveries: an older one never wins.
    event_at           timestamptz NOT NULL,
    status_rank        smallint    NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_phone ON calls (phone_e164) WHERE phone_e164 IS NOT NULL;

CREATE TABLE aircall_contacts (
    id         bigint PRIMARY KEY,
    first_name text,
    last_name  text,
    phones     text[]      NOT NULL DEFAULT '{}',  -- E.164
    emails     text[]      NOT NULL DEFAULT '{}',  -- lower-cased
    raw        jsonb       NOT NULL DEFAULT '{}',
    event_at   timestamptz NOT NULL,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The outbox. A step writes the next step's job in its own transaction,
-- then invokes the function; redrive re-invokes what is overdue.
CREATE TABLE jobs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text        NOT NULL,
    function        text        NOT NULL,
    subject         text        NOT NULL,
    payload         jsonb       NOT NULL DEFAULT '{}',
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    trace_id        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
-- One pending job per subject: a burst of events for one listing coalesces.
CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, subject) WHERE status = 'pending';
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE status IN ('pending', 'running');
