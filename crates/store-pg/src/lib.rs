//! The shared job store of reportflow on PostgreSQL: several workers, any number of submitting
//! processes, hosts that come and go.
//!
//! A [`PgStore`] implements the store interface of `reportflow-store` ([`reportflow_store::JobStore`]
//! and [`reportflow_store::SharedStore`]), keeps the same jobs as the sled store in the same
//! record bytes, and answers with the same error type ([`StoreError`], its PostgreSQL failures in
//! [`PgError`]). Its inherent calls mirror the interface: [`PgStore::insert_many`],
//! [`PgStore::apply_many`], the reads, [`PgStore::purge`]. Work is shared by leases:
//! [`PgStore::claim`] takes due jobs (`FOR UPDATE SKIP LOCKED`), each with a lease whose token
//! grows at every claim and whose expiry is computed by the database's clock; every step a
//! worker writes is checked against the job's version, its lease token, its owner and the
//! lease's expiry (fencing), so a worker that lost its lease writes nothing.
//!
//! Two clocks, never mixed: job times (`now`, due times, `updated_at`, history times) are the
//! core's [`Millis`](reportflow_core::Millis), given by the caller as with the sled store;
//! every lease time is the database's clock (`clock_timestamp()`), never a worker's.
//!
//! `docs/store.md` describes the tables, the indexes, leases and fencing, and what each bound
//! means with N workers.

#![deny(missing_docs)]

mod apply;
mod claim;
mod columns;
mod counts;
mod due;
mod insert;
mod interface;
mod listen;
mod migrate;
mod purge;
mod queries;
mod run;
mod store;
mod tls;
mod url;

pub use due::due_at;
pub use listen::{CHANNEL, WorkListener};
pub use migrate::SCHEMA_VERSION;
// The interface's types, as this backend's calls take and answer them (defined once, in
// `reportflow-store`).
pub use reportflow_store::{
    AppliedStep, Claimed, Lease, LeaseLoss, LeasedTransition, PgError, Released, Renewed, Step,
    StepLease, StoreError, WorkerId,
};
pub use store::{PgOptions, PgStore};
pub use url::redact;

/// The store's futures can be spawned (`tokio::spawn` needs `Send`): checked at compile time.
#[cfg(test)]
#[allow(dead_code, clippy::let_underscore_future)]
fn futures_are_send(store: &PgStore) {
    use reportflow_core::JobId;
    fn send<T: Send>(_: T) {}
    send(store.get(JobId(1)));
    send(store.live_page(None, 1));
    send(store.history(JobId(1)));
    send(PgStore::open("postgres://h/db"));
    send(store.apply_many(&[], reportflow_core::Millis(0)));
    send(store.insert_many(
        Vec::<reportflow_core::NewJob>::new(),
        &reportflow_core::Policies::default(),
        reportflow_core::Millis(0),
    ));
    let worker = WorkerId::new("w").expect("a name");
    send(store.claim(&worker, 1, 1, reportflow_core::Millis(0)));
    send(store.renew(&worker, &[]));
    send(store.release(&worker, &[]));
    send(store.purge(reportflow_core::Millis(0)));
    send(store.listen());
}
