//! Carrying out one effect of one job, and recording what happened through the store
//! interface; what to do after a failure is the core's decision, fed back as an input. On a
//! shared store every step is written under the job's lease ([`Held`]), and nothing that cannot
//! be taken back (a create sent, a file placed) happens unless the lease surely outlasts it.

use crate::api::Api;
use crate::call::{CallError, describe};
use crate::clock;
use crate::download::{Destination, DownloadWrites, download};
use crate::error::DriverError;
use crate::events::Event;
use crate::held::Held;
use crate::layout::FileLayout;
use crate::reconcile;
use reportflow_core::{Effect, Input, Job, JobSpec, StateName};
use reportflow_store::{JobStore, Step};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What the engine works with.
pub(crate) struct Ctx {
    /// The job store. The sled backend batches the steps of concurrent jobs into shared
    /// transactions and flushes on its own (behind the interface).
    pub store: Arc<dyn JobStore>,
    /// The upstream.
    pub api: Api,
    /// Where files go (absolute).
    pub out_dir: PathBuf,
    /// Where under `out_dir` (flat when `None`).
    pub layout: Option<FileLayout>,
    /// How downloads are written.
    pub writes: DownloadWrites,
    /// Where events go.
    pub events: broadcast::Sender<Event>,
    /// On a shared store: the longest a create request may take once its intent is recorded
    /// (`EngineConfig::create_window`); the lease must outlast it.
    pub create_window: Duration,
    /// On a shared store: how long a lease must surely last to place a downloaded file.
    pub place_margin: Duration,
}

impl Ctx {
    /// Logs and tells the listeners what a step did: a change of state, or a wait the core
    /// asked for after a failure.
    fn announce(&self, job: &Job, input: &Input, next: &Job) {
        let (from, to) = (job.state.name(), next.state.name());
        if from != to {
            self.api.counters.transition(from, to);
            tracing::info!(job = %job.id, key = %job.key, %from, %to, "job changed");
            let _ = self.events.send(Event::Changed {
                id: job.id,
                key: job.key.to_string(),
                from,
                to,
            });
        }
        if let (Input::StepFailed { reason } | Input::CreateUnanswered { reason }, Some(due)) =
            (input, next.effect().due())
        {
            self.api.counters.retry();
            let delay = std::time::Duration::from_millis(due.since(clock::now()));
            let what = match next.effect() {
                Effect::Create { .. } => "the create",
                Effect::Reconcile { .. } => "the search of the instance listing",
                Effect::Poll { .. } => "the status request",
                Effect::Download { .. } => "the download",
                Effect::None => "the step",
            };
            crate::events::announce_retry(&self.events, job.id, what, reason, delay);
        } else if let reportflow_core::JobState::Failed { failure } = &next.state {
            tracing::warn!(job = %job.id, reason = %failure, "job failed");
        }
    }
}

/// The lease a step of one job is written under (none on a store one process holds).
#[derive(Clone, Copy)]
pub(crate) struct Under<'a>(pub Option<&'a Held>);

impl Under<'_> {
    /// Whether this worker may still act on the job for `span` (always, without a lease).
    pub(crate) fn holds_for(&self, span: Duration) -> bool {
        self.0.is_none_or(|held| held.holds_for(span))
    }
}

/// Records `inputs` for `job`, in order, in one store call (under its lease, which the write
/// renews, required to last `must_last` from the write): the steps are stored, and durable at
/// the design's durability points, when this returns. Returns the job after the last one.
async fn save_lasting(
    ctx: &Arc<Ctx>,
    job: &Job,
    inputs: Vec<Input>,
    under: Under<'_>,
    must_last: Duration,
) -> Result<Job, DriverError> {
    let asked = Instant::now();
    let lease = under.0.map(|held| held.step_lease(must_last));
    // Each step expects the version the one before it makes (every step adds one).
    let steps: Vec<Step> = (0u64..)
        .zip(&inputs)
        .map(|(n, input)| Step::new(job.id, job.version + n, input.clone()).under(lease.clone()))
        .collect();
    let applied = ctx.store.apply_many(&steps, clock::now()).await?;
    if applied.len() != inputs.len() {
        return Err(DriverError::Store(reportflow_store::StoreError::Internal {
            store: ctx.store.describe(),
            detail: format!(
                "{} steps of job {} recorded, {} answered",
                inputs.len(),
                job.id,
                applied.len()
            ),
        }));
    }
    let mut before = job.clone();
    for (input, applied) in inputs.iter().zip(applied) {
        let applied = applied?;
        if let (Some(held), Some(remaining)) = (under.0, applied.lease_remaining) {
            held.renewed(asked, remaining);
        }
        ctx.announce(&before, input, &applied.job);
        before = applied.job;
    }
    Ok(before)
}

/// Records `input` for `job` under its lease (see [`save_lasting`]).
async fn save(
    ctx: &Arc<Ctx>,
    job: &Job,
    input: Input,
    under: Under<'_>,
) -> Result<Job, DriverError> {
    save_lasting(ctx, job, vec![input], under, Duration::ZERO).await
}

/// The input that reports a failed call to the core: a gone output or a file not ready yet
/// (where the state allows them), a create without an answer, a failure that may pass, or a
/// refusal for good. A local failure (the disk) stops the step instead: the job stays as it is.
fn input_of(job: &Job, error: CallError) -> Result<Input, DriverError> {
    let has_upstream = job.state.upstream().is_some();
    Ok(match error {
        CallError::Gone(reason) if has_upstream => Input::OutputGone { reason },
        CallError::NotReady(_) if has_upstream => Input::FileNotReady,
        CallError::Unconfirmed(reason) => Input::CreateUnanswered { reason },
        e @ (CallError::NotSent(_)
        | CallError::Ambiguous(_)
        | CallError::Transient(_)
        | CallError::RateLimited(_)) => Input::StepFailed {
            reason: describe(&e),
        },
        other => Input::PermanentError {
            failure: other.into_failure()?,
        },
    })
}

/// Records the outcome of a call that went wrong.
async fn settle(
    ctx: &Arc<Ctx>,
    job: &Job,
    error: CallError,
    under: Under<'_>,
) -> Result<Job, DriverError> {
    save(ctx, job, input_of(job, error)?, under).await
}

/// Carries out `job`'s current effect (a create, a search of the instance listing, a poll or a
/// download) under its lease `held` (on a shared store) and returns the job as recorded after
/// it.
pub(crate) async fn step(
    ctx: &Arc<Ctx>,
    job: Job,
    held: Option<&Held>,
) -> Result<Job, DriverError> {
    let under = Under(held);
    match job.effect() {
        Effect::None => Ok(job),
        Effect::Create { .. } => create(ctx, job, under).await,
        Effect::Reconcile { since, .. } => {
            let JobSpec::Account(spec) = &job.spec else {
                return Ok(job);
            };
            match reconcile::find(&ctx.api, job.id, spec, since).await {
                Ok(Some(location)) => {
                    tracing::info!(job = %job.id, %location, "reconciled: the instance exists upstream");
                    save(ctx, &job, Input::CreateAccepted { location }, under).await
                }
                Ok(None) => save(ctx, &job, Input::ReconcileFoundNothing, under).await,
                Err(e) => settle(ctx, &job, e, under).await,
            }
        }
        Effect::Poll { location, .. } => {
            let seen = match ctx.api.status(job.id, job.kind(), &location).await {
                Ok((progress, raw)) => Input::StatusSeen { progress, raw },
                Err(CallError::NotReady(raw)) => {
                    let progress = reportflow_core::Progress::NotReady;
                    Input::StatusSeen { progress, raw }
                }
                Err(e) => return settle(ctx, &job, e, under).await,
            };
            let now = clock::now();
            match job.apply(seen.clone(), now) {
                Ok(ready) if Job::may_ride_along(&job, &ready, now) => {
                    download_riding(ctx, job, seen, ready, under).await
                }
                _ => save(ctx, &job, seen, under).await,
            }
        }
        Effect::Download { location, .. } => {
            let outcome = fetch_file(ctx, &job, &location, under).await?;
            save(ctx, &job, outcome, under).await
        }
    }
}

/// Downloads the file of `ready` (the job once `seen` is applied to `job`, not yet recorded)
/// and records both steps in one write, when the download ends within
/// [`Job::RIDE_ALONG_MS`]; a longer one has the status recorded at that moment, so that the
/// store shows the job ready while its file streams, and the download's outcome after it.
async fn download_riding(
    ctx: &Arc<Ctx>,
    job: Job,
    seen: Input,
    ready: Job,
    under: Under<'_>,
) -> Result<Job, DriverError> {
    let Effect::Download { location, .. } = ready.effect() else {
        return save(ctx, &job, seen, under).await;
    };
    let fetching = fetch_file(ctx, &ready, &location, under);
    tokio::pin!(fetching);
    let window = Duration::from_millis(Job::RIDE_ALONG_MS);
    let outcome = tokio::select! {
        outcome = &mut fetching => outcome?,
        () = tokio::time::sleep(window) => {
            let ready = save(ctx, &job, seen, under).await?;
            let outcome = fetching.await?;
            return save(ctx, &ready, outcome, under).await;
        }
    };
    save_lasting(ctx, &job, vec![seen, outcome], under, Duration::ZERO).await
}

/// Downloads the file of `job` (whose effect is a download of `location`) and returns what the
/// core is to hear: the stored file, or how the download failed. A lease about to end stops
/// the step instead ([`DriverError::LeaseEnding`]): the job is left to its next holder.
async fn fetch_file(
    ctx: &Arc<Ctx>,
    job: &Job,
    location: &str,
    under: Under<'_>,
) -> Result<Input, DriverError> {
    // A file goes under its final name only while the lease surely holds: a worker that lost
    // its lease (paused past it, say) leaves the file to the job's new holder.
    let holds = || under.holds_for(ctx.place_margin);
    let lease = under.0.map(|held| (held.lease().token, &holds as _));
    let started = Instant::now();
    let result = download(
        &ctx.api,
        job,
        location,
        Destination {
            out_dir: &ctx.out_dir,
            layout: ctx.layout.as_ref(),
            writes: ctx.writes,
        },
        &ctx.events,
        lease,
    )
    .await;
    ctx.api.counters.download_took(started.elapsed());
    match result {
        Ok(file) => Ok(Input::FileStored { file }),
        Err(CallError::Local(DriverError::LeaseEnding { .. })) => {
            Err(DriverError::LeaseEnding { id: job.id })
        }
        Err(e) => input_of(job, e),
    }
}

/// Counts the create (durably), then sends it, if the core still wants it sent. The
/// credentials are made ready first: a create that cannot go out is not counted.
///
/// On a shared store the intent is recorded under the lease, which must last the create's
/// longest time (`create_window`) from the write, and the request is sent only if the lease,
/// counted from before that write, still covers the whole request; otherwise nothing is sent
/// ([`DriverError::LeaseEnding`]) and the job is left for whoever holds it next (the intent
/// costs one unconfirmed create, searched for or counted as after a crash). The request is
/// then given at most that window.
async fn create(ctx: &Arc<Ctx>, job: Job, under: Under<'_>) -> Result<Job, DriverError> {
    if let Err(e) = ctx.api.authorize().await {
        return settle(ctx, &job, e, under).await;
    }
    let window = ctx.create_window;
    let job = save_lasting(ctx, &job, vec![Input::CreateSending], under, window).await?;
    if job.state.name() != StateName::Requested {
        // The create budget was spent (a create lost to a crash was the last one).
        return Ok(job);
    }
    let created = match under.0 {
        None => create_call(&ctx.api, &job).await,
        Some(_) if !under.holds_for(window) => {
            tracing::warn!(job = %job.id, "the lease would not outlast the create request: nothing sent; the job is left to its next holder");
            return Err(DriverError::LeaseEnding { id: job.id });
        }
        Some(_) => tokio::time::timeout(window, create_call(&ctx.api, &job))
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Unconfirmed(format!(
                    "the create request had no answer within {} ms (the most a create may take under a {} lease)",
                    window.as_millis(),
                    "shared store's"
                )))
            }),
    };
    match created {
        Ok(Some(location)) => save(ctx, &job, Input::CreateAccepted { location }, under).await,
        Ok(None) => save(ctx, &job, Input::CreateNoData, under).await,
        Err(e) => settle(ctx, &job, e, under).await,
    }
}

/// The create request of `job`'s family: its location, or `None` for "no data".
async fn create_call(api: &Api, job: &Job) -> Result<Option<String>, CallError> {
    match &job.spec {
        JobSpec::Account(spec) => api.create_instance(spec).await.map(Some),
        JobSpec::Billing(spec) => api.create_billing(spec).await,
    }
}
