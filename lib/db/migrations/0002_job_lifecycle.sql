-- A failed attempt waits in 'retrying' until its back-off ends; redrive
-- counts its own re-invocations so a job whose function never runs still
-- ends as failed.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'retrying', 'done', 'failed'));
ALTER TABLE jobs ADD COLUMN redrives integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN started_at timestamptz;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE status IN ('pending', 'running', 'retrying');
