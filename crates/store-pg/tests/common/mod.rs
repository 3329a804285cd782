//! Helpers shared by the PostgreSQL store's test binaries: the sled store's job helpers (one
//! copy for both backends), a store on a fresh database, and raw SQL to look behind the API.
#![allow(dead_code)]

#[path = "../../../store/tests/common/mod.rs"]
mod jobs;
#[allow(unused_imports)]
pub use jobs::*;

use reportflow_core::{Job, JobSpec, Millis, StateName};
use reportflow_store_pg::{PgOptions, PgStore, WorkerId};
use reportflow_testpg::TestDb;
use std::collections::BTreeMap;
use std::time::Duration;

/// A fresh database and the store opened on it (default options).
pub async fn fresh_store() -> (TestDb, PgStore) {
    fresh_store_with(PgOptions::default()).await
}

/// A fresh database and the store opened on it with `options`.
pub async fn fresh_store_with(options: PgOptions) -> (TestDb, PgStore) {
    let db = reportflow_testpg::fresh_database();
    let store = PgStore::open_with(&db.url, options)
        .await
        .expect("the store opens on a fresh database");
    (db, store)
}

/// Submits `jobs` (spec and key) at `now`: the stored jobs, in order.
pub async fn submit(
    store: &PgStore,
    jobs: impl IntoIterator<Item = (JobSpec, String)>,
    now: Millis,
) -> Vec<Job> {
    let jobs: Vec<_> = jobs.into_iter().map(|(spec, k)| (spec, key(&k))).collect();
    store
        .insert_many(jobs, &policy(), now)
        .await
        .expect("stores")
        .into_iter()
        .map(|i| i.job)
        .collect()
}

/// Options with a lease of `ms` milliseconds.
pub fn lease_ms(ms: u64) -> PgOptions {
    PgOptions {
        lease: Duration::from_millis(ms),
        ..PgOptions::default()
    }
}

/// A worker name.
pub fn worker(name: &str) -> WorkerId {
    WorkerId::new(name).expect("a valid worker name")
}

/// A raw connection to the database, for looking behind the store's API.
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("a raw connection");
    tokio::spawn(connection);
    client
}

/// The jobs per state, counted from the jobs table itself (every state present).
pub async fn recount(url: &str) -> BTreeMap<StateName, u64> {
    recount_on(&raw(url).await).await
}

/// [`recount`] on an open connection.
pub async fn recount_on(client: &tokio_postgres::Client) -> BTreeMap<StateName, u64> {
    let mut counts: BTreeMap<StateName, u64> = StateName::ALL.into_iter().map(|s| (s, 0)).collect();
    let rows = client
        .query(
            "SELECT state, count(*) FROM reportflow_jobs GROUP BY state",
            &[],
        )
        .await
        .expect("recount");
    for row in rows {
        let byte = u8::try_from(row.get::<_, i16>(0)).expect("a state byte");
        let state = reportflow_store::state_from_byte(byte).expect("a state");
        counts.insert(state, u64::try_from(row.get::<_, i64>(1)).expect("a count"));
    }
    counts
}

/// The stored row of a job as `(version, lease_owner, lease_token, history rows)`.
pub async fn row_of(url: &str, id: u64) -> (i64, Option<String>, i64, i64) {
    let client = raw(url).await;
    let id = i64::try_from(id).expect("an id");
    let row = client
        .query_one(
            "SELECT version, lease_owner, lease_token,
                    (SELECT count(*) FROM reportflow_history WHERE job_id = $1)
             FROM reportflow_jobs WHERE id = $1",
            &[&id],
        )
        .await
        .expect("the job's row");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}
