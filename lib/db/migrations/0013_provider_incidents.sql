-- A provider refusing the configuration (a decommissioned model id, a
-- rejected key) fails every guest's answer alike, in function processes
-- that nobody scrapes: each occurrence is counted here, one row per
-- provider, setting and provider code, and redrive's metrics endpoint
-- exposes the rows. message is the provider's explanation, without secrets
-- or personal data.
CREATE TABLE provider_incidents (
    provider   text        NOT NULL,
    setting    text        NOT NULL,
    code       text        NOT NULL,
    message    text        NOT NULL DEFAULT '',
    count      bigint      NOT NULL DEFAULT 1 CHECK (count > 0),
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, setting, code)
);
