-- The console's overview (issue 15) reads the figures of past periods from
-- here and counts only the last hour or so from messages and replies: a
-- 30-day overview reads a few thousand rows instead of a month of
-- messages (make bench: BenchmarkConsoleOverview).
--
-- A period is a UTC day (hours 24) once the day has ended an hour ago,
-- else an hour of the current day (hours 1) once it ended 15 minutes ago;
-- rolling a day replaces its hours, counted again from the messages. Per
-- period, one row for the whole period (dim 'all', key ''), one per inbox
-- (dim 'inbox', key its id; '0' when the conversation is unknown) and one
-- per listing (dim 'listing', key its id: the listing of the proven
-- guest's stay nearest that day; '' when the conversation has no proven
-- guest). No text, no conversation, no guest: the figures outlive the
-- messages (retention) and an erasure, as reply_stats does. reasons holds
-- hand-off reason classes (lib/console: a model's own free text is one
-- class, never kept).
CREATE TABLE console_periods (
    period_start   timestamptz NOT NULL,
    hours          smallint    NOT NULL CHECK (hours IN (1, 24)),
    dim            text        NOT NULL CHECK (dim IN ('all', 'inbox', 'listing')),
    key            text        NOT NULL,
    guest_messages bigint      NOT NULL DEFAULT 0,
    voice_messages bigint      NOT NULL DEFAULT 0,
    auto_replies   bigint      NOT NULL DEFAULT 0,   -- answered by the assistant (posted)
    drafts         bigint      NOT NULL DEFAULT 0,
    handoffs       bigint      NOT NULL DEFAULT 0,
    reasons        jsonb       NOT NULL DEFAULT '{}', -- hand-off reason class -> replies
    languages      jsonb       NOT NULL DEFAULT '{}', -- reply language -> replies
    PRIMARY KEY (period_start, dim, key)
);

-- Seconds from the guest's message to the assistant's posted answer, as a
-- histogram per period and row of console_periods: bucket (lib/console
-- latencyBucket: about 12 % wide) -> answers. Rows, not a jsonb column: a
-- month's histograms of every listing add up in one GROUP BY.
CREATE TABLE console_period_latency (
    period_start timestamptz NOT NULL,
    dim          text        NOT NULL,
    key          text        NOT NULL,
    bucket       smallint    NOT NULL,
    replies      bigint      NOT NULL,
    PRIMARY KEY (period_start, dim, key, bucket)
);

-- The periods rolled up (with no row when nothing happened), by the first
-- overview that needs them, under an advisory lock.
CREATE TABLE console_periods_rolled (
    period_start timestamptz PRIMARY KEY,
    hours        smallint    NOT NULL CHECK (hours IN (1, 24)),
    rolled_at    timestamptz NOT NULL DEFAULT now()
);

-- Knowledge gaps: the hand-offs of a window, newest first.
CREATE INDEX replies_handoffs ON replies (created_at) WHERE mode = 'handoff';
