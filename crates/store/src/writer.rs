//! The sled store's writer: the steps of every caller (every running job of an engine) are
//! recorded by one thread, which takes whatever queued up while it was busy and records it in
//! one transaction ([`Store::apply_many`]). A batch at a durability point goes on to a second
//! thread that flushes, once for every batch queued there, before answering; meanwhile the
//! first thread records the next batch. Under load, many small transactions and flushes become
//! a few large ones, and no caller blocks a runtime thread on the disk.
//!
//! This is how [`crate::SledStore`] implements `JobStore::apply_many`; it starts with the
//! first step written, so that a process that only reads starts no thread.

use crate::{AppliedStep, Step, Store, StoreError};
use reportflow_core::{Job, Millis};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The most steps recorded in one transaction.
const MAX_BATCH: usize = 1024;

/// The results of one caller's steps.
type Results = Result<Vec<Result<AppliedStep, StoreError>>, StoreError>;

/// Where one caller's results go.
type Reply = oneshot::Sender<Results>;

/// One caller's steps waiting to be recorded, the time they happened, and where their results
/// go.
struct Request {
    steps: Vec<Step>,
    now: Millis,
    reply: Reply,
}

/// A recorded batch waiting for a flush: each caller's results and where they go.
type Recorded = Vec<(Reply, Vec<Result<AppliedStep, StoreError>>)>;

/// The handle of the writer threads. Dropping it lets them finish the steps already queued
/// and waits for them.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Request>>,
    threads: Vec<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer threads of `store`.
    pub(crate) fn start(store: Arc<Store>) -> Result<Writer, StoreError> {
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

    /// Records `steps` (happened at `now`) and returns their results once they are stored, and
    /// durable when one of them is at a durability point.
    pub(crate) async fn apply(&self, store: &Store, steps: Vec<Step>, now: Millis) -> Results {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Io {
            dir: store.dir().to_path_buf(),
            action: "record a transition (the store's writer thread has stopped)",
            source: std::io::Error::other("the writer thread is gone"),
        };
        self.queue
            .as_ref()
            .ok_or_else(gone)?
            .send(Request { steps, now, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
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

/// The writer thread: waits for a request, takes every request queued behind it (up to
/// [`MAX_BATCH`] steps), records them all in one transaction; answers at once unless the batch
/// must be flushed first. Each request's steps keep the time they were handed in with.
fn record_batches(
    store: &Store,
    requests: &mpsc::Receiver<Request>,
    to_flush: &mpsc::Sender<Recorded>,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        let mut steps = batch[0].steps.len();
        while steps < MAX_BATCH
            && let Ok(more) = requests.try_recv()
        {
            steps += more.steps.len();
            batch.push(more);
        }
        // The steps of a batch happened within the moments its requests waited: they are
        // recorded at the latest of their times (job times never go back).
        let now = batch.iter().map(|r| r.now).max().unwrap_or(Millis(0));
        // The steps move into one list; each reply remembers how many of them are its own.
        let mut all: Vec<Step> = Vec::with_capacity(steps);
        let replies: Vec<(Reply, usize)> = batch
            .into_iter()
            .map(|request| {
                let n = request.steps.len();
                all.extend(request.steps);
                (request.reply, n)
            })
            .collect();
        let applied = match store.apply_many(&all, now) {
            Ok(applied) => applied,
            Err(failed) => {
                for (reply, _) in replies {
                    let _ = reply.send(Err(failed.clone()));
                }
                continue;
            }
        };
        let mut results = applied.results.into_iter();
        let recorded: Recorded = replies
            .into_iter()
            .map(|(reply, n)| {
                let mine = results.by_ref().take(n).map(|r| r.map(unleased)).collect();
                (reply, mine)
            })
            .collect();
        let flush_needed = applied.flush_needed;
        if flush_needed {
            // Should the flusher be gone, the replies are dropped: their callers hear that the
            // writer is gone, never that an unflushed step is durable.
            let _ = to_flush.send(recorded);
        } else {
            answer(recorded);
        }
    }
}

/// A sled step's result as the interface answers it: no lease to speak of.
fn unleased(job: Job) -> AppliedStep {
    AppliedStep {
        job,
        lease_remaining: None,
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
    for (reply, results) in recorded {
        let _ = reply.send(Ok(results));
    }
}

/// Starts a named thread of `store`'s writer.
fn spawn(
    store: &Store,
    name: &str,
    work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(work)
        .map_err(|source| StoreError::Io {
            dir: store.dir().to_path_buf(),
            action: "start a writer thread of",
            source,
        })
}
