//! Migrations of the store's layout, run when a store of an older schema is opened.
//!
//! Schema 1 to 2 (issue 16): schema 1 kept every job's record in `jobs` and a copy of each
//! live job's record in `live`, every job in the state index, one history key per transition
//! and a `counts` tree of one key per state. Schema 2 keeps a job in one place (its value in
//! `live`, with its latest transitions, while it has not ended; its record in `jobs` once it
//! has), only ended jobs in the state index, history in runs, and the counts in one key
//! (`meta/counts`). The migration gives each live job its schema-2 value (its record as it is,
//! nothing pending: its history stays where it is, which schema 2 reads), removes the live
//! jobs' records from `jobs` and their entries from the state index, folds the counters into
//! `meta/counts` and sets the schema version, in one transaction: a crash leaves the store in
//! schema 1 or in schema 2, never between. It reads and writes only the live jobs' keys and
//! the counters, whatever the number of ended jobs kept; the transaction holds the live jobs'
//! values in memory (about twice their size) until it commits.

use crate::error::from_sled;
use crate::layout::{
    self, COUNTS_V1, Counts, META_COUNTS, META_SCHEMA, by_state_id, by_state_key, count_key_v1,
};
use crate::records::decode_job;
use crate::records::live::encode_live_record;
use crate::trees::tx_error;
use crate::{Store, StoreError};
use reportflow_core::{JobId, StateName};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use std::collections::BTreeMap;

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
        // the state index names in a live state, whose record is then taken from `jobs`. A
        // live job's value becomes schema 2's (its state, its record as it is, no pending
        // history), and its entry in the state index goes (schema 2 keeps ended jobs there).
        let mut live = BTreeMap::new();
        for entry in trees.live.iter() {
            let (key, record) = entry.map_err(sled_err("read the live index"))?;
            let id = self.index_id(layout::decode_u64(&key).map(JobId), "live")?;
            live.insert(id, record);
        }
        let mut live_states = Vec::new();
        let mut uncopied = Vec::new();
        for state in StateName::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let range = by_state_key(state, JobId(0))..=by_state_key(state, JobId(u64::MAX));
            for key in trees.by_state.range(range).keys() {
                let key = key.map_err(sled_err("read the state index"))?;
                let id = self.index_id(by_state_id(&key), "by_state")?;
                if !live.contains_key(&id) {
                    uncopied.push(id);
                }
                live_states.push(key);
            }
        }
        for id in uncopied {
            let record = trees
                .jobs
                .get(layout::id_key(id))
                .map_err(sled_err("read a job"))?;
            if let Some(record) = record {
                live.insert(id, record);
            }
        }
        let mut values = Vec::with_capacity(live.len());
        for (id, record) in &live {
            let state = decode_job(dir, *id, record)?.state.name();
            values.push((*id, encode_live_record(dir, state, record, &[])?));
        }
        let all = (
            &trees.meta,
            &trees.jobs,
            &trees.live,
            &trees.by_state,
            &old_counts,
        );
        all.transaction(|(meta, jobs, live_tree, by_state, old)| {
            for (id, value) in &values {
                let key = layout::id_key(*id);
                jobs.remove(&key[..])?;
                live_tree.insert(&key[..], value.clone())?;
            }
            for key in &live_states {
                by_state.remove(key.clone())?;
            }
            for state in StateName::ALL {
                old.remove(&count_key_v1(state)[..])?;
            }
            meta.insert(META_COUNTS, counts.encode())?;
            meta.insert(META_SCHEMA, &2u32.to_be_bytes()[..])?;
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })
        .map_err(|e| tx_error(dir, "migrate the store to schema 2", e))?;
        self.flush()?;
        // Empty now; a crash before this leaves an empty tree nothing reads.
        trees
            .db
            .drop_tree(COUNTS_V1)
            .map_err(sled_err("drop the counters of schema 1"))?;
        Ok(())
    }
}
