//! Recording transitions: the core decides, one sled transaction stores them.

use crate::lease::StepLease;
use crate::records::StoredTransition;
use crate::trees::{Tx, TxResult};
use crate::{Store, StoreError};
use reportflow_core::{Input, Job, JobId, Millis};
use sled::transaction::ConflictableTransactionError;

/// One transition to record ([`crate::JobStore::apply_many`], [`Store::apply_many`]): `input`
/// for job `id`, which the caller last saw at `expected_version`, written under `lease` when a
/// worker of a shared store writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The job.
    pub id: JobId,
    /// The version the caller read; another version in the store is a conflict.
    pub expected_version: u64,
    /// What happened.
    pub input: Input,
    /// The worker's lease on the job, on a shared store; `None` for a user's command (cancel,
    /// retry), which is checked by version only, and for every step on the sled store (one
    /// process holds it: nobody else can step its jobs). On a shared store a create intent
    /// ([`Input::CreateSending`]) needs one.
    pub lease: Option<StepLease>,
}

impl Step {
    /// `input` for job `id` last seen at `expected_version`, without a lease.
    pub fn new(id: JobId, expected_version: u64, input: Input) -> Step {
        Step {
            id,
            expected_version,
            input,
            lease: None,
        }
    }

    /// This step, written under `lease`.
    pub fn under(self, lease: Option<StepLease>) -> Step {
        Step { lease, ..self }
    }
}

/// A recorded step, as every backend answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedStep {
    /// The job after the step.
    pub job: Job,
    /// For a step written under a lease, how long the (renewed) lease lasts, by the
    /// database's clock, measured at the write: the lease ends no sooner than this long after
    /// the call was made. `None` for a step without a lease, when the job ended (an ended job's
    /// lease is cleared), and on the sled store.
    ///
    /// Before sending a create request, check that this covers the request.
    pub lease_remaining: Option<std::time::Duration>,
}

impl Store {
    /// Applies `input` to job `id` through the core's [`Job::apply`] in one sled transaction
    /// that writes the job (its value in `live`, holding the step's history entry, seq = the
    /// new version, while it has not ended; its record in `jobs` once it has) and moves its
    /// index entries (the counts; `by_state` and `ended` for an ended job) when its state
    /// changes. A step of a live job writes one key, and every 16th step one more (its history
    /// run, see [`crate::records::live`]); the counts of a transaction are one key.
    ///
    /// A job whose version is not `expected_version` is a [`StoreError::Conflict`]; an input the
    /// core refuses is [`StoreError::Rejected`]; in both cases nothing is written. The step is
    /// durable before this returns when [`Job::must_flush`] holds for it (with the default
    /// [`crate::Durability`]). Returns the new job.
    ///
    /// An error from that flush (`Io`, `NotWritable`) comes after the step was stored: it may
    /// not be durable, and the job is already at the next version. Read the job again before
    /// acting.
    pub fn apply(
        &self,
        id: JobId,
        expected_version: u64,
        input: Input,
        now: Millis,
    ) -> Result<Job, StoreError> {
        let step = Step::new(id, expected_version, input);
        let mut applied = self.apply_many(&[step], now)?;
        if applied.flush_needed {
            self.flush()?;
        }
        applied.results.pop().unwrap_or_else(|| {
            Err(StoreError::Database {
                dir: self.dir.clone(),
                detail: format!("a step of job {id} was neither recorded nor refused"),
            })
        })
    }

    /// [`Store::apply`] for many steps in one sled transaction, in order (a later step of the
    /// same job sees the earlier one), *without* flushing: when [`Applied::flush_needed`] is
    /// set, call [`Store::flush`] before acting on any of the results (the store's durability
    /// asks for it: a step at a durability point, or any step under `EveryChange`). One flush
    /// then covers the batch, and a flush running meanwhile covers other batches too.
    ///
    /// Each step has its own result; a refused step (conflict, rejected input, unknown job, a
    /// damaged record) writes nothing and does not hold up the others. `Err` is a storage
    /// failure of the whole batch, which then wrote nothing. A step's lease is not looked at:
    /// one process holds this store.
    pub fn apply_many(&self, steps: &[Step], now: Millis) -> Result<Applied, StoreError> {
        let outcomes = self
            .trees()
            .transact(&self.dir, "record a transition", |tx| {
                steps
                    .iter()
                    .map(|step| record(tx, step, now))
                    .collect::<TxResult<Vec<_>>>()
            })?;
        let point = outcomes
            .iter()
            .any(|o| matches!(o, Ok((before, after)) if Job::must_flush(before, after)));
        Ok(Applied {
            flush_needed: self.wants_flush(point),
            results: outcomes
                .into_iter()
                .map(|o| o.map(|(_, after)| after))
                .collect(),
        })
    }
}

/// What [`Store::apply_many`] stored.
#[derive(Debug)]
#[must_use = "a step at a durability point is not durable until the store is flushed"]
pub struct Applied {
    /// Each step's result, in order: the new job, or why nothing was written for it.
    pub results: Vec<Result<Job, StoreError>>,
    /// The batch must be flushed ([`Store::flush`]) before anyone acts on its results.
    pub flush_needed: bool,
}

/// Records one step inside the transaction. The inner `Err` is the step's own refusal (nothing
/// of it written); the outer one aborts or retries the whole transaction.
fn record(tx: &Tx<'_>, step: &Step, now: Millis) -> TxResult<Result<(Job, Job), StoreError>> {
    let id = step.id;
    let (job, mut pending) = match tx.job(id) {
        Ok(Some(stored)) => (stored.job, stored.pending),
        Ok(None) => return Ok(Err(StoreError::NotFound { id })),
        Err(ConflictableTransactionError::Abort(refused)) => return Ok(Err(refused)),
        Err(other) => return Err(other),
    };
    if job.version != step.expected_version {
        return Ok(Err(StoreError::Conflict {
            id,
            expected: step.expected_version,
            found: job.version,
        }));
    }
    let next = match job.apply(step.input.clone(), now) {
        Ok(next) => next,
        Err(refused) => return Ok(Err(StoreError::Rejected(refused))),
    };
    if job.state.name() != next.state.name() {
        tx.leave_state(&job)?;
        tx.enter_state(&next)?;
    }
    pending.push(StoredTransition {
        from: Some(job.state.name()),
        to: next.state.name(),
        input: step.input.summary(),
        at: now,
    });
    tx.put_job(Some(&job), &next, pending)?;
    Ok(Ok((job, next)))
}
