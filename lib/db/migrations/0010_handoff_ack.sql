-- A hand-off in an inbox where the bot answers guests also tells the guest
-- a person will reply (HANDOFF_MESSAGE): without it the guest sees nothing
-- until someone picks the conversation up. ack_message_id makes the
-- message go out once.
ALTER TABLE replies
    ADD COLUMN acknowledge    boolean NOT NULL DEFAULT false,
    ADD COLUMN ack_message_id bigint;
