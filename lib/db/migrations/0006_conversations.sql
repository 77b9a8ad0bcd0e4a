-- Chatwoot conversations as the bot sees them. Chatwoot's REST paths take
-- the display id, which is unique per account.
CREATE TABLE conversations (
    account_id     bigint      NOT NULL,
    id             bigint      NOT NULL,          -- display id
    inbox_id       bigint,
    contact_id     bigint,
    guest_id       text,                          -- resolved link to guests.id
    status         text,                          -- last status Chatwoot reported
    -- Set when the bot handed the conversation to a person: it stays silent after.
    handed_off_at  timestamptz,
    handoff_reason text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id)
);

-- Every message event the bot received (incoming, outgoing, private notes).
CREATE TABLE messages (
    account_id      bigint      NOT NULL,
    id              bigint      NOT NULL,         -- Chatwoot message id
    conversation_id bigint      NOT NULL,         -- display id
    message_type    text        NOT NULL,         -- incoming | outgoing | activity | template
    sender_type     text,                         -- contact | user | agent_bot
    private         boolean     NOT NULL DEFAULT false,
    content         text,
    attachments     jsonb       NOT NULL DEFAULT '[]',
    transcript      text,                         -- voice messages (stt)
    created_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id)
);
CREATE INDEX messages_conversation ON messages (account_id, conversation_id, created_at);

-- One reply per answered guest message (the newest of a burst). chatwoot-reply
-- posts it and stores Chatwoot's message id; posting twice is impossible.
CREATE TABLE replies (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id          bigint      NOT NULL,
    conversation_id     bigint      NOT NULL,
    inbound_message_id  bigint      NOT NULL,
    -- auto: an outgoing message; draft: a private note for an agent;
    -- handoff: a private note with the reason, status open, label ai-handoff.
    mode                text        NOT NULL CHECK (mode IN ('auto', 'draft', 'handoff')),
    content             text        NOT NULL,
    language            text,
    citations           jsonb       NOT NULL DEFAULT '[]',
    provenance          jsonb       NOT NULL DEFAULT '{}',   -- reservation fields, chunk ids, prompt version, model
    handoff_reason      text,
    want_audio          boolean     NOT NULL DEFAULT false,
    status              text        NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'posted', 'dropped', 'failed')),
    drop_reason         text,
    chatwoot_message_id bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    posted_at           timestamptz,
    UNIQUE (account_id, inbound_message_id)
);
CREATE INDEX replies_conversation ON replies (account_id, conversation_id);

-- Chatwoot contacts kept in step with Guesty guests.
CREATE TABLE contact_links (
    guest_id    text PRIMARY KEY,
    account_id  bigint      NOT NULL,
    contact_id  bigint      NOT NULL,
    synced_hash text        NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now()
);
