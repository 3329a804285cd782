//! Model-based test: random sequences of insert, apply (right and stale versions, legal and
//! refused inputs), purge and close-and-reopen leave the store observably equal to a small
//! in-memory reference model built on the core's pure `Job::apply`.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use reportflow_core::{Input, Job, JobId, JobKey, JobSpec, Millis, StateName};
use reportflow_store::{Inserted, PurgeReport, Store, StoreError, TransitionRecord};
use std::collections::BTreeMap;
use std::path::Path;

const KEYS: u8 = 6;
const SPECS: u8 = 3;

#[derive(Clone, Debug)]
enum Op {
    Insert {
        key: u8,
        spec: u8,
        at: u64,
    },
    Apply {
        job: u8,
        stale: i8,
        legal: bool,
        pick: u64,
        at: u64,
    },
    Purge {
        older_than: u64,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
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
        other => panic!("the store failed unexpectedly: {other}"),
    }
}

#[derive(Default)]
struct Model {
    jobs: BTreeMap<JobId, (Job, Vec<TransitionRecord>)>,
    keys: BTreeMap<JobKey, JobId>,
    next_id: u64,
}

impl Model {
    fn insert(&mut self, spec: JobSpec, key: JobKey, at: Millis) -> Result<Inserted, String> {
        if let Some(id) = self.keys.get(&key) {
            let job = &self.jobs[id].0;
            if job.spec == spec {
                return Ok(Inserted {
                    job: job.clone(),
                    created: false,
                });
            }
            return Err(format!("key conflict {key} {id}"));
        }
        self.next_id += 1;
        let id = JobId(self.next_id);
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
        Ok(Inserted { job, created: true })
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
    fn check(&self, store: &Store) {
        let jobs: Vec<Job> = self.jobs.values().map(|(j, _)| j.clone()).collect();
        assert_eq!(paged(store, None), jobs);
        for state in StateName::ALL {
            let want: Vec<Job> = jobs
                .iter()
                .filter(|j| j.state.name() == state)
                .cloned()
                .collect();
            assert_eq!(paged(store, Some(state)), want, "jobs in {state}");
        }
        let live: Vec<Job> = jobs
            .iter()
            .filter(|j| !j.state.is_terminal())
            .cloned()
            .collect();
        assert_eq!(store.live_jobs().unwrap(), live);
        let mut counts: BTreeMap<StateName, u64> =
            StateName::ALL.into_iter().map(|s| (s, 0)).collect();
        for job in &jobs {
            *counts.entry(job.state.name()).or_default() += 1;
        }
        assert_eq!(store.counts().unwrap(), counts);
        for (id, (job, history)) in &self.jobs {
            assert_eq!(store.get(*id).unwrap().as_ref(), Some(job));
            assert_eq!(&store.history(*id).unwrap(), history, "history of {id}");
        }
        for n in 0..KEYS {
            let key = model_key(n);
            let want = self.keys.get(&key).map(|id| self.jobs[id].0.clone());
            assert_eq!(store.get_by_key(&key).unwrap(), want, "key {key}");
        }
        for id in 1..=self.next_id + 1 {
            if !self.jobs.contains_key(&JobId(id)) {
                assert_eq!(store.get(JobId(id)).unwrap(), None);
            }
        }
    }
}

/// Every job (in a state) read in pages of three.
fn paged(store: &Store, state: Option<StateName>) -> Vec<Job> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(state, after, 3).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        all.extend(page);
    }
    all
}

fn run(dir: &Path, ops: Vec<Op>) {
    let mut store = Some(Store::open(dir).unwrap());
    let mut model = Model::default();
    for op in ops {
        let s = store.as_ref().expect("the store is open");
        match op {
            Op::Insert { key, spec, at } => {
                let want = model.insert(model_spec(spec), model_key(key), Millis(at));
                let got = s
                    .insert(model_spec(spec), model_key(key), policy(), Millis(at))
                    .map_err(describe);
                assert_eq!(got, want);
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
                    _ => JobId(u64::from(job) % (model.next_id + 2) + 1),
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
                let want = model.apply(id, version, input.clone(), Millis(at));
                let got = s.apply(id, version, input, Millis(at)).map_err(describe);
                assert_eq!(got, want);
            }
            Op::Purge { older_than } => {
                let want = model.purge(Millis(older_than));
                assert_eq!(s.purge(Millis(older_than)).unwrap(), want);
            }
            Op::Reopen => {
                drop(store.take());
                store = Some(Store::open(dir).unwrap());
            }
        }
        model.check(store.as_ref().expect("the store is open"));
    }
    drop(store.take());
    model.check(&Store::open(dir).unwrap());
}

proptest! {
    #![proptest_config(Config { cases: 48, ..Config::default() })]

    #[test]
    fn the_store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..100)) {
        let tmp = tempfile::tempdir().unwrap();
        run(&tmp.path().join("store"), ops);
    }
}
