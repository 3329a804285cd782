//! A worker's share of a shared store (PostgreSQL): which jobs it holds, and when it claims,
//! renews and releases.
//!
//! - **Claims** take due jobs under leases, up to the engine's concurrency minus the leases
//!   held, and never more of an account's jobs than its bound minus those every worker holds
//!   (the store counts). A worker claims when a hint says new work may be there (LISTEN/NOTIFY:
//!   a submit, a retry, a released lease), when the next unheld job falls due (`next_due`), and
//!   at least every claim interval (a dead worker's leases expire silently).
//! - **Renewals** of every lease held come every third of the lease, in one call; a lease found
//!   lost (expired, taken over) ends its job's step at once.
//! - **Releases**: a job whose next step is further away than the keep window is given back
//!   (anyone claims it when it falls due), so that a waiting job does not hold a slot or its
//!   account's room; every lease is given back on a clean shutdown.
//!
//! Every interval is derived from the lease ([`Intervals`]); all lease arithmetic is the
//! database's clock, counted here from `Instant`s taken before each call ([`Held`]).

use crate::clock;
use crate::held::Held;
use reportflow_core::{Job, JobId, Label};
use reportflow_store::{Lease, PgError, SharedStore, StoreError, WorkHints, WorkerId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest pause between two claims that got all they asked for (more may be due): the
/// slots freed meanwhile are claimed together.
const CLAIM_GAP: Duration = Duration::from_millis(20);

/// The intervals of a worker, all derived from the store's lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Intervals {
    /// How often the leases held are renewed: a third of the lease.
    pub renew: Duration,
    /// The longest a worker waits between claims: a tenth of the lease, from 100 ms to 5 s.
    /// A dead worker's jobs move within the lease plus this.
    pub claim: Duration,
    /// A job whose next step is due within this keeps its lease; one due later is released: a
    /// third of the lease, at most 2 s.
    pub keep: Duration,
}

impl Intervals {
    /// The intervals of a lease.
    pub(crate) fn of(lease: Duration) -> Intervals {
        Intervals {
            renew: lease / 3,
            claim: (lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(5)),
            keep: (lease / 3).min(Duration::from_secs(2)),
        }
    }
}

/// What a worker holds of a shared store and when it next claims and renews.
pub(crate) struct Claims {
    worker: WorkerId,
    /// Only the jobs with this label (`run --label`).
    label: Option<Label>,
    intervals: Intervals,
    hints: Box<dyn WorkHints>,
    /// The leases held, by job.
    held: HashMap<JobId, Arc<Held>>,
    /// Leases to give back at the next turn.
    to_release: Vec<Lease>,
    next_claim: Instant,
    next_renew: Instant,
    /// The last claim found nothing it could take.
    pub(crate) drained: bool,
}

impl Claims {
    /// A worker named `worker` on `store` (driving only the jobs with `label`, when given),
    /// listening for hints already.
    pub(crate) async fn start(
        store: &dyn SharedStore,
        worker: WorkerId,
        label: Option<Label>,
    ) -> Result<Claims, StoreError> {
        let intervals = Intervals::of(store.lease_duration());
        let hints = store.listen().await?;
        let now = Instant::now();
        Ok(Claims {
            worker,
            label,
            intervals,
            hints,
            held: HashMap::new(),
            to_release: Vec::new(),
            next_claim: now,
            next_renew: now + intervals.renew,
            drained: false,
        })
    }

    /// How many leases are held.
    pub(crate) fn count(&self) -> usize {
        self.held.len()
    }

    /// The lease held on `id`.
    pub(crate) fn held(&self, id: JobId) -> Option<Arc<Held>> {
        self.held.get(&id).cloned()
    }

    /// Claims now rather than at the next interval (a hint came, a slot was freed).
    pub(crate) fn claim_soon(&mut self) {
        self.next_claim = self.next_claim.min(Instant::now());
    }

    /// Claims after the claim gap at the latest: slots freed meanwhile are claimed together.
    fn claim_after_gap(&mut self) {
        self.next_claim = self.next_claim.min(Instant::now() + CLAIM_GAP);
    }

    /// Waits for the next hint of new work.
    pub(crate) async fn hint(&self) {
        self.hints.hint().await;
    }

    /// When the loop must come back for this side: the next claim (if there is room) or renewal.
    pub(crate) fn next_turn(&self, room: bool) -> Instant {
        let renew = if self.held.is_empty() {
            Instant::now() + self.intervals.claim
        } else {
            self.next_renew
        };
        if room {
            renew.min(self.next_claim)
        } else {
            renew
        }
    }

    /// Claims up to `room` due jobs when it is time to; returns them with their leases held.
    pub(crate) async fn claim(
        &mut self,
        store: &dyn SharedStore,
        room: usize,
        per_account: usize,
    ) -> Result<Vec<Job>, StoreError> {
        if room == 0 || Instant::now() < self.next_claim {
            return Ok(Vec::new());
        }
        let asked = Instant::now();
        let claimed = store
            .claim(
                &self.worker,
                room,
                per_account,
                self.label.as_ref(),
                clock::now(),
            )
            .await?;
        self.drained = claimed.is_empty();
        self.next_claim = if claimed.len() == room {
            Instant::now() + CLAIM_GAP
        } else {
            self.after_shortfall(store).await?
        };
        Ok(claimed
            .into_iter()
            .map(|c| {
                let held = Held::new(&self.worker, c.lease, asked, c.remaining);
                self.held.insert(c.job.id, Arc::new(held));
                c.job
            })
            .collect())
    }

    /// When to claim after a claim that got less than it asked for: when the next unheld job
    /// falls due, at the latest after the claim interval (a due job it could not take, e.g.
    /// for its account's bound, waits for the interval or a hint).
    async fn after_shortfall(&self, store: &dyn SharedStore) -> Result<Instant, StoreError> {
        let latest = Instant::now() + self.intervals.claim;
        Ok(match store.next_due(self.label.as_ref()).await? {
            Some(due) => {
                let now = clock::now();
                if due > now {
                    latest.min(Instant::now() + Duration::from_millis(due.since(now)))
                } else {
                    latest
                }
            }
            None => latest,
        })
    }

    /// Renews every lease held when it is time to; returns the jobs whose lease was lost
    /// (also those whose lease may have run out by this worker's view before the renewal
    /// could say, e.g. while the database was away), which are no longer held.
    pub(crate) async fn renew(
        &mut self,
        store: &dyn SharedStore,
    ) -> Result<Vec<JobId>, StoreError> {
        let mut lost: Vec<JobId> = self
            .held
            .iter()
            .filter(|(_, held)| held.ran_out())
            .map(|(id, _)| *id)
            .collect();
        for id in &lost {
            self.held.remove(id);
        }
        if Instant::now() < self.next_renew || self.held.is_empty() {
            return Ok(lost);
        }
        let leases: Vec<Lease> = self.held.values().map(|h| h.lease()).collect();
        let asked = Instant::now();
        let renewed = match store.renew(&self.worker, &leases).await {
            Ok(renewed) => renewed,
            // The commit was cut off (the database restarted): the leases are as they were;
            // the next turn renews them again.
            Err(StoreError::Postgres(PgError::OutcomeUnknown { .. })) => return Ok(lost),
            Err(e) => return Err(e),
        };
        self.next_renew = Instant::now() + self.intervals.renew;
        for (lease, remaining) in renewed.kept {
            if let Some(held) = self.held.get(&lease.job) {
                held.renewed(asked, remaining);
            }
        }
        for lease in renewed.lost {
            if self.held.remove(&lease.job).is_some() {
                lost.push(lease.job);
            }
        }
        Ok(lost)
    }

    /// After a step: keeps the lease of a job whose next step is due within the keep window,
    /// gives back (at the next turn) the lease of one due later; an ended job's lease is gone
    /// already (the store clears it), and its slot is claimed again soon. Returns whether the
    /// job stays this worker's.
    pub(crate) fn after_step(&mut self, job: &Job) -> bool {
        let Some(due) = job.effect().due() else {
            self.held.remove(&job.id);
            // A slot and room in its account's bound are free: due jobs that waited for them
            // (held back by the bound, say) are claimed now, those that end together at once.
            self.claim_after_gap();
            return false;
        };
        let wait = Duration::from_millis(due.since(clock::now()));
        if wait <= self.intervals.keep {
            return true;
        }
        self.let_go(job.id);
        false
    }

    /// Stops holding `id`, giving its lease back at the next turn.
    pub(crate) fn let_go(&mut self, id: JobId) {
        if let Some(held) = self.held.remove(&id) {
            self.to_release.push(held.lease());
            self.claim_soon();
        }
    }

    /// Forgets `id` (its lease is lost: nothing to give back).
    pub(crate) fn forget(&mut self, id: JobId) {
        self.held.remove(&id);
    }

    /// Gives back the leases let go of.
    pub(crate) async fn release_pending(
        &mut self,
        store: &dyn SharedStore,
    ) -> Result<(), StoreError> {
        if self.to_release.is_empty() {
            return Ok(());
        }
        let leases = std::mem::take(&mut self.to_release);
        store.release(&self.worker, &leases).await?;
        Ok(())
    }

    /// Gives back every lease (a clean shutdown): the jobs are claimable at once by others.
    pub(crate) async fn release_all(&mut self, store: &dyn SharedStore) -> Result<(), StoreError> {
        let all: Vec<JobId> = self.held.keys().copied().collect();
        for id in all {
            self.let_go(id);
        }
        self.release_pending(store).await
    }
}

/// This worker's default name: `<host>-<process id>-<start time in ms>`.
pub(crate) fn default_worker_name() -> String {
    format!("{}-{}-{}", host_name(), std::process::id(), clock::now().0)
}

/// The machine's name (Linux: the kernel's; else `HOSTNAME`; else `host`).
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty() && !name.chars().any(char::is_control))
        .unwrap_or_else(|| "host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_lease() {
        let default = Intervals::of(Duration::from_secs(60));
        assert_eq!(default.renew, Duration::from_secs(20));
        assert_eq!(default.claim, Duration::from_secs(5));
        assert_eq!(default.keep, Duration::from_secs(2));
        let short = Intervals::of(Duration::from_secs(3));
        assert_eq!(short.renew, Duration::from_secs(1));
        assert_eq!(short.claim, Duration::from_millis(300));
        assert_eq!(short.keep, Duration::from_secs(1));
        assert_eq!(
            Intervals::of(Duration::from_millis(500)).claim,
            Duration::from_millis(100)
        );
    }

    #[test]
    fn a_default_worker_name_says_where_it_runs() {
        let name = default_worker_name();
        assert!(name.starts_with(&host_name()), "{name}");
        assert!(
            name.contains(&format!("-{}-", std::process::id())),
            "{name}"
        );
        assert!(WorkerId::new(name).is_ok());
    }
}
