-- Who a contact is, decided rather than assumed (issue 13). guest_id is
-- now the guest whose data answers may use, set only when the link is
-- proven; what the contact merely claims is kept apart for the people who
-- take over.
ALTER TABLE conversations
    ADD COLUMN claimed_guest_id text,
    -- channel | hmac | email | sync | code: how guest_id was proven.
    ADD COLUMN verified_by text,
    -- The guest message whose question waits for the guest to prove who
    -- they are (confirmation code and last name).
    ADD COLUMN verify_asked_message_id bigint;

-- Links made before were taken on the contact's word (an identifier or an
-- email anyone can set in a web widget). They become claims; the next
-- message of a phone, email or synced contact proves them again.
UPDATE conversations SET claimed_guest_id = guest_id, guest_id = NULL WHERE guest_id IS NOT NULL;

-- Every identity check a guest made in a conversation: one per message, so
-- a repeated answer job counts nothing twice. Failed ones bound the
-- attempts per conversation and per hour.
CREATE TABLE identity_checks (
    account_id      bigint      NOT NULL,
    message_id      bigint      NOT NULL,
    conversation_id bigint      NOT NULL,
    ok              boolean     NOT NULL,
    reservation_id  text,
    checked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, message_id)
);
CREATE INDEX identity_checks_conversation ON identity_checks (account_id, conversation_id);
CREATE INDEX identity_checks_failed ON identity_checks (checked_at) WHERE NOT ok;
