//! Model-based test against a real server: random sequences of submits, claims, steps (with
//! and without leases, right and stale versions, legal and refused inputs), releases and
//! purges leave the store equal to a small reference model built on the core's `Job::apply`;
//! after every operation the counts equal a recount of the jobs table, and every lease is the
//! model's.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use reportflow_core::{Input, Job, JobId, JobKey, JobSpec, Millis, StateName};
use reportflow_store_pg::{LeaseLoss, PgStore, Step, StepLease, StoreError, due_at};
use std::collections::BTreeMap;

const T0: u64 = 1_700_000_000_000;
/// Late enough for every job to be due.
const FAR: Millis = Millis(T0 + 1_000_000_000);
const KEYS: u8 = 6;
const SPECS: u8 = 4;
const WORKERS: u8 = 2;

#[derive(Clone, Debug)]
enum Op {
    Insert {
        key: u8,
        spec: u8,
        at: u64,
    },
    Claim {
        worker: u8,
        limit: u8,
        per_account: u8,
    },
    Step {
        job: u8,
        worker: Option<u8>,
        stale: bool,
        legal: bool,
        pick: u64,
        at: u64,
    },
    Release {
        worker: u8,
    },
    Purge {
        older_than: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS, 0..SPECS, 0..1_000u64).prop_map(|(key, spec, at)| Op::Insert { key, spec, at }),
        2 => (0..WORKERS, 1..5u8, 1..3u8)
            .prop_map(|(worker, limit, per_account)| Op::Claim { worker, limit, per_account }),
        8 => (
            0..8u8,
            prop_oneof![3 => (0..WORKERS).prop_map(Some), 1 => Just(None)],
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.85),
            any::<u64>(),
            0..1_000u64,
        )
            .prop_map(|(job, worker, stale, legal, pick, at)| Op::Step { job, worker, stale, legal, pick, at }),
        1 => (0..WORKERS).prop_map(|worker| Op::Release { worker }),
        1 => (0..1_200u64).prop_map(|older_than| Op::Purge { older_than }),
    ]
}

/// Inputs regardless of state: most are refused in most states.
fn any_input(pick: u64) -> Input {
    let all = [
        Input::CreateSending,
        Input::ReconcileFoundNothing,
        Input::StatusSeen {
            progress: reportflow_core::Progress::Ready,
            raw: "Ready".to_string(),
        },
        Input::FileNotReady,
        Input::Cancel,
        Input::Retry,
    ];
    all[(pick % all.len() as u64) as usize].clone()
}

fn model_spec(n: u8) -> JobSpec {
    match spec(u32::from(n) * 2) {
        JobSpec::Account(mut a) => {
            a.account = format!("{}", 1000 + u32::from(n % 2));
            JobSpec::Account(a)
        }
        other => other,
    }
}

fn model_key(n: u8) -> JobKey {
    key(&format!("key-{n}"))
}

fn worker_name(w: u8) -> String {
    format!("w{w}")
}

/// What the store should hold.
#[derive(Default)]
struct Model {
    jobs: BTreeMap<JobId, Job>,
    keys: BTreeMap<JobKey, JobId>,
    /// Every id ever handed out, in order (purged ones too).
    ids: Vec<JobId>,
    /// The lease holder of each leased job, and each job's last token.
    owners: BTreeMap<JobId, u8>,
    tokens: BTreeMap<JobId, u64>,
}

impl Model {
    fn counts(&self) -> BTreeMap<StateName, u64> {
        let mut counts: BTreeMap<StateName, u64> =
            StateName::ALL.into_iter().map(|s| (s, 0)).collect();
        for job in self.jobs.values() {
            *counts.entry(job.state.name()).or_default() += 1;
        }
        counts
    }
}

/// The refusal the model expects for a step, or the job after it.
fn expect_step(model: &Model, step: &Step, worker: Option<u8>, now: Millis) -> Result<Job, String> {
    let job = model.jobs.get(&step.id).ok_or("not-found")?;
    if job.version != step.expected_version {
        return Err("conflict".into());
    }
    match worker {
        None if step.input == Input::CreateSending => return Err("lease-required".into()),
        None => {}
        Some(w) => match model.owners.get(&step.id) {
            None => return Err("not-leased".into()),
            Some(owner) if *owner != w => return Err("taken-over".into()),
            Some(_) => {}
        },
    }
    job.apply(step.input.clone(), now)
        .map_err(|_| "rejected".to_string())
}

fn refusal(e: &StoreError) -> String {
    match e {
        StoreError::NotFound { .. } => "not-found",
        StoreError::Conflict { .. } => "conflict",
        StoreError::LeaseRequired { .. } => "lease-required",
        StoreError::LeaseLost {
            reason: LeaseLoss::NotLeased,
            ..
        } => "not-leased",
        StoreError::LeaseLost {
            reason: LeaseLoss::TakenOver,
            ..
        } => "taken-over",
        StoreError::Rejected(_) => "rejected",
        other => panic!("an unexpected refusal: {other}"),
    }
    .to_string()
}

async fn run_ops(ops: Vec<Op>) {
    let (db, store) = fresh_store().await;
    let client = raw(&db.url).await;
    let mut model = Model::default();
    for op in ops {
        apply_op(&store, &mut model, &op).await;
        check(&store, &client, &model, &op).await;
    }
}

async fn apply_op(store: &PgStore, model: &mut Model, op: &Op) {
    match op {
        Op::Insert { key, spec, at } => {
            let (key, spec) = (model_key(*key), model_spec(*spec));
            let result = store
                .insert(spec.clone(), key.clone(), policy(), Millis(T0 + at))
                .await;
            match model.keys.get(&key).map(|id| &model.jobs[id]) {
                Some(existing) if existing.spec == spec => {
                    let inserted = result.expect("the key's job");
                    assert!(!inserted.created);
                    assert_eq!(&inserted.job, existing);
                }
                Some(_) => assert!(
                    matches!(result, Err(StoreError::KeyConflict { .. })),
                    "{result:?}"
                ),
                None => {
                    let inserted = result.expect("a new job");
                    assert!(inserted.created);
                    let id = inserted.job.id;
                    assert!(
                        model.ids.iter().all(|old| *old < id),
                        "ids grow, never reused"
                    );
                    model.ids.push(id);
                    model.keys.insert(key, id);
                    model.jobs.insert(id, inserted.job);
                }
            }
        }
        Op::Claim {
            worker,
            limit,
            per_account,
        } => {
            let claimed = store
                .claim(
                    &common::worker(&worker_name(*worker)),
                    usize::from(*limit),
                    usize::from(*per_account),
                    FAR,
                )
                .await
                .expect("claims");
            // The model's claim: live jobs nobody holds, earliest due first, within each
            // account's room.
            let mut free: Vec<&Job> = model
                .jobs
                .values()
                .filter(|j| !j.state.is_terminal() && !model.owners.contains_key(&j.id))
                .collect();
            free.sort_by_key(|j| (due_at(j), j.id));
            let mut held: BTreeMap<&str, usize> = BTreeMap::new();
            for id in model.owners.keys() {
                *held.entry(model.jobs[id].spec.account()).or_default() += 1;
            }
            let mut expected = Vec::new();
            for job in free {
                if expected.len() == usize::from(*limit) {
                    break;
                }
                let room = held.entry(job.spec.account()).or_default();
                if *room < usize::from(*per_account) {
                    *room += 1;
                    expected.push(job.id);
                }
            }
            let got: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
            assert_eq!(got, expected, "the claimed jobs");
            for c in claimed {
                assert_eq!(c.job, model.jobs[&c.job.id]);
                let token = model.tokens.entry(c.job.id).or_default();
                *token += 1;
                assert_eq!(c.lease.token, *token, "one token above the last");
                model.owners.insert(c.job.id, *worker);
            }
        }
        Op::Step {
            job,
            worker,
            stale,
            legal,
            pick,
            at,
        } => {
            let Some(id) = model
                .ids
                .get(usize::from(*job) % model.ids.len().max(1))
                .copied()
            else {
                return;
            };
            let known = model.jobs.get(&id);
            let version = known.map_or(0, |j| j.version) + u64::from(*stale);
            let input = match known {
                Some(j) if *legal => match legal_input(j, *pick) {
                    Some(input) => input,
                    None => any_input(*pick),
                },
                _ => any_input(*pick),
            };
            let step = Step {
                id,
                expected_version: version,
                input,
                lease: worker.map(|w| StepLease {
                    worker: common::worker(&worker_name(w)),
                    token: model.tokens.get(&id).copied().unwrap_or(0),
                    must_last: std::time::Duration::ZERO,
                }),
            };
            let now = Millis(T0 + at);
            let expected = expect_step(model, &step, *worker, now);
            let result = store.apply(step, now).await;
            match (expected, result) {
                (Ok(job), Ok(applied)) => {
                    assert_eq!(applied.job, job);
                    assert_eq!(
                        applied.lease_remaining.is_some(),
                        worker.is_some() && !job.state.is_terminal()
                    );
                    if job.state.is_terminal() {
                        model.owners.remove(&id);
                    }
                    model.jobs.insert(id, job);
                }
                (Err(expected), Err(e)) => assert_eq!(refusal(&e), expected, "{e}"),
                (expected, got) => panic!("expected {expected:?}, the store said {got:?}"),
            }
        }
        Op::Release { worker } => {
            let mine: Vec<_> = model
                .owners
                .iter()
                .filter(|(_, w)| **w == *worker)
                .map(|(id, _)| reportflow_store_pg::Lease {
                    job: *id,
                    token: model.tokens[id],
                })
                .collect();
            let released = store
                .release(&common::worker(&worker_name(*worker)), &mine)
                .await
                .expect("releases");
            assert_eq!(released.released.len(), mine.len());
            assert!(released.not_held.is_empty());
            for lease in mine {
                model.owners.remove(&lease.job);
            }
        }
        Op::Purge { older_than } => {
            let cutoff = Millis(T0 + older_than);
            let mut doomed: Vec<&Job> = model
                .jobs
                .values()
                .filter(|j| j.state.is_terminal() && j.updated_at < cutoff)
                .collect();
            doomed.sort_by_key(|j| (j.updated_at, j.id));
            let expected: Vec<JobId> = doomed.iter().map(|j| j.id).collect();
            let records: u64 = doomed.iter().map(|j| j.version + 1).sum();
            let report = store.purge(cutoff).await.expect("purges");
            assert_eq!(report.ids, expected);
            assert_eq!(report.history_records, records);
            for id in expected {
                let job = model.jobs.remove(&id).expect("a model job");
                model.keys.remove(&job.key);
            }
        }
    }
}

async fn check(store: &PgStore, client: &tokio_postgres::Client, model: &Model, op: &Op) {
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        counts,
        recount_on(client).await,
        "counts against a recount after {op:?}"
    );
    assert_eq!(
        counts,
        model.counts(),
        "counts against the model after {op:?}"
    );
    let jobs: BTreeMap<JobId, Job> = store
        .list(None, None, 1_000)
        .await
        .expect("lists")
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    assert_eq!(jobs, model.jobs, "the jobs after {op:?}");
    let rows = client
        .query(
            "SELECT id, lease_owner, lease_token, (SELECT count(*) FROM reportflow_history h WHERE h.job_id = j.id)
             FROM reportflow_jobs j ORDER BY id",
            &[],
        )
        .await
        .expect("leases");
    for row in rows {
        let id = JobId(u64::try_from(row.get::<_, i64>(0)).expect("an id"));
        let owner: Option<String> = row.get(1);
        assert_eq!(
            owner,
            model.owners.get(&id).map(|w| worker_name(*w)),
            "owner of {id}"
        );
        let token = u64::try_from(row.get::<_, i64>(2)).expect("a token");
        assert_eq!(
            token,
            model.tokens.get(&id).copied().unwrap_or(0),
            "token of {id}"
        );
        let history = row.get::<_, i64>(3);
        assert_eq!(
            history,
            model.jobs[&id].version as i64 + 1,
            "history of {id}"
        );
    }
}

proptest! {
    #![proptest_config(Config { cases: 16, ..Config::default() })]

    #[test]
    fn the_store_follows_the_model(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run_ops(ops));
    }
}
