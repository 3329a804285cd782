//! Migrations of the store's layout, run when a store of an older schema is opened.
//!
//! Schema 1 to 2 (issue 16): schema 1 kept every job's record in `jobs` and a copy of each
//! live job's record in `live`, and a `counts` tree of one key per state. Schema 2 keeps a
//! record in one place (`live` while the job has not ended, `jobs` once it has) and the counts
//! in one key (`meta/counts`). The migration removes the live jobs' records from `jobs`, folds
//! the counters into `meta/counts` and sets the schema version, in one transaction: a crash
//! leaves the store in schema 1 or in schema 2, never between. It reads and writes only the live
//! jobs' keys and the counters, whatever the number of ended jobs kept.

use crate::error::from_sled;
use crate::layout::{
    self, COUNTS_V1, Counts, META_COUNTS, META_SCHEMA, by_state_id, by_state_key, count_key_v1,
};
use crate::{Store, StoreError};
use reportflow_core::{JobId, StateName};
use sled::transaction::ConflictableTransactionError;
use sled::{IVec, Transactional};
use std::collections::BTreeSet;

impl Store {
    /// Turns a store of schema 1 into schema 2 (see the module's documentation) and makes it
    /// durable. The caller then rewrites the marker.
    pub(crate) fn migrate_from_schema_1(&self) -> Result<(), StoreError> {
        let dir = &self.dir;
        let trees = self.trees();
        let sled_err = |action| move |e| from_sled(dir, action, e);
        let old_counts = trees
            .db
            .open_tree(COUNTS_V1)
            .map_err(sled_err("open the counters of schema 1"))?;
        let mut counts = Counts::default();
        for state in StateName::ALL {
            let value = old_counts
                .get(count_key_v1(state))
                .map_err(sled_err("read the counters of schema 1"))?;
            if let Some(value) = value {
                let n = layout::decode_u64(&value).ok_or_else(|| StoreError::Corrupt {
                    dir: dir.clone(),
                    detail: format!("the {state} counter is not 8 bytes"),
                })?;
                counts.set(state, n);
            }
        }
        // The live jobs: those with a copy in `live`, and (should a copy be missing) those
        // the state index names in a live state, whose record then moves to `live`.
        let mut live = BTreeSet::new();
        for key in trees.live.iter().keys() {
            let key = key.map_err(sled_err("read the live index"))?;
            live.insert(self.id_of(layout::decode_u64(&key).map(JobId), "live")?);
        }
        let mut uncopied = Vec::new();
        for state in StateName::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let range = by_state_key(state, JobId(0))..=by_state_key(state, JobId(u64::MAX));
            for key in trees.by_state.range(range).keys() {
                let key = key.map_err(sled_err("read the state index"))?;
                let id = self.id_of(by_state_id(&key), "by_state")?;
                if !live.contains(&id) {
                    uncopied.push(id);
                }
            }
        }
        let all = (&trees.meta, &trees.jobs, &trees.live, &old_counts);
        all.transaction(|(meta, jobs, live_tree, old)| {
            for id in &live {
                jobs.remove(&layout::id_key(*id)[..])?;
            }
            for id in &uncopied {
                let key = layout::id_key(*id);
                let record: Option<IVec> = jobs.remove(&key[..])?;
                if let Some(record) = record {
                    live_tree.insert(&key[..], record)?;
                }
            }
            for state in StateName::ALL {
                old.remove(&count_key_v1(state)[..])?;
            }
            meta.insert(META_COUNTS, counts.encode())?;
            meta.insert(META_SCHEMA, &2u32.to_be_bytes()[..])?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })
        .map_err(|e| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => {
                from_sled(dir, "migrate the store to schema 2", e)
            }
        })?;
        self.flush()?;
        // Empty now; a crash before this leaves an empty tree nothing reads.
        trees
            .db
            .drop_tree(COUNTS_V1)
            .map_err(sled_err("drop the counters of schema 1"))?;
        Ok(())
    }

    fn id_of(&self, id: Option<JobId>, tree: &str) -> Result<JobId, StoreError> {
        id.ok_or_else(|| StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: format!("a key of the {tree} tree is damaged"),
        })
    }
}
