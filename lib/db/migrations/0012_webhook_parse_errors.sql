-- An authenticated delivery of a known event type whose body did not decode
-- is kept raw with the reason (and answered 200: a provider that sees a
-- delivery fail again and again disables the whole webhook). parse_resolved_at
-- is set when a decoder that reads it applied it (`concierge replay-events`);
-- the error stays for the record.
ALTER TABLE webhook_events
    ADD COLUMN parse_error       text,
    ADD COLUMN parse_resolved_at timestamptz;

-- The operator's count of what is not understood yet, and the replay's list.
CREATE INDEX webhook_events_unparsed ON webhook_events (source, event_type, id)
    WHERE parse_error IS NOT NULL AND parse_resolved_at IS NULL;
