//! Sharing the work against a real server: claims, leases and their tokens, fencing, renewals,
//! releases, takeover after expiry, claimers in parallel, the global per-account bound.

mod common;

use common::*;
use reportflow_core::{Input, JobId, JobSpec, Millis, StateName};
use reportflow_store_pg::{
    Claimed, LeaseLoss, PgStore, Step, StepLease, StoreError, WorkerId, due_at,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const T0: Millis = Millis(1_700_000_000_000);

/// Spec `n` of account `account`.
fn spec_of(account: u32, n: u32) -> JobSpec {
    match spec(n * 2) {
        JobSpec::Account(mut a) => {
            a.account = account.to_string();
            JobSpec::Account(a)
        }
        other => other,
    }
}

fn step(claimed: &Claimed, worker: &WorkerId, input: Input) -> Step {
    Step {
        id: claimed.job.id,
        expected_version: claimed.job.version,
        input,
        lease: Some(StepLease::new(worker, claimed.lease)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_takes_due_jobs_earliest_first_and_next_due_sees_the_rest() {
    let (db, store) = fresh_store().await;
    let jobs = submit(&store, (0..4).map(|n| (spec(n), format!("job-{n}"))), T0).await;
    let w = worker("w1");
    // Job 0 goes to polling: due at its next poll, later than T0.
    let claimed = store.claim(&w, 1, 10, T0).await.expect("claims");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].job.id, jobs[0].id,
        "the earliest due (then the lowest id)"
    );
    assert_eq!(claimed[0].lease.token, 1);
    assert!(claimed[0].remaining > Duration::from_secs(25));
    let mut polled = claimed[0].clone();
    for input in [
        Input::CreateSending,
        Input::CreateAccepted {
            location: "https://upstream.invalid/r/0".to_string(),
        },
        Input::StatusSeen {
            progress: reportflow_core::Progress::NotReady,
            raw: "Processing".to_string(),
        },
    ] {
        polled.job = store
            .apply(step(&polled, &w, input), T0.plus_ms(1))
            .await
            .expect("steps")
            .job;
    }
    assert_eq!(polled.job.state.name(), StateName::Polling);
    let poll_at = due_at(&polled.job);
    assert!(poll_at > T0.plus_ms(1));
    store.release(&w, &[polled.lease]).await.expect("releases");

    // Due at T0: the three others; job 0 is not due yet.
    let claimed = store
        .claim(&w, 10, 10, T0.plus_ms(2))
        .await
        .expect("claims");
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, [jobs[1].id, jobs[2].id, jobs[3].id]);
    assert!(claimed.iter().all(|c| c.lease.token == 1));
    assert!(
        store
            .claim(&w, 10, 10, T0.plus_ms(2))
            .await
            .expect("claims")
            .is_empty()
    );
    assert_eq!(store.next_due().await.expect("reads"), Some(poll_at));
    // Once its poll is due, job 0 is claimed again, with the next token.
    let again = store.claim(&w, 10, 10, poll_at).await.expect("claims");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].job, polled.job);
    assert_eq!(again[0].lease.token, 2);
    assert_eq!(
        store.next_due().await.expect("reads"),
        None,
        "everything is leased"
    );
    let released = store
        .release(&w, &[claimed[0].lease, again[0].lease])
        .await
        .expect("releases");
    assert_eq!(released.released.len(), 2);
    assert!(released.not_held.is_empty());
    assert_eq!(store.next_due().await.expect("reads"), Some(T0));
    let (_, owner, token, _) = row_of(&db.url, jobs[1].id.0).await;
    assert_eq!((owner, token), (None, 1), "released; the token stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_with_a_higher_token_and_the_old_holder_is_fenced() {
    // The second claim right after the first must fall inside the lease: 1 s, not the 400 ms
    // a loaded machine could spend on two round trips.
    let (db, store) = fresh_store_with(lease_ms(1_000)).await;
    let job = submit(&store, [(spec(0), "job".to_string())], T0)
        .await
        .remove(0);
    let (w1, w2) = (worker("w1"), worker("w2"));
    let first = store.claim(&w1, 1, 1, T0).await.expect("claims").remove(0);
    assert!(
        store.claim(&w2, 1, 1, T0).await.expect("claims").is_empty(),
        "held by w1"
    );
    tokio::time::sleep(Duration::from_millis(1_150)).await;
    let second = store.claim(&w2, 1, 1, T0).await.expect("claims").remove(0);
    assert_eq!(second.job.id, job.id);
    assert!(second.lease.token > first.lease.token);

    // w1, back from a pause: it can renew nothing and write nothing.
    let renewed = store.renew(&w1, &[first.lease]).await.expect("renews");
    assert!(renewed.kept.is_empty());
    assert_eq!(renewed.lost, [first.lease]);
    let refused = store
        .apply(step(&first, &w1, Input::CreateSending), T0.plus_ms(5))
        .await
        .expect_err("fenced");
    assert!(matches!(
        refused,
        StoreError::LeaseLost {
            reason: LeaseLoss::TakenOver,
            ..
        }
    ));
    // The old token under the new owner's name is refused as well.
    let stale = Step {
        lease: Some(StepLease {
            worker: w2.clone(),
            token: first.lease.token,
            must_last: Duration::ZERO,
        }),
        ..step(&first, &w1, Input::CreateSending)
    };
    assert!(matches!(
        store.apply(stale, T0.plus_ms(5)).await,
        Err(StoreError::LeaseLost {
            reason: LeaseLoss::TakenOver,
            ..
        })
    ));
    assert_eq!(row_of(&db.url, job.id.0).await.3, 1, "nothing was written");
    let done = store
        .apply(step(&second, &w2, Input::CreateSending), T0.plus_ms(6))
        .await
        .expect("the new holder steps");
    assert_eq!(done.job.version, 1);
    let history = store.history_with_leases(job.id).await.expect("history");
    assert_eq!(history[1].lease, Some((w2.clone(), second.lease.token)));
    assert!(matches!(
        store.release(&w1, &[first.lease]).await.expect("runs").not_held[..],
        [l] if l == first.lease
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_intent_needs_a_lease_that_outlives_the_request() {
    let (db, store) = fresh_store_with(lease_ms(2_000)).await;
    let job = submit(&store, [(spec(0), "job".to_string())], T0)
        .await
        .remove(0);
    let w = worker("w1");
    let claimed = store.claim(&w, 1, 1, T0).await.expect("claims").remove(0);
    let too_long = Step {
        lease: Some(StepLease::new(&w, claimed.lease).lasting(Duration::from_secs(5))),
        ..step(&claimed, &w, Input::CreateSending)
    };
    let refused = store
        .apply(too_long, T0.plus_ms(1))
        .await
        .expect_err("a 2 s lease cannot cover a 5 s request");
    assert!(matches!(
        refused,
        StoreError::LeaseTooShort {
            lease_ms: 2_000,
            needed_ms: 5_000,
            ..
        }
    ));
    assert_eq!(row_of(&db.url, job.id.0).await.3, 1, "nothing was written");
    // Later in the lease, a create intent renews it: the request is covered from the step.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let covered = Step {
        lease: Some(StepLease::new(&w, claimed.lease).lasting(Duration::from_millis(1_500))),
        ..step(&claimed, &w, Input::CreateSending)
    };
    let sent = store.apply(covered, T0.plus_ms(2)).await.expect("recorded");
    let remaining = sent.lease_remaining.expect("the lease's time left");
    assert!(
        remaining > Duration::from_millis(1_500) && remaining <= Duration::from_millis(2_000),
        "{remaining:?}"
    );
    // A released lease cannot record one.
    let next = store.get(job.id).await.expect("reads").expect("stored");
    store.release(&w, &[claimed.lease]).await.expect("releases");
    let refused = store
        .apply(
            Step {
                id: job.id,
                expected_version: next.version,
                input: Input::CreateSending,
                lease: Some(StepLease::new(&w, claimed.lease)),
            },
            T0.plus_ms(3),
        )
        .await
        .expect_err("not leased");
    assert!(matches!(
        refused,
        StoreError::LeaseLost {
            reason: LeaseLoss::NotLeased,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_extend_the_leases_still_held() {
    // A lease of 2 s renewed every 600 ms: a renewal gives back a whole lease (more than
    // 1.5 s left), where one left alone would have at most 1.4 s. (With 800 ms renewed every
    // 300 ms, a renewal slowed by 200 ms on a loaded machine fell under the mark.)
    let (_db, store) = fresh_store_with(lease_ms(2_000)).await;
    submit(&store, (0..3).map(|n| (spec(n), format!("job-{n}"))), T0).await;
    let (w1, w2) = (worker("w1"), worker("w2"));
    let mine: Vec<Claimed> = store.claim(&w1, 3, 3, T0).await.expect("claims");
    assert_eq!(mine.len(), 3);
    let leases: Vec<_> = mine.iter().map(|c| c.lease).collect();
    // Renewing every 600 ms keeps them past several lease lengths.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let renewed = store.renew(&w1, &leases).await.expect("renews");
        assert_eq!(renewed.kept.len(), 3, "{renewed:?}");
        assert!(
            renewed
                .kept
                .iter()
                .all(|(_, left)| *left > Duration::from_millis(1_500)),
            "{renewed:?}"
        );
    }
    assert!(store.claim(&w2, 3, 3, T0).await.expect("claims").is_empty());
    let released = store.release(&w1, &leases[..1]).await.expect("releases");
    assert_eq!(released.released, [leases[0].job]);
    let taken = store.claim(&w2, 3, 3, T0).await.expect("claims");
    assert_eq!(taken.len(), 1);
    let renewed = store.renew(&w1, &leases).await.expect("renews");
    assert_eq!(renewed.lost, [leases[0]]);
    assert_eq!(renewed.kept.len(), 2);
}

/// Several claimers at once, each on its own connection: no job is handed out twice, and
/// every job is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimers_in_parallel_never_get_the_same_job() {
    let (db, store) = fresh_store().await;
    let jobs = submit(
        &store,
        (0..300).map(|n| (spec_of(10_000 + n % 7, n), format!("job-{n}"))),
        T0,
    )
    .await;
    let mut tasks = Vec::new();
    for w in 0..6 {
        let store = PgStore::open(&db.url).await.expect("opens");
        tasks.push(tokio::spawn(async move {
            let me = worker(&format!("w{w}"));
            let mut got = Vec::new();
            loop {
                let claimed = store.claim(&me, 7, 1_000, T0).await.expect("claims");
                if claimed.is_empty() {
                    return got;
                }
                got.extend(claimed.into_iter().map(|c| (c.job.id, c.lease.token)));
            }
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for (id, token) in task.await.expect("a claimer") {
            assert_eq!(token, 1, "claimed once");
            assert!(seen.insert(id), "job {id} was handed out twice");
        }
    }
    let all: BTreeSet<JobId> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(seen, all);
}

/// The per-account bound counts every worker's leases: with claimers taking and giving back
/// jobs in parallel, no account ever has more leased jobs than the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_account_bound_holds_across_claimers() {
    const BOUND: usize = 3;
    let (db, store) = fresh_store().await;
    submit(
        &store,
        (0..200).map(|n| (spec_of(20_000 + n % 5, n), format!("job-{n}"))),
        T0,
    )
    .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let (url, stop) = (db.url.clone(), stop.clone());
        tokio::spawn(async move {
            let client = raw(&url).await;
            let mut most = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let rows = client
                    .query(
                        "SELECT account, count(*) FROM reportflow_jobs
                         WHERE lease_owner IS NOT NULL AND lease_expires_at > clock_timestamp()
                         GROUP BY account",
                        &[],
                    )
                    .await
                    .expect("counts leases");
                for row in rows {
                    most = most.max(row.get::<_, i64>(1));
                }
            }
            most
        })
    };
    let mut tasks = Vec::new();
    for w in 0..5u64 {
        let store = PgStore::open(&db.url).await.expect("opens");
        tasks.push(tokio::spawn(async move {
            let me = worker(&format!("w{w}"));
            let mut held: Vec<Claimed> = Vec::new();
            for round in 0..30u64 {
                held.extend(store.claim(&me, 4, BOUND, T0).await.expect("claims"));
                // Give back some of what it holds, differently per worker and round.
                let give: Vec<_> = held
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mix(w << 32 ^ round << 8 ^ *i as u64).is_multiple_of(2))
                    .map(|(_, c)| c.lease)
                    .collect();
                store.release(&me, &give).await.expect("releases");
                held.retain(|c| !give.contains(&c.lease));
            }
            held
        }));
    }
    let mut held_at_end: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        for c in task.await.expect("a claimer") {
            *held_at_end
                .entry(c.job.spec.account().to_string())
                .or_default() += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let most = checker.await.expect("the checker");
    assert!(most <= BOUND as i64, "an account had {most} leased jobs");
    assert!(most >= 1, "the checker saw leases");
    assert!(held_at_end.values().all(|n| *n <= BOUND), "{held_at_end:?}");
    // With nothing released, every account fills up to the bound exactly.
    let w = worker("last");
    while !store
        .claim(&w, 50, BOUND, T0)
        .await
        .expect("claims")
        .is_empty()
    {}
    let client = raw(&db.url).await;
    let rows = client
        .query(
            "SELECT account, count(*) FROM reportflow_jobs
             WHERE lease_owner IS NOT NULL GROUP BY account ORDER BY account",
            &[],
        )
        .await
        .expect("counts leases");
    let counts: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(counts, [BOUND as i64; 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_one_label_claims_only_its_jobs_and_sees_only_their_due_time() {
    let (_db, store) = fresh_store().await;
    let nightly = reportflow_core::Label::new("nightly").expect("a label");
    let jobs: Vec<reportflow_core::NewJob> = (0..6)
        .map(|n| {
            let job = reportflow_core::NewJob::new(spec(n), Some(key(&format!("job-{n}"))));
            job.labelled((n % 2 == 0).then(|| nightly.clone()))
        })
        .collect();
    let stored = store
        .insert_many(jobs, &policy(), T0)
        .await
        .expect("stores");
    let labelled: BTreeSet<JobId> = stored
        .iter()
        .filter(|i| i.job.has_label(&nightly))
        .map(|i| i.job.id)
        .collect();
    assert_eq!(labelled.len(), 3);
    let w = worker("nightly-worker");
    let far = Millis(T0.0 + 10_000_000);
    let claimed = store
        .claim_labelled(&w, 10, 10, Some(&nightly), far)
        .await
        .expect("claims");
    let ids: BTreeSet<JobId> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, labelled, "only the label's jobs");
    assert_eq!(
        store
            .next_due_labelled(Some(&nightly))
            .await
            .expect("next due"),
        None,
        "every job of the label is held"
    );
    assert!(
        store.next_due().await.expect("next due").is_some(),
        "the others wait"
    );
    let rest = store
        .claim(&worker("any"), 10, 10, far)
        .await
        .expect("claims");
    assert_eq!(rest.len(), 3, "the unlabelled jobs are anyone's");
}
