-- reportflow schema version 2: the job's label as a column, so that a worker that drives only
-- one label's jobs (`run --label`) claims only those.
--
-- Derived from the record (`Job::label`) in the same writes as the other columns; it never
-- changes after the submit. Rows stored before this version were written by builds without
-- labels: NULL is right for them.
ALTER TABLE reportflow_jobs ADD COLUMN label text;

-- claim and next_due of a worker that drives one label: that label's live jobs by due time.
CREATE INDEX reportflow_jobs_live_label_due ON reportflow_jobs (label, due_at, id) WHERE live;
