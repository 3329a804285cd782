//! The scheduling loop: due jobs are stepped under the concurrency bounds; a job waiting for
//! its next step is one heap entry (a timer), not a task. Every due time is the core's
//! (`Effect::due`): the loop orders them and keeps no retry state of its own.

use crate::clock;
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::events::Event;
use crate::step::{Ctx, step};
use reportflow_core::{Job, JobId, Millis, StateName};
use reportflow_store::StoreError;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Live jobs found when the run started.
    pub live_at_start: usize,
    /// Jobs that reached each terminal state during the run.
    pub ended: BTreeMap<StateName, u64>,
    /// True when the run was shut down before it went idle.
    pub interrupted: bool,
    /// What the engine did during the run.
    pub metrics: crate::Metrics,
}

impl RunSummary {
    /// True when no job ended `Failed`, `Expired` or `Cancelled` in this run.
    pub fn all_succeeded(&self) -> bool {
        [StateName::Failed, StateName::Expired, StateName::Cancelled]
            .iter()
            .all(|s| self.ended.get(s).copied().unwrap_or(0) == 0)
    }

    /// Jobs that ended in `state` during the run.
    pub fn count(&self, state: StateName) -> u64 {
        self.ended.get(&state).copied().unwrap_or(0)
    }
}

type Outcome = (JobId, String, Result<Job, DriverError>);

/// Live jobs read and planned per turn of the loop at the start of a run.
const LIVE_PAGE: usize = 256;

/// How far the run has read the live jobs that were there when it started.
#[derive(Clone, Copy)]
enum Loading {
    /// Jobs with ids above this one (all, for `None`) are still to be planned.
    Next(Option<JobId>),
    /// Every one was planned.
    Done,
}

/// The loop's state.
pub(crate) struct Runner {
    ctx: Arc<Ctx>,
    config: EngineConfig,
    /// Due times, earliest first; an entry is current only if it equals `planned`.
    heap: BinaryHeap<Reverse<(Millis, JobId)>>,
    planned: HashMap<JobId, Millis>,
    /// Jobs whose account is at its bound, waiting for one of its jobs to finish a step.
    held: HashMap<String, VecDeque<Job>>,
    per_account: HashMap<String, usize>,
    in_flight: HashMap<JobId, String>,
    tasks: JoinSet<Outcome>,
    summary: RunSummary,
    /// Asked to finish: no step starts any more; the run ends once those in flight ended.
    finishing: bool,
}

impl Runner {
    pub(crate) fn new(ctx: Arc<Ctx>, config: EngineConfig) -> Runner {
        Runner {
            ctx,
            config,
            heap: BinaryHeap::new(),
            planned: HashMap::new(),
            held: HashMap::new(),
            per_account: HashMap::new(),
            in_flight: HashMap::new(),
            tasks: JoinSet::new(),
            summary: RunSummary::default(),
            finishing: false,
        }
    }

    /// Plans a job's next step at the time its effect is due (a terminal job is counted
    /// instead).
    fn schedule(&mut self, job: &Job) {
        match job.effect().due() {
            Some(at) => self.plan(job.id, at),
            None => {
                self.planned.remove(&job.id);
                *self.summary.ended.entry(job.state.name()).or_insert(0) += 1;
            }
        }
    }

    fn plan(&mut self, id: JobId, at: Millis) {
        self.planned.insert(id, at);
        self.heap.push(Reverse((at, id)));
    }

    /// Plans the next page of the live jobs found at the start of the run. A job the run already
    /// knows (woken by a submit, or stepped since) is left as the run has it.
    fn load_page(&mut self, loading: &mut Loading) -> Result<(), DriverError> {
        let Loading::Next(after) = *loading else {
            return Ok(());
        };
        let page = self.ctx.store.live_page(after, LIVE_PAGE)?;
        *loading = match page.last() {
            Some(last) if page.len() == LIVE_PAGE => Loading::Next(Some(last.id)),
            _ => Loading::Done,
        };
        for job in &page {
            if self.selected(job)
                && !self.planned.contains_key(&job.id)
                && !self.in_flight.contains_key(&job.id)
            {
                self.schedule(job);
            }
        }
        Ok(())
    }

    /// True when the run drives `job` (every job, or only those with the run's label).
    fn selected(&self, job: &Job) -> bool {
        self.config
            .only_label
            .as_ref()
            .is_none_or(|label| job.has_label(label))
    }

    /// Live jobs the run drives: all of them, or (with a label) those with it, counted a page
    /// at a time.
    fn live_selected(&self) -> Result<usize, DriverError> {
        if self.config.only_label.is_none() {
            let live: u64 = self
                .ctx
                .store
                .counts()?
                .iter()
                .filter(|(state, _)| !state.is_terminal())
                .map(|(_, n)| n)
                .sum();
            return Ok(usize::try_from(live).unwrap_or(usize::MAX));
        }
        let mut count = 0;
        let mut after = None;
        loop {
            let page = self.ctx.store.live_page(after, LIVE_PAGE)?;
            count += page.iter().filter(|job| self.selected(job)).count();
            match page.last() {
                Some(last) if page.len() == LIVE_PAGE => after = Some(last.id),
                _ => return Ok(count),
            }
        }
    }

    /// Starts every due job the bounds allow.
    fn dispatch(&mut self) -> Result<(), DriverError> {
        let now = clock::now();
        while self.tasks.len() < self.config.concurrency.max(1) {
            let Some(Reverse((at, id))) = self.heap.peek().copied() else {
                break;
            };
            if at > now {
                break;
            }
            self.heap.pop();
            if self.planned.get(&id) != Some(&at) || self.in_flight.contains_key(&id) {
                continue;
            }
            self.planned.remove(&id);
            let Some(job) = self.ctx.store.get(id)? else {
                continue;
            };
            // The job may have changed since it was planned (a retry, a cancel): it goes when
            // its effect is due now.
            match job.effect().due() {
                Some(due) if due > now => {
                    self.plan(id, due);
                    continue;
                }
                None => {
                    self.schedule(&job);
                    continue;
                }
                Some(_) => {}
            }
            let account = job.spec.account().to_string();
            if self.per_account.get(&account).copied().unwrap_or(0)
                >= self.config.per_account_concurrency.max(1)
            {
                self.held.entry(account).or_default().push_back(job);
                continue;
            }
            self.start(job, account);
        }
        Ok(())
    }

    fn start(&mut self, job: Job, account: String) {
        *self.per_account.entry(account.clone()).or_insert(0) += 1;
        self.in_flight.insert(job.id, account.clone());
        let ctx = Arc::clone(&self.ctx);
        let id = job.id;
        let span = tracing::info_span!("job", id = %id, key = %job.key);
        self.tasks.spawn(
            async move {
                let result = step(&ctx, job).await;
                (id, account, result)
            }
            .instrument(span),
        );
    }

    /// Takes a finished step into account.
    fn finished(&mut self, (id, account, result): Outcome) -> Result<(), DriverError> {
        self.in_flight.remove(&id);
        if let Some(n) = self.per_account.get_mut(&account) {
            *n = n.saturating_sub(1);
        }
        if !self.finishing
            && let Some(job) = self.held.get_mut(&account).and_then(VecDeque::pop_front)
        {
            self.start(job, account);
        }
        match result {
            Ok(job) => self.schedule(&job),
            Err(DriverError::Store(StoreError::Conflict { .. })) => {
                if let Some(job) = self.ctx.store.get(id)? {
                    self.schedule(&job);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn idle(&self) -> bool {
        self.planned.is_empty()
            && self.tasks.is_empty()
            && self.held.values().all(VecDeque::is_empty)
    }

    /// Stops every step in flight and removes their temporary files; jobs stay resumable.
    async fn stop(&mut self) {
        while let Some(joined) = self.tasks.try_join_next() {
            if let Ok(outcome) = joined
                && let Err(e) = self.finished(outcome)
            {
                tracing::warn!(error = %e, "while stopping");
            }
        }
        // An abandoned download's temporary file goes with its step (see `download::place`).
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.in_flight.clear();
    }

    fn done(mut self, before: crate::Metrics) -> RunSummary {
        let now = self.ctx.api.counters.snapshot();
        self.summary.metrics = crate::Metrics {
            requests: now.requests - before.requests,
            retries: now.retries - before.retries,
            bytes: now.bytes - before.bytes,
        };
        self.summary
    }

    /// Runs until idle (or, with `keep_going`, until shut down). Once `finish` says so, no
    /// step starts any more, and the run ends (interrupted) when the steps in flight ended.
    pub(crate) async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
        mut finish: watch::Receiver<bool>,
        mut submitted: mpsc::UnboundedReceiver<JobId>,
        keep_going: bool,
    ) -> Result<RunSummary, DriverError> {
        let before = self.ctx.api.counters.snapshot();
        // The live jobs are planned a page at a time, and the first steps start as soon as the
        // first page is planned: the first request does not wait for every live job to be read.
        // A waiting job costs its timer entry, not its whole record.
        let live = self.live_selected()?;
        self.summary.live_at_start = live;
        let _ = self.ctx.events.send(Event::RunStarted { live });
        let mut loading = Loading::Next(None);
        loop {
            if *shutdown.borrow() {
                self.stop().await;
                self.summary.interrupted = true;
                return Ok(self.done(before));
            }
            self.finishing |= *finish.borrow();
            if self.finishing && self.tasks.is_empty() {
                self.summary.interrupted = true;
                return Ok(self.done(before));
            }
            if !self.finishing
                && let Err(e) = self.load_page(&mut loading).and_then(|()| self.dispatch())
            {
                self.stop().await;
                return Err(e);
            }
            let loaded = matches!(loading, Loading::Done);
            if loaded && self.idle() && !keep_going {
                return Ok(self.done(before));
            }
            let wait = match self.heap.peek() {
                Some(Reverse((at, _))) if self.tasks.len() < self.config.concurrency.max(1) => {
                    Duration::from_millis(at.since(clock::now()).max(1))
                }
                _ => Duration::from_secs(3600),
            };
            tokio::select! {
                Some(joined) = self.tasks.join_next() => {
                    let outcome = match joined {
                        Ok(outcome) => outcome,
                        Err(e) if e.is_cancelled() => continue,
                        Err(e) => {
                            self.stop().await;
                            return Err(DriverError::Config(format!("a job step panicked: {e}; please report this")));
                        }
                    };
                    if let Err(e) = self.finished(outcome) {
                        self.stop().await;
                        return Err(e);
                    }
                }
                Some(id) = submitted.recv() => {
                    if !self.in_flight.contains_key(&id) && !self.planned.contains_key(&id)
                        && let Some(job) = self.ctx.store.get(id)?
                        && self.selected(&job)
                    {
                        self.schedule(&job);
                    }
                }
                // More live jobs to plan: take the next page on the next turn, without waiting.
                () = std::future::ready(()), if !loaded && !self.finishing => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                _ = finish.changed(), if !self.finishing => {}
            }
        }
    }
}
