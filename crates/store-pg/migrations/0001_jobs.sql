-- reportflow schema version 1: jobs, their history, and counts per state.
--
-- Two clocks, never mixed:
--   * job times (due_at, updated_at, reportflow_history.at) are the core's milliseconds since
--     the Unix epoch, given by the caller with each operation (`now`), as in the sled store;
--   * lease times (lease_expires_at) are the database's own clock (clock_timestamp()), so that
--     the workers' clocks never decide who holds a job.

-- One row per job. `record` is the job exactly as the sled store encodes it (a 2-byte record
-- version, then bincode); every other column but the lease is derived from it in the same
-- write, for the indexes.
CREATE TABLE reportflow_jobs (
    -- Never reused: a purge deletes rows, the sequence goes on.
    id               bigint      GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME reportflow_job_ids)
                                 PRIMARY KEY,
    key              text        NOT NULL UNIQUE,
    account          text        NOT NULL,
    -- The stable state byte of the sled store (crates/store/src/layout.rs): requested 1,
    -- created 2, polling 3, ready 4, completed 5, downloaded 6, expired 7, nodata 8,
    -- failed 9, cancelled 10.
    state            smallint    NOT NULL CHECK (state BETWEEN 1 AND 10),
    -- The job has not ended (state 1 to 5).
    live             boolean     NOT NULL CHECK (live = (state <= 5)),
    -- When its next effect is due (core time).
    due_at           bigint      NOT NULL,
    -- Transitions taken; every step checks it (optimistic concurrency).
    version          bigint      NOT NULL CHECK (version >= 0),
    record           bytea       NOT NULL,
    -- Its last change (core time); for an ended job, when it ended.
    updated_at       bigint      NOT NULL,
    -- The lease: who may step the job, until when (database time). The token grows by one at
    -- every claim; a step is written only under the current token, owner and an unexpired lease.
    lease_owner      text,
    lease_token      bigint      NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    CONSTRAINT reportflow_jobs_lease_whole CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

-- claim and next_due: live jobs by due time.
CREATE INDEX reportflow_jobs_live_due ON reportflow_jobs (due_at, id) WHERE live;
-- live_page: live jobs by id (a restart reads only these, however many ended jobs are kept).
CREATE INDEX reportflow_jobs_live_id ON reportflow_jobs (id) WHERE live;
-- list(state): the jobs of one state by id.
CREATE INDEX reportflow_jobs_state ON reportflow_jobs (state, id);
-- purge: ended jobs by end time.
CREATE INDEX reportflow_jobs_ended ON reportflow_jobs (updated_at, id) WHERE NOT live;
-- The per-account bound of claim: leased jobs by account.
CREATE INDEX reportflow_jobs_leased ON reportflow_jobs (account) WHERE lease_owner IS NOT NULL;

-- Every step of every job, appended in the step's transaction: seq 0 is the submit, then one
-- per transition (seq = the job's version after it).
CREATE TABLE reportflow_history (
    job_id      bigint   NOT NULL REFERENCES reportflow_jobs (id),
    seq         bigint   NOT NULL CHECK (seq >= 0),
    from_state  smallint CHECK (from_state BETWEEN 1 AND 10),
    to_state    smallint NOT NULL CHECK (to_state BETWEEN 1 AND 10),
    input       text     NOT NULL,
    at          bigint   NOT NULL,
    -- The lease the step was written under (NULL: the submit, or a user's command).
    lease_token bigint,
    worker      text,
    PRIMARY KEY (job_id, seq)
);

CREATE FUNCTION reportflow_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reportflow_history is append-only: a recorded step is never changed';
END
$$;

CREATE TRIGGER reportflow_history_append_only
    BEFORE UPDATE ON reportflow_history
    FOR EACH ROW EXECUTE FUNCTION reportflow_history_append_only();

-- Jobs per state, changed in the same transaction as the jobs: counts without a scan.
CREATE TABLE reportflow_counts (
    state smallint PRIMARY KEY CHECK (state BETWEEN 1 AND 10),
    jobs  bigint   NOT NULL CHECK (jobs >= 0)
);

INSERT INTO reportflow_counts (state, jobs)
SELECT state, 0 FROM generate_series(1, 10) AS state;

-- Whole milliseconds from the database's clock until `t` (0 once passed; NULL for NULL).
CREATE FUNCTION reportflow_ms_until(t timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE STRICT AS $$
    SELECT greatest(0, floor(extract(epoch FROM t - clock_timestamp()) * 1000))::bigint
$$;
