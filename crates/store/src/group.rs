//! Group commit: concurrent callers of an expensive sync share one.

use std::sync::{Condvar, Mutex, PoisonError};

/// Shares one run of a sync among the callers that need it at the same time.
///
/// A caller needs a sync that *starts* after it arrives (its writes are done by then). While
/// one sync runs, later callers wait; the first of them to wake up runs one more sync, which
/// covers all of them. So at most one sync runs at a time, and `n` concurrent callers cost
/// about two syncs instead of `n`. A failed sync covers nobody: each of its callers runs (or
/// joins) another one and gets that one's result.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Callers so far (each takes the next ticket).
    arrived: u64,
    /// Every ticket up to this one is covered by a sync that succeeded.
    covered: u64,
    /// A sync is running.
    running: bool,
}

impl GroupCommit {
    /// Runs `sync`, or waits for a sync that started after this call began, and returns its
    /// result (an error only from a sync this caller ran itself).
    pub fn run<E>(&self, sync: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mut state = self.lock();
        state.arrived += 1;
        let ticket = state.arrived;
        loop {
            if state.covered >= ticket {
                return Ok(());
            }
            if !state.running {
                break;
            }
            state = self
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // Everything that arrived so far has finished its writes: this sync covers them all.
        let covers = state.arrived;
        state.running = true;
        drop(state);
        let result = sync();
        let mut state = self.lock();
        state.running = false;
        if result.is_ok() {
            state.covered = state.covered.max(covers);
        }
        drop(state);
        self.done.notify_all();
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::GroupCommit;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    /// Every caller returns only after a sync that started after it arrived, and concurrent
    /// callers share syncs.
    #[test]
    fn callers_share_syncs_that_cover_them() {
        let group = Arc::new(GroupCommit::default());
        let writes = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let syncs = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (group, writes, durable, syncs) = (
                    Arc::clone(&group),
                    Arc::clone(&writes),
                    Arc::clone(&durable),
                    Arc::clone(&syncs),
                );
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let mine = writes.fetch_add(1, Ordering::SeqCst) + 1;
                        group
                            .run(|| {
                                let covers = writes.load(Ordering::SeqCst);
                                syncs.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(1));
                                durable.fetch_max(covers, Ordering::SeqCst);
                                Ok::<(), ()>(())
                            })
                            .expect("no sync fails");
                        assert!(
                            durable.load(Ordering::SeqCst) >= mine,
                            "write {mine} not covered"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a thread");
        }
        let syncs = syncs.load(Ordering::SeqCst);
        assert!((1..320).contains(&syncs), "{syncs} syncs for 320 calls");
    }

    /// A failed sync covers nobody: its caller gets the error, the others sync again.
    #[test]
    fn a_failed_sync_covers_nobody() {
        let group = Arc::new(GroupCommit::default());
        let failed_once = Arc::new(AtomicBool::new(false));
        let results: Vec<_> = (0..8)
            .map(|_| {
                let (group, failed_once) = (Arc::clone(&group), Arc::clone(&failed_once));
                std::thread::spawn(move || {
                    group.run(|| {
                        std::thread::sleep(Duration::from_millis(2));
                        if failed_once.swap(true, Ordering::SeqCst) {
                            Ok(())
                        } else {
                            Err("disk full")
                        }
                    })
                })
            })
            .map(|t| t.join().expect("a thread"))
            .collect();
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        let ok = GroupCommit::default().run(|| Ok::<(), ()>(()));
        assert_eq!(ok, Ok(()));
    }
}
