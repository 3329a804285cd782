//! The scheduling loop: due jobs are stepped under the concurrency bounds; a job waiting for
//! its next step is one heap entry (a timer), not a task. Every due time is the core's
//! (`Effect::due`): the loop orders them and keeps no retry state of its own.
//!
//! Where the jobs come from depends on the store:
//! - **one process's store** (sled): every live job is this process's; they are read a page at
//!   a time at the start (the first steps start before the rest is read), and new ones arrive
//!   from this process's submits;
//! - **a shared store** (PostgreSQL): a job is this worker's only while it holds its lease
//!   ([`Claims`]): claimed when due, renewed in the background, given back when its next step
//!   is far away or at shutdown, and its step stopped at once when the lease is lost.

use crate::claims::Claims;
use crate::clock;
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::events::Event;
use crate::held::Held;
use crate::jobs::live_in;
use crate::step::{Ctx, step};
use reportflow_core::{Job, JobId, Millis, StateName};
use reportflow_store::{PgError, StoreError};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument;

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Live jobs found when the run started (on a shared store: in the whole store).
    pub live_at_start: usize,
    /// Jobs that reached each terminal state during the run (on a shared store: those this
    /// worker ended).
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

/// On one process's store, a job whose next step is due within this long is kept as its step
/// stored it, so that the step starts without reading it again; one that waits longer costs
/// its timer entry alone and is read when it is due.
const KEEP_AHEAD_MS: u64 = 5_000;

/// The most jobs kept that way (per unit of concurrency); past it, jobs are read when due.
const KEEP_PER_SLOT: usize = 16;

/// How far the run has read the live jobs that were there when it started (one process's
/// store).
#[derive(Clone, Copy)]
enum Loading {
    /// Jobs with ids above this one (all, for `None`) are still to be planned.
    Next(Option<JobId>),
    /// Every one was planned.
    Done,
}

/// A shared store's call that may be cut off by a restart of the database: `None` when its
/// commit's outcome is unknown (logged), else its result.
fn passing<T>(result: Result<T, StoreError>, what: &str) -> Result<Option<T>, DriverError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e @ StoreError::Postgres(PgError::OutcomeUnknown { .. })) => {
            tracing::warn!(error = %e, "could not {what}; trying again at the next turn");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Where the jobs of a run come from.
enum Source {
    /// Every live job of the store is this process's.
    Own(Loading),
    /// Only the jobs this worker holds leases on.
    Shared(Box<Claims>),
}

/// A step in flight.
struct InFlight {
    account: String,
    abort: AbortHandle,
}

/// The loop's state.
pub(crate) struct Runner {
    ctx: Arc<Ctx>,
    config: EngineConfig,
    source: Source,
    /// Due times, earliest first; an entry is current only if it equals `planned`.
    heap: BinaryHeap<Reverse<(Millis, JobId)>>,
    planned: HashMap<JobId, Millis>,
    /// Jobs as their last step stored them, so that their next step starts without a read:
    /// on a shared store every job held; on one process's store those due soon (see
    /// [`KEEP_AHEAD_MS`]).
    known: HashMap<JobId, Job>,
    /// Jobs whose account is at its bound, waiting for one of its jobs to finish a step.
    held_back: HashMap<String, VecDeque<Job>>,
    per_account: HashMap<String, usize>,
    in_flight: HashMap<JobId, InFlight>,
    tasks: JoinSet<Outcome>,
    summary: RunSummary,
    /// Asked to finish: no step starts and nothing is claimed any more; the run ends once the
    /// steps in flight ended.
    finishing: bool,
}

impl Runner {
    /// A runner of `ctx`'s store: its own live jobs, or, on a shared store, a worker that claims
    /// (named by the configuration, or after its host and process).
    pub(crate) async fn new(ctx: Arc<Ctx>, config: EngineConfig) -> Result<Runner, DriverError> {
        let source = match ctx.store.shared() {
            None => Source::Own(Loading::Next(None)),
            Some(shared) => {
                let name = config
                    .worker_name
                    .clone()
                    .unwrap_or_else(crate::claims::default_worker_name);
                let worker = reportflow_store::WorkerId::new(name)?;
                tracing::info!(%worker, store = %ctx.store.describe(), "working as a worker of a shared store");
                Source::Shared(Box::new(
                    Claims::start(shared, worker, config.only_label.clone()).await?,
                ))
            }
        };
        Ok(Runner {
            ctx,
            config,
            source,
            heap: BinaryHeap::new(),
            planned: HashMap::new(),
            known: HashMap::new(),
            held_back: HashMap::new(),
            per_account: HashMap::new(),
            in_flight: HashMap::new(),
            tasks: JoinSet::new(),
            summary: RunSummary::default(),
            finishing: false,
        })
    }

    fn concurrency(&self) -> usize {
        self.config.concurrency.max(1)
    }

    /// Plans a job's next step at the time its effect is due (an ended job is counted
    /// instead).
    fn schedule(&mut self, job: &Job) {
        match job.effect().due() {
            Some(at) => self.plan(job.id, at),
            None => {
                self.planned.remove(&job.id);
                self.known.remove(&job.id);
                *self.summary.ended.entry(job.state.name()).or_insert(0) += 1;
            }
        }
    }

    /// Keeps `job`, as the store answered it, for its next step (see `known`): always on a
    /// shared store, on one process's store when that step is due soon and room is left. An
    /// ended job is not kept.
    fn remember(&mut self, job: Job) {
        let Some(due) = job.effect().due() else {
            return;
        };
        if let Source::Own(_) = self.source {
            let soon = due.0 <= clock::now().0.saturating_add(KEEP_AHEAD_MS);
            if !soon || self.known.len() >= self.concurrency() * KEEP_PER_SLOT {
                self.known.remove(&job.id);
                return;
            }
        }
        self.known.insert(job.id, job);
    }

    fn plan(&mut self, id: JobId, at: Millis) {
        self.planned.insert(id, at);
        self.heap.push(Reverse((at, id)));
    }

    /// Stops working on `id` (its lease is lost, or given back): no plan, no step.
    fn drop_job(&mut self, id: JobId) {
        self.planned.remove(&id);
        self.known.remove(&id);
        if let Some(flight) = self.in_flight.get(&id) {
            flight.abort.abort();
        }
    }

    /// Plans the next page of the live jobs found at the start of the run. A job the run already
    /// knows (woken by a submit, or stepped since) is left as the run has it.
    async fn load_page(&mut self) -> Result<(), DriverError> {
        let Source::Own(Loading::Next(after)) = self.source else {
            return Ok(());
        };
        let page = self.ctx.store.live_page(after, LIVE_PAGE).await?;
        self.source = Source::Own(match page.last() {
            Some(last) if page.len() == LIVE_PAGE => Loading::Next(Some(last.id)),
            _ => Loading::Done,
        });
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

    /// On a shared store: renews, releases and claims as their times come. A call whose
    /// commit was cut off (the database restarted) is not fatal: what it did or did not do is
    /// settled by the leases' expiry, and the next turn goes on.
    async fn share(&mut self) -> Result<(), DriverError> {
        let Source::Shared(claims) = &mut self.source else {
            return Ok(());
        };
        let shared = self
            .ctx
            .store
            .shared()
            .ok_or_else(|| DriverError::Config("the store stopped being shared".into()))?;
        let lost = passing(claims.renew(shared).await, "renew the leases")?.unwrap_or_default();
        passing(claims.release_pending(shared).await, "give leases back")?;
        let room = if self.finishing {
            0
        } else {
            self.config
                .concurrency
                .max(1)
                .saturating_sub(claims.count())
        };
        let claimed = passing(
            claims
                .claim(shared, room, self.config.per_account_concurrency.max(1))
                .await,
            "claim jobs",
        )?
        .unwrap_or_default();
        for id in lost {
            tracing::warn!(job = %id, "this worker's lease on the job is lost: its step stops, another worker takes it");
            self.drop_job(id);
        }
        for job in claimed {
            self.schedule(&job);
            self.remember(job);
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
    async fn live_selected(&self) -> Result<usize, DriverError> {
        if self.config.only_label.is_none() {
            let live = live_in(&self.ctx.store.counts().await?);
            return Ok(usize::try_from(live).unwrap_or(usize::MAX));
        }
        let mut count = 0;
        let mut after = None;
        loop {
            let page = self.ctx.store.live_page(after, LIVE_PAGE).await?;
            count += page.iter().filter(|job| self.selected(job)).count();
            match page.last() {
                Some(last) if page.len() == LIVE_PAGE => after = Some(last.id),
                _ => return Ok(count),
            }
        }
    }

    /// Starts every due job the bounds allow.
    async fn dispatch(&mut self) -> Result<(), DriverError> {
        let now = clock::now();
        while self.tasks.len() < self.concurrency() {
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
            // A job kept as its last step stored it is current: whatever else changes it (a
            // user's retry or cancel) makes the runner forget it (`woken`), or, on a shared
            // store, refuses the step.
            let job = match self.known.remove(&id) {
                Some(job) => job,
                None => match self.ctx.store.get(id).await? {
                    Some(job) => job,
                    None => continue,
                },
            };
            // The job may have changed since it was planned (a retry, a cancel): it goes when
            // its effect is due now.
            match job.effect().due() {
                Some(due) if due > now => {
                    self.plan(id, due);
                    self.remember(job);
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
                self.held_back.entry(account).or_default().push_back(job);
                continue;
            }
            self.start(job, account);
        }
        Ok(())
    }

    fn start(&mut self, job: Job, account: String) {
        let held: Option<Arc<Held>> = match &self.source {
            Source::Shared(claims) => match claims.held(job.id) {
                Some(held) => Some(held),
                // Let go of meanwhile: not this worker's to step.
                None => return,
            },
            Source::Own(_) => None,
        };
        *self.per_account.entry(account.clone()).or_insert(0) += 1;
        let ctx = Arc::clone(&self.ctx);
        let id = job.id;
        let span = tracing::info_span!("job", id = %id, key = %job.key);
        let task_account = account.clone();
        let abort = self.tasks.spawn(
            async move {
                let result = step(&ctx, job, held.as_deref()).await;
                (id, task_account, result)
            }
            .instrument(span),
        );
        self.in_flight.insert(id, InFlight { account, abort });
    }

    /// Takes a finished (or stopped) step of job `id` of `account` into account.
    fn settle_flight(&mut self, id: JobId, account: &str) {
        self.in_flight.remove(&id);
        if let Some(n) = self.per_account.get_mut(account) {
            *n = n.saturating_sub(1);
        }
        if !self.finishing
            && let Some(job) = self
                .held_back
                .get_mut(account)
                .and_then(VecDeque::pop_front)
        {
            self.start(job, account.to_string());
        }
    }

    /// The claims of a shared store.
    fn claims(&mut self) -> Option<&mut Claims> {
        match &mut self.source {
            Source::Shared(claims) => Some(claims),
            Source::Own(_) => None,
        }
    }

    /// Takes a finished step into account.
    async fn finished(&mut self, (id, account, result): Outcome) -> Result<(), DriverError> {
        self.settle_flight(id, &account);
        let Some(claims) = self.claims() else {
            match result {
                Ok(job) => {
                    self.schedule(&job);
                    self.remember(job);
                }
                Err(DriverError::Store(StoreError::Conflict { .. })) => {
                    if let Some(job) = self.ctx.store.get(id).await? {
                        self.schedule(&job);
                    }
                }
                Err(e) => return Err(e),
            }
            return Ok(());
        };
        match result {
            Ok(job) => {
                if claims.after_step(&job) || job.state.is_terminal() {
                    self.schedule(&job);
                    self.remember(job);
                } else {
                    // Given back: whoever claims it when it is due steps it.
                    self.drop_job(job.id);
                }
            }
            // Someone else wrote the job (a user's cancel, another worker that took it over),
            // or this worker's lease would not outlast the step: let it go; whoever holds it
            // next goes on from its stored state.
            Err(
                DriverError::Store(StoreError::Conflict { .. }) | DriverError::LeaseEnding { .. },
            ) => {
                claims.let_go(id);
                self.drop_job(id);
            }
            Err(DriverError::Store(StoreError::LeaseLost { .. })) => {
                tracing::info!(job = %id, "the lease on the job was lost; another worker has it");
                claims.forget(id);
                self.drop_job(id);
            }
            // The connection broke while the step was committed (the database restarted): it
            // may or may not be stored; the job goes on from whatever its stored state is, here
            // or on another worker.
            Err(DriverError::Store(e @ StoreError::Postgres(PgError::OutcomeUnknown { .. }))) => {
                tracing::warn!(job = %id, error = %e, "letting the job go; it resumes from its stored state");
                claims.let_go(id);
                self.drop_job(id);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Nothing planned, nothing running.
    fn idle(&self) -> bool {
        self.planned.is_empty()
            && self.tasks.is_empty()
            && self.held_back.values().all(VecDeque::is_empty)
    }

    /// Whether a run that is not kept going is done: idle, and (one process's store) every
    /// live job read, or (a shared store) nothing held, the last claim found nothing, and no
    /// job the run drives (of its label, with one) is live any more in the store (another
    /// worker's jobs may still come back to this one, should that worker die).
    async fn done_working(&self) -> Result<bool, DriverError> {
        if !self.idle() {
            return Ok(false);
        }
        match &self.source {
            Source::Own(loading) => Ok(matches!(loading, Loading::Done)),
            Source::Shared(claims) => {
                Ok(claims.count() == 0 && claims.drained && self.live_selected().await? == 0)
            }
        }
    }

    /// Stops every step in flight and removes their temporary files; jobs stay resumable. On a
    /// shared store every lease is given back, so that other workers take the jobs at once.
    async fn stop(&mut self) {
        while let Some(joined) = self.tasks.try_join_next() {
            if let Ok(outcome) = joined
                && let Err(e) = self.finished(outcome).await
            {
                tracing::warn!(error = %e, "while stopping");
            }
        }
        // An abandoned download's temporary file goes with its step (see `download::place`).
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.in_flight.clear();
        if let (Source::Shared(claims), Some(shared)) = (&mut self.source, self.ctx.store.shared())
            && let Err(e) = claims.release_all(shared).await
        {
            tracing::warn!(error = %e, "could not give the leases back; they expire on their own");
        }
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

    /// One turn's work before waiting: the source's (a page, or claims), then the due jobs.
    async fn turn(&mut self) -> Result<(), DriverError> {
        if self.finishing {
            // Only what the steps in flight need: their leases renewed (nothing claimed).
            return self.share().await;
        }
        self.load_page().await?;
        self.share().await?;
        self.dispatch().await
    }

    /// How long the loop may wait before its next turn.
    fn wait(&self) -> Duration {
        let now = Instant::now();
        let room = self.tasks.len() < self.concurrency() && !self.finishing;
        let mut until = now + Duration::from_secs(3600);
        if let Some(Reverse((at, _))) = self.heap.peek()
            && room
        {
            until = until.min(now + Duration::from_millis(at.since(clock::now()).max(1)));
        }
        if let Source::Shared(claims) = &self.source {
            let room = claims.count() < self.concurrency() && !self.finishing;
            until = until.min(claims.next_turn(room));
        }
        until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    /// Runs until idle (or, with `keep_going`, until shut down). Once `finish` says so, no
    /// step starts and nothing is claimed any more, and the run ends (interrupted, every lease
    /// given back) when the steps in flight ended.
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
        let live = self.live_selected().await?;
        self.summary.live_at_start = live;
        let _ = self.ctx.events.send(Event::RunStarted { live });
        loop {
            if *shutdown.borrow() {
                self.stop().await;
                self.summary.interrupted = true;
                return Ok(self.done(before));
            }
            self.finishing |= *finish.borrow();
            if self.finishing && self.tasks.is_empty() {
                self.stop().await;
                self.summary.interrupted = true;
                return Ok(self.done(before));
            }
            if let Err(e) = self.turn().await {
                self.stop().await;
                return Err(e);
            }
            match self.done_working().await {
                Ok(true) if !keep_going => return Ok(self.done(before)),
                Ok(_) => {}
                Err(e) => {
                    self.stop().await;
                    return Err(e);
                }
            }
            let loading = matches!(self.source, Source::Own(Loading::Next(_)));
            let wait = self.wait();
            let source = &self.source;
            let hint = async move {
                match source {
                    Source::Shared(claims) => claims.hint().await,
                    Source::Own(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(joined) = self.tasks.join_next() => {
                    let outcome = match joined {
                        Ok(outcome) => outcome,
                        Err(e) if e.is_cancelled() => {
                            self.forget_stopped(e.id());
                            continue;
                        }
                        Err(e) => {
                            self.stop().await;
                            return Err(DriverError::Config(format!("a job step panicked: {e}; please report this")));
                        }
                    };
                    if let Err(e) = self.finished(outcome).await {
                        self.stop().await;
                        return Err(e);
                    }
                }
                Some(id) = submitted.recv() => self.woken(id).await?,
                () = hint => {
                    if let Source::Shared(claims) = &mut self.source {
                        claims.claim_soon();
                    }
                }
                // More live jobs to plan: take the next page on the next turn, without waiting.
                () = std::future::ready(()), if loading && !self.finishing => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                _ = finish.changed(), if !self.finishing => {}
            }
        }
    }

    /// A job of this process was submitted or changed (a retry): plan it (one process's store),
    /// or claim soon (a shared store: it is claimed like any other).
    async fn woken(&mut self, id: JobId) -> Result<(), DriverError> {
        match &mut self.source {
            Source::Shared(claims) => claims.claim_soon(),
            Source::Own(_) => {
                // Changed by someone else than its step: read it again when it is due.
                self.known.remove(&id);
                if !self.in_flight.contains_key(&id)
                    && !self.planned.contains_key(&id)
                    && let Some(job) = self.ctx.store.get(id).await?
                    && self.selected(&job)
                {
                    self.schedule(&job);
                }
            }
        }
        Ok(())
    }

    /// Forgets the step of task `task`, stopped because its lease was lost: it ended without
    /// an outcome.
    fn forget_stopped(&mut self, task: tokio::task::Id) {
        let stopped = self
            .in_flight
            .iter()
            .find(|(_, flight)| flight.abort.id() == task)
            .map(|(id, flight)| (*id, flight.account.clone()));
        if let Some((id, account)) = stopped {
            self.settle_flight(id, &account);
        }
    }
}
