//! Carrying out one effect of one job, and recording what happened. Every record goes through
//! the store writer ([`Writer`]); what to do after a failure is the core's decision, fed back
//! as an input.

use crate::api::Api;
use crate::call::{CallError, describe};
use crate::clock;
use crate::download::{DownloadWrites, download};
use crate::error::DriverError;
use crate::events::Event;
use crate::layout::FileLayout;
use crate::reconcile;
use crate::writer::Writer;
use reportflow_core::{Effect, Input, Job, JobSpec, StateName};
use reportflow_store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What the engine works with.
pub(crate) struct Ctx {
    /// The job store (read here; written through `writer`).
    pub store: Arc<Store>,
    /// Records the steps of running jobs in batches (see [`Writer`]).
    pub writer: Writer,
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
}

impl Ctx {
    /// Logs and tells the listeners what a step did: a change of state, or a wait the core
    /// asked for after a failure.
    fn announce(&self, job: &Job, input: &Input, next: &Job) {
        let (from, to) = (job.state.name(), next.state.name());
        if from != to {
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

/// Records `input` for `job` through the store writer: the runtime never waits for the disk,
/// and the steps of concurrent jobs share transactions and flushes.
async fn save(ctx: &Arc<Ctx>, job: &Job, input: Input) -> Result<Job, DriverError> {
    let next = ctx.writer.apply(job.id, job.version, input.clone()).await?;
    ctx.announce(job, &input, &next);
    Ok(next)
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
async fn settle(ctx: &Arc<Ctx>, job: &Job, error: CallError) -> Result<Job, DriverError> {
    save(ctx, job, input_of(job, error)?).await
}

/// Carries out `job`'s current effect (a create, a search of the instance listing, a poll or a
/// download) and returns the job as recorded after it.
pub(crate) async fn step(ctx: &Arc<Ctx>, job: Job) -> Result<Job, DriverError> {
    match job.effect() {
        Effect::None => Ok(job),
        Effect::Create { .. } => create(ctx, job).await,
        Effect::Reconcile { since, .. } => {
            let JobSpec::Account(spec) = &job.spec else {
                return Ok(job);
            };
            match reconcile::find(&ctx.api, job.id, spec, since).await {
                Ok(Some(location)) => {
                    tracing::info!(job = %job.id, %location, "reconciled: the instance exists upstream");
                    save(ctx, &job, Input::CreateAccepted { location }).await
                }
                Ok(None) => save(ctx, &job, Input::ReconcileFoundNothing).await,
                Err(e) => settle(ctx, &job, e).await,
            }
        }
        Effect::Poll { location, .. } => {
            match ctx.api.status(job.id, job.kind(), &location).await {
                Ok((progress, raw)) => save(ctx, &job, Input::StatusSeen { progress, raw }).await,
                Err(CallError::NotReady(raw)) => {
                    let progress = reportflow_core::Progress::NotReady;
                    save(ctx, &job, Input::StatusSeen { progress, raw }).await
                }
                Err(e) => settle(ctx, &job, e).await,
            }
        }
        Effect::Download { location, .. } => {
            let result = download(
                &ctx.api,
                &job,
                &location,
                &ctx.out_dir,
                ctx.layout.as_ref(),
                ctx.writes,
                &ctx.events,
            )
            .await;
            match result {
                Ok(file) => save(ctx, &job, Input::FileStored { file }).await,
                Err(e) => settle(ctx, &job, e).await,
            }
        }
    }
}

/// Counts the create (durably), then sends it, if the core still wants it sent. The
/// credentials are made ready first: a create that cannot go out is not counted.
async fn create(ctx: &Arc<Ctx>, job: Job) -> Result<Job, DriverError> {
    if let Err(e) = ctx.api.authorize().await {
        return settle(ctx, &job, e).await;
    }
    let job = save(ctx, &job, Input::CreateSending).await?;
    if job.state.name() != StateName::Requested {
        // The create budget was spent (a create lost to a crash was the last one).
        return Ok(job);
    }
    let created = create_call(&ctx.api, &job).await;
    match created {
        Ok(Some(location)) => save(ctx, &job, Input::CreateAccepted { location }).await,
        Ok(None) => save(ctx, &job, Input::CreateNoData).await,
        Err(e) => settle(ctx, &job, e).await,
    }
}

/// The create request of `job`'s family: its location, or `None` for "no data".
async fn create_call(api: &Api, job: &Job) -> Result<Option<String>, CallError> {
    match &job.spec {
        JobSpec::Account(spec) => api.create_instance(spec).await.map(Some),
        JobSpec::Billing(spec) => api.create_billing(spec).await,
    }
}
