//! Every operation of the PostgreSQL store against a real server: submits (idempotent, key
//! conflicts, batches), steps (versions, refusals), reads, history, counts, purge.

mod common;

use common::*;
use reportflow_core::{Input, Job, JobId, JobState, Millis, NewJob, StateName};
use reportflow_store::{JOB_VERSION, encode_job};
use reportflow_store_pg::{LeaseLoss, PgStore, Step, StepLease, StoreError, WorkerId};
use std::path::Path;

const T0: Millis = Millis(1_700_000_000_000);

/// A step without a lease (a user's command).
fn user_step(job: &Job, input: Input) -> Step {
    Step {
        id: job.id,
        expected_version: job.version,
        input,
        lease: None,
    }
}

/// Claims `job` for `worker` (it must be due at `now`) and returns the step lease.
async fn lease_of(store: &PgStore, worker: &WorkerId, job: &Job, now: Millis) -> StepLease {
    let claimed = store.claim(worker, 100, 100, now).await.expect("claims");
    let mine = claimed
        .iter()
        .find(|c| c.job.id == job.id)
        .expect("the job was claimed");
    StepLease::new(worker, mine.lease)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_is_idempotent_on_its_key_and_another_spec_is_refused() {
    let (db, store) = fresh_store().await;
    let first = store
        .insert(spec(0), key("nightly"), policy(), T0)
        .await
        .expect("stores");
    assert!(first.created);
    assert_eq!(first.job.state, JobState::requested(T0));
    assert_eq!(first.job.version, 0);
    let again = store
        .insert(spec(0), key("nightly"), policy(), T0.plus_ms(5))
        .await
        .expect("finds it");
    assert!(!again.created);
    assert_eq!(again.job, first.job, "the stored job, as it was stored");
    let err = store
        .insert(spec(2), key("nightly"), policy(), T0)
        .await
        .expect_err("another spec under the key");
    match &err {
        StoreError::KeyConflict {
            existing,
            existing_spec,
            new_spec,
            ..
        } => {
            assert_eq!(*existing, first.job.id);
            assert_ne!(existing_spec, new_spec);
            assert!(err.to_string().contains("use another key"), "{err}");
        }
        other => panic!("expected a key conflict, got {other:?}"),
    }
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts[&StateName::Requested], 1);
    assert_eq!(counts, recount(&db.url).await);
    let history = store.history(first.job.id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].seq, 0);
    assert_eq!(history[0].from, None);
    assert_eq!(history[0].to, StateName::Requested);
    assert_eq!(history[0].input, "submit");
    assert_eq!(history[0].at, T0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stops_at_its_first_conflict_and_keeps_the_jobs_before_it() {
    let (db, store) = fresh_store().await;
    let taken = store
        .insert(spec(1), key("taken"), policy(), T0)
        .await
        .expect("stores");
    let batch = vec![
        (spec(0), key("a")),
        (spec(2), key("b")),
        (spec(0), key("a")),
        (spec(3), key("taken")),
        (spec(4), key("c")),
    ];
    let err = store
        .insert_many(batch, &policy(), T0)
        .await
        .expect_err("the conflict stops the batch");
    assert!(matches!(err, StoreError::KeyConflict { existing, .. } if existing == taken.job.id));
    assert!(store.get_by_key(&key("a")).await.expect("reads").is_some());
    assert!(store.get_by_key(&key("b")).await.expect("reads").is_some());
    assert_eq!(store.get_by_key(&key("c")).await.expect("reads"), None);

    let batch = vec![
        (spec(0), key("d")),
        (spec(0), key("d")),
        (spec(0), key("a")),
    ];
    let inserted = store
        .insert_many(batch, &policy(), T0)
        .await
        .expect("stores");
    assert_eq!(inserted.len(), 3);
    assert!(inserted[0].created);
    assert!(
        !inserted[1].created,
        "the second of the same key names the first"
    );
    assert_eq!(inserted[0].job.id, inserted[1].job.id);
    assert!(!inserted[2].created);
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts[&StateName::Requested], 4);
    assert_eq!(counts, recount(&db.url).await);
    // A batch larger than one transaction's share is stored whole.
    let many: Vec<_> = (0..1_234)
        .map(|n| (spec(n), key(&format!("many-{n}"))))
        .collect();
    let inserted = store
        .insert_many(many, &policy(), T0)
        .await
        .expect("stores");
    assert_eq!(inserted.len(), 1_234);
    assert!(inserted.iter().all(|i| i.created));
    let mut ids: Vec<u64> = inserted.iter().map(|i| i.job.id.0).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(ids, sorted, "ids grow in submit order");
    ids.dedup();
    assert_eq!(ids.len(), 1_234);
    assert_eq!(
        store.counts().await.expect("counts")[&StateName::Requested],
        1_238
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_the_same_bytes_as_the_sled_stores() {
    let (db, store) = fresh_store().await;
    let job = store
        .insert(spec(0), key("bytes"), policy(), T0)
        .await
        .expect("stores")
        .job;
    let job = store
        .apply(user_step(&job, Input::Cancel), T0.plus_ms(1))
        .await
        .expect("cancels")
        .job;
    let client = raw(&db.url).await;
    let row = client
        .query_one(
            "SELECT record, state, live, version, updated_at, account FROM reportflow_jobs WHERE id = $1",
            &[&i64::try_from(job.id.0).expect("an id")],
        )
        .await
        .expect("the row");
    let record: Vec<u8> = row.get(0);
    assert_eq!(
        record,
        encode_job(Path::new("/"), &job).expect("encodes"),
        "the sled store's encoding"
    );
    assert_eq!(&record[..2], &JOB_VERSION.to_be_bytes());
    assert_eq!(
        row.get::<_, i16>(1),
        i16::from(reportflow_store::state_byte(StateName::Cancelled))
    );
    assert!(!row.get::<_, bool>(2));
    assert_eq!(row.get::<_, i64>(3), 1);
    assert_eq!(row.get::<_, i64>(4), 1_700_000_000_001);
    assert_eq!(row.get::<_, String>(5), "12345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_and_the_origin_of_dates_are_stored_in_the_record_and_kept() {
    let (db, store) = fresh_store().await;
    let night = labelled(1, "night", "nightly-2024-01-02");
    let batch = vec![night.clone(), NewJob::new(spec(2), Some(key("plain")))];
    let inserted = store
        .insert_many(batch, &policy(), T0)
        .await
        .expect("stores");
    assert_eq!(inserted[0].job.label, night.label);
    assert_eq!(inserted[0].job.origin, night.origin);
    assert_eq!(
        (
            inserted[1].job.label.clone(),
            inserted[1].job.origin.clone()
        ),
        (None, None)
    );
    // A repeated submit under another label is the same job, its label unchanged.
    let again = store
        .insert_many(
            [labelled(1, "night", "another-label")],
            &policy(),
            T0.plus_ms(1),
        )
        .await
        .expect("finds it");
    assert!(!again[0].created);
    assert_eq!(again[0].job, inserted[0].job);
    // A step keeps them; the row holds the sled store's bytes of the labelled job.
    let job = store
        .apply(user_step(&inserted[0].job, Input::Cancel), T0.plus_ms(2))
        .await
        .expect("cancels")
        .job;
    assert_eq!(job.label, night.label);
    assert_eq!(job.origin, night.origin);
    let read = store.get(job.id).await.expect("reads").expect("stored");
    assert_eq!(read, job);
    let record: Vec<u8> = raw(&db.url)
        .await
        .query_one(
            "SELECT record FROM reportflow_jobs WHERE id = $1",
            &[&i64::try_from(job.id.0).expect("an id")],
        )
        .await
        .expect("the row")
        .get(0);
    assert_eq!(record, encode_job(Path::new("/"), &job).expect("encodes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_are_checked_by_version_and_refusals_write_nothing() {
    let (db, store) = fresh_store().await;
    let a = store
        .insert(spec(0), key("a"), policy(), T0)
        .await
        .expect("stores")
        .job;
    let b = store
        .insert(spec(1), key("b"), policy(), T0)
        .await
        .expect("stores")
        .job;
    let w = worker("w1");
    let lease_a = lease_of(&store, &w, &a, T0).await;
    let steps = vec![
        // Stale version.
        Step {
            expected_version: 3,
            ..user_step(&a, Input::Cancel)
        },
        // The core refuses it.
        user_step(&b, Input::Retry),
        // Unknown job.
        user_step(
            &Job {
                id: JobId(999_999),
                ..a.clone()
            },
            Input::Cancel,
        ),
        // A create intent without a lease.
        user_step(&b, Input::CreateSending),
        // These go through, the second seeing the first.
        Step {
            lease: Some(lease_a.clone()),
            ..user_step(&a, Input::CreateSending)
        },
        Step {
            id: a.id,
            expected_version: 1,
            input: Input::CreateAccepted {
                location: "https://upstream.invalid/r/1".to_string(),
            },
            lease: Some(lease_a.clone()),
        },
        user_step(&b, Input::Cancel),
    ];
    let results = store
        .apply_many(&steps, T0.plus_ms(10))
        .await
        .expect("the batch runs");
    assert!(matches!(
        results[0],
        Err(StoreError::Conflict {
            expected: 3,
            found: 0,
            ..
        })
    ));
    assert!(matches!(results[1], Err(StoreError::Rejected(_))));
    assert!(matches!(results[2], Err(StoreError::NotFound { id }) if id == JobId(999_999)));
    assert!(matches!(results[3], Err(StoreError::LeaseRequired { .. })));
    let created = results[5].as_ref().expect("the location is recorded");
    assert_eq!(created.job.version, 2);
    assert_eq!(created.job.state.name(), StateName::Created);
    let remaining = created.lease_remaining.expect("a leased step's lease");
    assert!(
        remaining > std::time::Duration::from_secs(20),
        "{remaining:?}"
    );
    let cancelled = results[6].as_ref().expect("cancels");
    assert_eq!(cancelled.job.state, JobState::Cancelled);
    assert_eq!(cancelled.lease_remaining, None);

    let history = store.history(a.id).await.expect("history");
    let seqs: Vec<u64> = history.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(history[1].input, "create-sending");
    assert_eq!(history[2].from, Some(StateName::Requested));
    assert_eq!(history[2].to, StateName::Created);
    assert_eq!(history[2].at, T0.plus_ms(10));
    let leased = store.history_with_leases(a.id).await.expect("history");
    assert_eq!(leased[0].lease, None);
    assert_eq!(leased[2].lease, Some((w.clone(), lease_a.token)));
    assert_eq!(store.history(b.id).await.expect("history").len(), 2);
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts[&StateName::Created], 1);
    assert_eq!(counts[&StateName::Cancelled], 1);
    assert_eq!(counts[&StateName::Requested], 0);
    assert_eq!(counts, recount(&db.url).await);

    // An ended job's lease is cleared; a retry makes it claimable by anyone.
    let b_now = store.get(b.id).await.expect("reads").expect("stored");
    let (_, owner, _, _) = row_of(&db.url, b.id.0).await;
    assert_eq!(owner, None);
    let retried = store
        .apply(user_step(&b_now, Input::Retry), T0.plus_ms(20))
        .await
        .expect("retries");
    assert_eq!(retried.job.state, JobState::requested(T0.plus_ms(20)));
    assert_eq!(retried.job.attempt, 2);
    let claimed = store
        .claim(&worker("w2"), 10, 10, T0.plus_ms(20))
        .await
        .expect("claims");
    assert_eq!(
        claimed.iter().map(|c| c.job.id).collect::<Vec<_>>(),
        [b.id],
        "the retried job, not the one w1 holds"
    );
    // Job a stays w1's: a step under a lease w2 does not hold is refused.
    let stolen = StepLease {
        worker: worker("w2"),
        ..lease_a.clone()
    };
    let a_now = store.get(a.id).await.expect("reads").expect("stored");
    let refused = store
        .apply(
            Step {
                lease: Some(stolen),
                ..user_step(
                    &a_now,
                    Input::StatusSeen {
                        progress: reportflow_core::Progress::NotReady,
                        raw: "Processing".into(),
                    },
                )
            },
            T0.plus_ms(30),
        )
        .await
        .expect_err("another owner");
    assert!(matches!(
        refused,
        StoreError::LeaseLost {
            reason: LeaseLoss::TakenOver,
            ..
        }
    ));
    assert_eq!(row_of(&db.url, a.id.0).await.3, 3, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_page_by_id_by_state_and_over_live_jobs() {
    let (_db, store) = fresh_store().await;
    let jobs = submit(&store, (0..10).map(|n| (spec(n), format!("job-{n}"))), T0).await;
    // Cancel the even ones.
    let steps: Vec<Step> = jobs
        .iter()
        .step_by(2)
        .map(|j| user_step(j, Input::Cancel))
        .collect();
    for result in store.apply_many(&steps, T0.plus_ms(1)).await.expect("runs") {
        result.expect("cancels");
    }
    let ids = |jobs: &[Job]| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let all = ids(&jobs);
    assert_eq!(
        store.get(all[3]).await.expect("reads").map(|j| j.key),
        Some(key("job-3"))
    );
    assert_eq!(store.get(JobId(u64::MAX)).await.expect("reads"), None);
    assert_eq!(
        store
            .get_by_key(&key("job-4"))
            .await
            .expect("reads")
            .map(|j| j.id),
        Some(all[4])
    );
    assert_eq!(store.get_by_key(&key("none")).await.expect("reads"), None);

    let page1 = store.list(None, None, 4).await.expect("lists");
    let page2 = store
        .list(None, page1.last().map(|j| j.id), 4)
        .await
        .expect("lists");
    let page3 = store
        .list(None, page2.last().map(|j| j.id), 4)
        .await
        .expect("lists");
    assert_eq!([ids(&page1), ids(&page2), ids(&page3)].concat(), all);
    let cancelled = store
        .list(Some(StateName::Cancelled), None, 100)
        .await
        .expect("lists");
    assert_eq!(
        ids(&cancelled),
        all.iter().step_by(2).copied().collect::<Vec<_>>()
    );
    let after = store
        .list(Some(StateName::Requested), Some(all[5]), 2)
        .await
        .expect("lists");
    assert_eq!(ids(&after), [all[7], all[9]]);
    assert!(store.list(None, None, 0).await.expect("lists").is_empty());
    assert!(
        store
            .list(None, Some(JobId(u64::MAX)), 10)
            .await
            .expect("lists")
            .is_empty()
    );

    let live: Vec<JobId> = all.iter().skip(1).step_by(2).copied().collect();
    let first = store.live_page(None, 3).await.expect("reads");
    let rest = store
        .live_page(first.last().map(|j| j.id), 100)
        .await
        .expect("reads");
    assert_eq!([ids(&first), ids(&rest)].concat(), live);
    assert_eq!(ids(&store.live_jobs().await.expect("reads")), live);
    assert!(first.iter().chain(&rest).all(|j| !j.state.is_terminal()));

    assert!(matches!(
        store.history(JobId(424_242)).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_ended_jobs_in_batches_and_ids_are_never_reused() {
    let (db, store) = fresh_store().await;
    let jobs = submit(&store, (0..600).map(|n| (spec(n), format!("old-{n}"))), T0).await;
    // 300 jobs end at T0+1000+n, the others stay live.
    for (n, job) in jobs.iter().enumerate().filter(|(n, _)| n % 2 == 0) {
        store
            .apply(user_step(job, Input::Cancel), T0.plus_ms(1_000 + n as u64))
            .await
            .expect("cancels");
    }
    let highest = jobs.iter().map(|j| j.id).max().expect("jobs");
    let report = store.purge(T0.plus_ms(1_400)).await.expect("purges");
    // Ended before T0+1400: n even and 1000+n < 1400, that is n in 0, 2, ..., 398.
    assert_eq!(report.jobs, 200);
    assert_eq!(report.history_records, 400);
    let expected: Vec<JobId> = jobs.iter().step_by(2).take(200).map(|j| j.id).collect();
    assert_eq!(report.ids, expected, "oldest first");
    assert_eq!(store.get(jobs[0].id).await.expect("reads"), None);
    assert!(matches!(
        store.history(jobs[0].id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store.get(jobs[1].id).await.expect("reads").is_some(),
        "live jobs stay"
    );
    assert!(
        store.get(jobs[400].id).await.expect("reads").is_some(),
        "ended later"
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts[&StateName::Cancelled], 100);
    assert_eq!(counts[&StateName::Requested], 300);
    assert_eq!(counts, recount(&db.url).await);
    assert_eq!(
        store.purge(T0.plus_ms(1_400)).await.expect("purges").jobs,
        0,
        "nothing left to purge"
    );
    // The key names a new job, with an id above every earlier one.
    let again = store
        .insert(spec(0), key("old-0"), policy(), T0.plus_ms(2_000))
        .await
        .expect("stores");
    assert!(again.created);
    assert!(again.job.id > highest, "{} after {}", again.job.id, highest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_append_only() {
    let (db, store) = fresh_store().await;
    store
        .insert(spec(0), key("a"), policy(), T0)
        .await
        .expect("stores");
    let client = raw(&db.url).await;
    let err = client
        .execute("UPDATE reportflow_history SET input = 'changed'", &[])
        .await
        .expect_err("a recorded step is never changed");
    assert!(err.to_string().contains("db error"), "{err}");
    assert!(
        format!("{:?}", err.as_db_error()).contains("append-only"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_jobs_lease_is_cleared_and_an_expired_lease_is_lost() {
    let (db, store) = fresh_store_with(lease_ms(300)).await;
    let job = store
        .insert(spec(0), key("a"), policy(), T0)
        .await
        .expect("stores")
        .job;
    let w = worker("w1");
    let lease = lease_of(&store, &w, &job, T0).await;
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    let refused = store
        .apply(
            Step {
                lease: Some(lease.clone()),
                ..user_step(&job, Input::CreateSending)
            },
            T0.plus_ms(1),
        )
        .await
        .expect_err("the lease expired by the database's clock");
    assert!(matches!(
        refused,
        StoreError::LeaseLost {
            reason: LeaseLoss::Expired,
            ..
        }
    ));
    let (version, owner, _, history) = row_of(&db.url, job.id.0).await;
    assert_eq!((version, history), (0, 1), "nothing was written");
    assert_eq!(owner.as_deref(), Some("w1"), "still marked, but expired");
}

/// Several processes submitting the same keys at once: every submit succeeds, and each key
/// is one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_keys_from_several_submitters_at_once_are_one_job_each() {
    let (db, _store) = fresh_store().await;
    let mut tasks = Vec::new();
    for submitter in 0..6u32 {
        let store = PgStore::open(&db.url).await.expect("opens");
        tasks.push(tokio::spawn(async move {
            // Each submitter goes through the keys in its own order.
            let jobs: Vec<_> = (0..40u32)
                .map(|n| (n * 7 + submitter * 13) % 40)
                .map(|n| (spec(n), key(&format!("shared-{n}"))))
                .collect();
            let mut ids = std::collections::BTreeMap::new();
            for chunk in jobs.chunks(8) {
                for inserted in store
                    .insert_many(chunk.to_vec(), &policy(), T0)
                    .await
                    .expect("every submit succeeds")
                {
                    ids.insert(inserted.job.key.clone(), inserted.job.id);
                }
            }
            ids
        }));
    }
    let mut first = None;
    for task in tasks {
        let ids = task.await.expect("a submitter");
        assert_eq!(ids.len(), 40);
        match &first {
            None => first = Some(ids),
            Some(first) => assert_eq!(&ids, first, "every submitter got the same jobs"),
        }
    }
    let rows: i64 = raw(&db.url)
        .await
        .query_one("SELECT count(*) FROM reportflow_jobs", &[])
        .await
        .expect("counts")
        .get(0);
    assert_eq!(rows, 40);
    assert_eq!(recount(&db.url).await[&StateName::Requested], 40);
}
