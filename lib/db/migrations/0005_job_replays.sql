-- `concierge replay` moves failed jobs back to pending with fresh attempt
-- and redrive counters and no last_error; what the job had when it failed
-- is kept here. A failed job whose subject already has a pending job of the
-- same kind is not re-queued but marked done, absorbed into that job, as
-- jobs.Enqueue coalesces a burst of events into one pending job.
CREATE TABLE job_replays (
    id            bigserial   PRIMARY KEY,
    job_id        uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    outcome       text        NOT NULL CHECK (outcome IN ('requeued', 'absorbed')),
    absorbed_into uuid,
    attempts      integer     NOT NULL,
    redrives      integer     NOT NULL,
    last_error    text,
    failed_at     timestamptz NOT NULL,
    replayed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_replays_job ON job_replays (job_id);

-- Failed jobs by kind: the redrive metrics and `concierge replay --kind`.
CREATE INDEX jobs_failed ON jobs (kind) WHERE status = 'failed';
