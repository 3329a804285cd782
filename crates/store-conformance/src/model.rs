//! The model test, one body for every backend: random sequences of insert, apply (right and
//! stale versions, legal and refused inputs), purge and close-and-reopen leave the store
//! observably equal to a small in-memory reference model built on the core's pure `Job::apply`.
//!
//! The model learns each new job's id from the store (ids must grow and never be reused; they
//! need not be dense). On a shared store a create intent is recorded under a lease: the body
//! claims every claimable job before each step, and a create intent for a job it holds no
//! lease on (an ended one) is refused with `LeaseRequired` there.

use crate::backend::{Backend, Leases};
use crate::fixtures::*;
use proptest::prelude::*;
use reportflow_core::{Input, Job, JobId, JobKey, JobSpec, Millis, StateName};
use reportflow_store::{Inserted, JobStore, PurgeReport, Step, StoreError, TransitionRecord};
use std::collections::BTreeMap;
use std::sync::Arc;

const KEYS: u8 = 6;
const SPECS: u8 = 3;

/// One operation of a sequence.
#[derive(Clone, Debug)]
pub enum Op {
    /// Submits spec `spec` under key `key` at `at`.
    Insert {
        /// Which key.
        key: u8,
        /// Which spec.
        spec: u8,
        /// When.
        at: u64,
    },
    /// Applies an input to a job (`job` picks it; 11 an unknown id).
    Apply {
        /// Which job.
        job: u8,
        /// How far the expected version is off.
        stale: i8,
        /// A legal input for the job's state, or any.
        legal: bool,
        /// Which input.
        pick: u64,
        /// When.
        at: u64,
    },
    /// Purges ended jobs older than this.
    Purge {
        /// The cut-off.
        older_than: u64,
    },
    /// Closes the store and opens it again.
    Reopen,
}

/// The operations, weighted.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS, 0..SPECS, 0..1_000u64).prop_map(|(key, spec, at)| Op::Insert { key, spec, at }),
        12 => (0..12u8, prop_oneof![6 => Just(0i8), 1 => -2..=2i8], proptest::bool::weighted(0.8), any::<u64>(), 0..1_000u64)
            .prop_map(|(job, stale, legal, pick, at)| Op::Apply { job, stale, legal, pick, at }),
        1 => (0..1_200u64).prop_map(|older_than| Op::Purge { older_than }),
        1 => Just(Op::Reopen),
    ]
}

/// Inputs regardless of state: most are refused in most states.
fn any_input(pick: u64) -> Input {
    let all = [
        Input::CreateSending,
        Input::CreateAccepted {
            location: "https://upstream.invalid/r/any".to_string(),
        },
        Input::CreateAccepted {
            location: "  ".to_string(),
        },
        Input::ReconcileFoundNothing,
        Input::CreateNoData,
        Input::StatusSeen {
            progress: reportflow_core::Progress::Ready,
            raw: "Ready".to_string(),
        },
        Input::FileNotReady,
        Input::FileStored { file: file(0) },
        Input::OutputGone {
            reason: "gone".to_string(),
        },
        Input::DeadlinePassed,
        Input::Cancel,
        Input::Retry,
    ];
    all[(pick % all.len() as u64) as usize].clone()
}

fn model_spec(n: u8) -> JobSpec {
    spec(u32::from(n))
}

fn model_key(n: u8) -> JobKey {
    key(&format!("key-{n}"))
}

/// An error reduced to what the model can predict.
fn describe(err: StoreError) -> String {
    match err {
        StoreError::Conflict {
            id,
            expected,
            found,
        } => format!("conflict {id} {expected} {found}"),
        StoreError::Rejected(core) => format!("rejected {core}"),
        StoreError::NotFound { id } => format!("not found {id}"),
        StoreError::KeyConflict { key, existing, .. } => format!("key conflict {key} {existing}"),
        StoreError::LeaseRequired { id } => format!("lease required {id}"),
        other => panic!("the store failed unexpectedly: {other}"),
    }
}

/// What the store should hold.
#[derive(Default)]
struct Model {
    jobs: BTreeMap<JobId, (Job, Vec<TransitionRecord>)>,
    keys: BTreeMap<JobKey, JobId>,
    /// The highest id the store handed out so far.
    last_id: u64,
}

impl Model {
    /// What an insert must answer: the key's job, or `None` for a new job (whose id the store
    /// picks), or a key conflict.
    fn insert(&self, spec: &JobSpec, key: &JobKey) -> Result<Option<Inserted>, String> {
        match self.keys.get(key) {
            Some(id) => {
                let job = &self.jobs[id].0;
                if job.spec == *spec {
                    Ok(Some(Inserted {
                        job: job.clone(),
                        created: false,
                    }))
                } else {
                    Err(format!("key conflict {key} {id}"))
                }
            }
            None => Ok(None),
        }
    }

    /// Takes in a new job the store made with id `id`.
    fn created(&mut self, spec: JobSpec, key: JobKey, id: JobId, at: Millis) -> Job {
        assert!(
            id.0 > self.last_id,
            "ids grow and are never reused: {id} after {}",
            self.last_id
        );
        self.last_id = id.0;
        let job = Job::new(id, key.clone(), spec, policy(), at);
        let submit = TransitionRecord {
            seq: 0,
            from: None,
            to: StateName::Requested,
            input: "submit".to_string(),
            at,
        };
        self.jobs.insert(id, (job.clone(), vec![submit]));
        self.keys.insert(key, id);
        job
    }

    fn apply(&mut self, id: JobId, expected: u64, input: Input, at: Millis) -> Result<Job, String> {
        let Some((job, history)) = self.jobs.get_mut(&id) else {
            return Err(format!("not found {id}"));
        };
        if job.version != expected {
            return Err(format!("conflict {id} {expected} {}", job.version));
        }
        let next = job
            .apply(input.clone(), at)
            .map_err(|e| format!("rejected {e}"))?;
        history.push(TransitionRecord {
            seq: next.version,
            from: Some(job.state.name()),
            to: next.state.name(),
            input: input.summary(),
            at,
        });
        *job = next.clone();
        Ok(next)
    }

    fn purge(&mut self, older_than: Millis) -> PurgeReport {
        let mut gone: Vec<(Millis, JobId, u64)> = self
            .jobs
            .values()
            .filter(|(j, _)| j.state.is_terminal() && j.updated_at < older_than)
            .map(|(j, h)| (j.updated_at, j.id, h.len() as u64))
            .collect();
        gone.sort();
        let mut report = PurgeReport::default();
        for (_, id, records) in gone {
            let (job, _) = self.jobs.remove(&id).expect("listed above");
            if self.keys.get(&job.key) == Some(&id) {
                self.keys.remove(&job.key);
            }
            report.jobs += 1;
            report.history_records += records;
            report.ids.push(id);
        }
        report
    }

    /// Checks everything the store lets one observe against the model.
    async fn check(&self, store: &dyn JobStore) {
        let jobs: Vec<Job> = self.jobs.values().map(|(j, _)| j.clone()).collect();
        assert_eq!(paged(store, None).await, jobs);
        for state in StateName::ALL {
            let want: Vec<Job> = jobs
                .iter()
                .filter(|j| j.state.name() == state)
                .cloned()
                .collect();
            assert_eq!(paged(store, Some(state)).await, want, "jobs in {state}");
        }
        let live: Vec<Job> = jobs
            .iter()
            .filter(|j| !j.state.is_terminal())
            .cloned()
            .collect();
        assert_eq!(store.live_page(None, usize::MAX).await.unwrap(), live);
        let mut counts: BTreeMap<StateName, u64> =
            StateName::ALL.into_iter().map(|s| (s, 0)).collect();
        for job in &jobs {
            *counts.entry(job.state.name()).or_default() += 1;
        }
        assert_eq!(store.counts().await.unwrap(), counts);
        for (id, (job, history)) in &self.jobs {
            assert_eq!(store.get(*id).await.unwrap().as_ref(), Some(job));
            assert_eq!(
                &store.history(*id).await.unwrap(),
                history,
                "history of {id}"
            );
        }
        for n in 0..KEYS {
            let key = model_key(n);
            let want = self.keys.get(&key).map(|id| self.jobs[id].0.clone());
            assert_eq!(store.get_by_key(&key).await.unwrap(), want, "key {key}");
        }
        for id in 1..=self.last_id + 1 {
            if !self.jobs.contains_key(&JobId(id)) {
                assert_eq!(store.get(JobId(id)).await.unwrap(), None);
            }
        }
    }
}

/// Every job (in a state) read in pages of three.
async fn paged(store: &dyn JobStore, state: Option<StateName>) -> Vec<Job> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(state, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        all.extend(page);
    }
    all
}

/// Runs `ops` against `backend`'s store (fresh) and the model, checking after every one.
pub async fn run(backend: &dyn Backend, ops: Vec<Op>) {
    let mut store: Option<Arc<dyn JobStore>> = Some(backend.open().await);
    let mut model = Model::default();
    let mut leases = Leases::of("model");
    for op in ops {
        let s = Arc::clone(store.as_ref().expect("the store is open"));
        match op {
            Op::Insert { key, spec, at } => {
                let (spec, key) = (model_spec(spec), model_key(key));
                let want = model.insert(&spec, &key);
                let got = s
                    .insert(spec.clone(), key.clone(), policy(), Millis(at))
                    .await
                    .map_err(describe);
                match (want, got) {
                    (Ok(None), Ok(inserted)) => {
                        assert!(inserted.created, "a new key makes a new job");
                        let job = model.created(spec, key, inserted.job.id, Millis(at));
                        assert_eq!(inserted.job, job);
                    }
                    (want, got) => assert_eq!(got.map(Some), want),
                }
            }
            Op::Apply {
                job,
                stale,
                legal,
                pick,
                at,
            } => {
                // Mostly a stored job; now and then an id that is not (never was, or purged).
                let stored: Vec<JobId> = model.jobs.keys().copied().collect();
                let id = match stored.len() {
                    n if n > 0 && job < 11 => stored[usize::from(job) % n],
                    _ => JobId(u64::from(job) % (model.last_id + 2) + 1),
                };
                let current = model.jobs.get(&id).map(|(j, _)| j.clone());
                let version = current
                    .as_ref()
                    .map_or(0, |j| j.version)
                    .saturating_add_signed(i64::from(stale));
                let input = match (&current, legal) {
                    (Some(job), true) => legal_input(job, pick).unwrap_or(Input::Retry),
                    _ => any_input(pick),
                };
                leases.claim_all(s.as_ref()).await.expect("claims");
                let lease = leases.step_lease(id);
                let needs_lease = s.shared().is_some()
                    && input == Input::CreateSending
                    && lease.is_none()
                    && current.as_ref().is_some_and(|j| j.version == version);
                let want = if needs_lease {
                    Err(format!("lease required {id}"))
                } else {
                    model.apply(id, version, input.clone(), Millis(at))
                };
                let step = Step::new(id, version, input).under(lease);
                let got = s
                    .apply(step, Millis(at))
                    .await
                    .map(|a| a.job)
                    .map_err(describe);
                assert_eq!(got, want);
                leases.settle(id, model.jobs.get(&id).map(|(j, _)| j));
            }
            Op::Purge { older_than } => {
                let want = model.purge(Millis(older_than));
                assert_eq!(s.purge(Millis(older_than)).await.unwrap(), want);
                for id in &want.ids {
                    leases.settle(*id, None);
                }
            }
            Op::Reopen => {
                drop(s);
                drop(store.take());
                store = Some(backend.open().await);
            }
        }
        model
            .check(store.as_deref().expect("the store is open"))
            .await;
    }
    drop(store.take());
    model.check(backend.open().await.as_ref()).await;
}
