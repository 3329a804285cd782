//! Keeping `reportflow_counts` in step with the jobs, in the writing transaction.
//!
//! Every write transaction locks its rows in one order, so that concurrent writers wait for
//! each other instead of deadlocking: job rows first (by id, or by key for new ones), then the
//! count rows it changes, by state (this module's statement, run last before `COMMIT`; a
//! batch of transitions runs the same locking inside its one write statement, `apply.rs`).

use crate::columns::state_sql;
use deadpool_postgres::Transaction;
use reportflow_core::StateName;
use std::collections::BTreeMap;

/// Locks the count rows to change in state order, then adds each state's delta.
const ADD: &str = "
    WITH locked AS MATERIALIZED (
        SELECT state
        FROM reportflow_counts
        WHERE state = ANY($1::smallint[])
        ORDER BY state
        FOR UPDATE
    )
    UPDATE reportflow_counts AS c
    SET jobs = c.jobs + d.delta
    FROM locked
    JOIN unnest($1::smallint[], $2::bigint[]) AS d (state, delta) ON d.state = locked.state
    WHERE c.state = locked.state";

/// How many jobs each state gains (or loses) in one transaction.
#[derive(Debug, Default)]
pub(crate) struct Deltas(BTreeMap<i16, i64>);

impl Deltas {
    /// `n` more jobs in `state` (fewer when negative).
    pub(crate) fn add(&mut self, state: StateName, n: i64) {
        *self.0.entry(state_sql(state)).or_insert(0) += n;
    }

    /// One job moved from `from` to `to` (nothing when they are the same state).
    pub(crate) fn moved(&mut self, from: StateName, to: StateName) {
        if from != to {
            self.add(from, -1);
            self.add(to, 1);
        }
    }

    /// The states whose count changes and by how much, as `unnest` arrays (empty when every
    /// change cancels out).
    pub(crate) fn arrays(&self) -> (Vec<i16>, Vec<i64>) {
        self.0
            .iter()
            .filter(|(_, d)| **d != 0)
            .map(|(s, d)| (*s, *d))
            .unzip()
    }

    /// Writes the deltas (nothing when they all cancel out).
    pub(crate) async fn write(&self, tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
        let (states, deltas) = self.arrays();
        if states.is_empty() {
            return Ok(());
        }
        let add = tx.prepare_cached(ADD).await?;
        tx.execute(&add, &[&states, &deltas]).await?;
        Ok(())
    }
}
