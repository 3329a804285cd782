//! The sled store's writer: the steps of every caller (every running job of an engine) are
//! recorded by one thread, which takes whatever queued up while it was busy and records it in
//! one transaction ([`Store::apply_many`]). A batch at a durability point is flushed by the
//! same thread before it answers; what queues up meanwhile is the next batch. Under load, many
//! small transactions and flushes become a few large ones, and no caller blocks a runtime
//! thread on the disk. (A second thread that flushed while this one recorded the next batch
//! cost a hand-off between threads per durable batch; flushing here gave 4 to 11 % more jobs/s
//! in the overhead scenario: docs/benchmarks.md, fourth round.)
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

/// A recorded batch: each caller's results and where they go.
type Recorded = Vec<(Reply, Vec<Result<AppliedStep, StoreError>>)>;

/// The handle of the writer thread. Dropping it lets the thread finish the steps already
/// queued and waits for it.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread of `store`.
    pub(crate) fn start(store: Arc<Store>) -> Result<Writer, StoreError> {
        let (queue, requests) = mpsc::channel();
        let writer_store = Arc::clone(&store);
        let thread = std::thread::Builder::new()
            .name("reportflow-store-writer".to_string())
            .spawn(move || record_batches(&writer_store, &requests))
            .map_err(|source| StoreError::Io {
                dir: store.dir().to_path_buf(),
                action: "start the writer thread of",
                source,
            })?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
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
        // The writer ends when its queue closes.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for a request, takes every request queued behind it (up to
/// [`MAX_BATCH`] steps), records them all in one transaction, flushes when the batch must be
/// durable, then answers. Each request's steps keep the time they were handed in with.
fn record_batches(store: &Store, requests: &mpsc::Receiver<Request>) {
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
        if !applied.flush_needed {
            answer(recorded);
            continue;
        }
        match store.flush() {
            Ok(()) => answer(recorded),
            Err(failed) => {
                // The steps are stored but perhaps not durable: nobody may act on them.
                for (reply, _) in recorded {
                    let _ = reply.send(Err(failed.clone()));
                }
            }
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

/// Sends each caller its results.
fn answer(recorded: Recorded) {
    for (reply, results) in recorded {
        let _ = reply.send(Ok(results));
    }
}
