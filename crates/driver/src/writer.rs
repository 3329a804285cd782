//! The store writer: the steps of every running job are recorded by one thread, which takes
//! whatever queued up while it was busy and records it in one transaction
//! ([`Store::apply_many`]). A batch at a durability point goes on to a second thread that
//! flushes, once for every batch queued there, before answering; meanwhile the first thread
//! records the next batch. Under load, many small transactions and flushes become a few large
//! ones, and no job's task blocks a thread on the disk.

use crate::clock;
use crate::error::DriverError;
use reportflow_core::{Input, Job, JobId};
use reportflow_store::{Step, Store, StoreError};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The most steps recorded in one transaction.
const MAX_BATCH: usize = 1024;

/// Where a step's result goes.
type Reply = oneshot::Sender<Result<Job, StoreError>>;

/// A step waiting to be recorded, and where its result goes.
struct Request {
    step: Step,
    reply: Reply,
}

/// A recorded batch waiting for a flush: each step's result and where it goes.
type Recorded = Vec<(Reply, Result<Job, StoreError>)>;

/// The handle of the writer threads. Dropping it lets them finish the steps already queued
/// and waits for them, so that the store is released when the engine is.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Request>>,
    threads: Vec<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer threads of `store`.
    pub(crate) fn start(store: Arc<Store>) -> Result<Writer, DriverError> {
        let (queue, requests) = mpsc::channel();
        let (to_flush, recorded) = mpsc::channel();
        let flusher_store = Arc::clone(&store);
        let flusher = spawn(&store, "reportflow-store-flusher", move || {
            flush_batches(&flusher_store, &recorded)
        })?;
        let writer_store = Arc::clone(&store);
        let writer = spawn(&store, "reportflow-store-writer", move || {
            record_batches(&writer_store, &requests, &to_flush)
        })?;
        Ok(Writer {
            queue: Some(queue),
            threads: vec![writer, flusher],
        })
    }

    /// Records `input` for job `id` (last seen at `expected_version`) and returns the new job
    /// once the step is stored, and durable when it is at a durability point.
    pub(crate) async fn apply(
        &self,
        id: JobId,
        expected_version: u64,
        input: Input,
    ) -> Result<Job, DriverError> {
        let (reply, answer) = oneshot::channel();
        let step = Step {
            id,
            expected_version,
            input,
        };
        self.queue
            .as_ref()
            .ok_or(DriverError::ShutDown)?
            .send(Request { step, reply })
            .map_err(|_| DriverError::ShutDown)?;
        Ok(answer.await.map_err(|_| DriverError::ShutDown)??)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The writer ends when its queue closes, and closes the flusher's as it ends.
        drop(self.queue.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for a step, takes every step queued behind it, records them all;
/// answers at once unless the batch must be flushed first.
fn record_batches(
    store: &Store,
    requests: &mpsc::Receiver<Request>,
    to_flush: &mpsc::Sender<Recorded>,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH
            && let Ok(more) = requests.try_recv()
        {
            batch.push(more);
        }
        let (steps, replies): (Vec<Step>, Vec<Reply>) =
            batch.into_iter().map(|r| (r.step, r.reply)).unzip();
        match store.apply_many(&steps, clock::now()) {
            Ok(applied) => {
                let recorded: Recorded = replies.into_iter().zip(applied.results).collect();
                if applied.flush_needed {
                    // Should the flusher be gone, the replies are dropped: their jobs hear
                    // `ShutDown`, never that an unflushed step is durable.
                    let _ = to_flush.send(recorded);
                } else {
                    answer(recorded);
                }
            }
            Err(failed) => {
                for reply in replies {
                    let _ = reply.send(Err(failed.clone()));
                }
            }
        }
    }
}

/// The flusher thread: waits for a recorded batch, takes every batch queued behind it, makes
/// them all durable with one flush, then answers.
fn flush_batches(store: &Store, recorded: &mpsc::Receiver<Recorded>) {
    while let Ok(first) = recorded.recv() {
        let mut batches = vec![first];
        while let Ok(more) = recorded.try_recv() {
            batches.push(more);
        }
        match store.flush() {
            Ok(()) => batches.into_iter().for_each(answer),
            Err(failed) => {
                // The steps are stored but perhaps not durable: nobody may act on them.
                for (reply, _) in batches.into_iter().flatten() {
                    let _ = reply.send(Err(failed.clone()));
                }
            }
        }
    }
}

fn answer(recorded: Recorded) {
    for (reply, result) in recorded {
        let _ = reply.send(result);
    }
}

/// Starts a named thread of `store`'s writer.
fn spawn(
    store: &Store,
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, DriverError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
        .map_err(|e| DriverError::io("start a store thread for", store.dir(), e))
}
