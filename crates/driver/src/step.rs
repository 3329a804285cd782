//! Carrying out one effect of one job, and recording what happened.

use crate::api::Api;
use crate::call::CallError;
use crate::clock;
use crate::download::{download, remove_part};
use crate::error::DriverError;
use crate::events::Event;
use crate::layout::FileLayout;
use crate::reconcile;
use crate::writer::Writer;
use reportflow_core::{Effect, Input, Job, JobSpec};
use reportflow_store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What the engine works with.
pub(crate) struct Ctx {
    /// The job store.
    pub store: Arc<Store>,
    /// Records the steps of running jobs in batches (see [`Writer`]).
    pub writer: Writer,
    /// The upstream.
    pub api: Api,
    /// Where files go (absolute).
    pub out_dir: PathBuf,
    /// Where under `out_dir` (flat when `None`).
    pub layout: Option<FileLayout>,
    /// Where events go.
    pub events: broadcast::Sender<Event>,
}

/// How a step ended.
pub(crate) enum Stepped {
    /// The job was carried forward; its next effect says what comes next.
    Moved(Job),
    /// A create's answer was lost (or the upstream was unreachable); try again after a pause.
    Unconfirmed(Job, String),
}

impl Ctx {
    /// Records `input` for `job` in the store and tells the listeners.
    pub(crate) fn record(&self, job: &Job, input: Input) -> Result<Job, DriverError> {
        let next = self.store.apply(job.id, job.version, input, clock::now())?;
        self.announce(job, &next);
        Ok(next)
    }

    /// Logs and tells the listeners when a step changed the job's state.
    fn announce(&self, job: &Job, next: &Job) {
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
    }
}

/// Records `input` for `job` through the store writer: the runtime never waits for the disk,
/// and the steps of concurrent jobs share transactions and flushes.
async fn save(ctx: &Arc<Ctx>, job: &Job, input: Input) -> Result<Job, DriverError> {
    let next = ctx.writer.apply(job.id, job.version, input).await?;
    ctx.announce(job, &next);
    Ok(next)
}

async fn moved(ctx: &Arc<Ctx>, job: &Job, input: Input) -> Result<Stepped, DriverError> {
    save(ctx, job, input).await.map(Stepped::Moved)
}

/// Records the outcome of a call that went wrong in a way the job must hear of: a gone
/// output, a file not ready yet (where the state allows it), or a failure.
async fn settle(ctx: &Arc<Ctx>, job: &Job, error: CallError) -> Result<Stepped, DriverError> {
    let has_upstream = job.state.upstream().is_some();
    match error {
        CallError::Gone(reason) if has_upstream => {
            moved(ctx, job, Input::OutputGone { reason }).await
        }
        CallError::NotReady(_) if has_upstream => moved(ctx, job, Input::FileNotReady).await,
        other => {
            let failure = other.into_failure()?;
            tracing::warn!(job = %job.id, reason = %failure, "job failed");
            moved(ctx, job, Input::PermanentError { failure }).await
        }
    }
}

/// Carries out `job`'s current effect (a due poll, a create, a reconciliation or a download).
pub(crate) async fn step(ctx: &Arc<Ctx>, job: Job) -> Result<Stepped, DriverError> {
    match job.effect() {
        Effect::None => Ok(Stepped::Moved(job)),
        Effect::Create => create(ctx, job).await,
        Effect::Reconcile { since } => {
            let JobSpec::Account(spec) = &job.spec else {
                return Ok(Stepped::Moved(job));
            };
            match reconcile::find(&ctx.api, job.id, spec, since).await {
                Ok(Some(location)) => {
                    tracing::info!(job = %job.id, %location, "reconciled: the instance exists upstream");
                    moved(ctx, &job, Input::CreateAccepted { location }).await
                }
                Ok(None) => moved(ctx, &job, Input::ReconcileFoundNothing).await,
                Err(e) => settle(ctx, &job, e).await,
            }
        }
        Effect::Poll { location, .. } => {
            match ctx.api.status(job.id, job.kind(), &location).await {
                Ok(raw) | Err(CallError::NotReady(raw)) => {
                    moved(ctx, &job, Input::StatusSeen { raw }).await
                }
                Err(e) => settle(ctx, &job, e).await,
            }
        }
        Effect::Download { location } => {
            remove_part(&ctx.out_dir, job.id)?;
            let result = download(
                &ctx.api,
                &job,
                &location,
                &ctx.out_dir,
                ctx.layout.as_ref(),
                &ctx.events,
            )
            .await;
            if result.is_err() {
                remove_part(&ctx.out_dir, job.id)?;
            }
            match result {
                Ok(file) => moved(ctx, &job, Input::FileStored { file }).await,
                Err(e) => settle(ctx, &job, e).await,
            }
        }
    }
}

async fn create(ctx: &Arc<Ctx>, job: Job) -> Result<Stepped, DriverError> {
    let job = save(ctx, &job, Input::CreateSending).await?;
    let created = match &job.spec {
        JobSpec::Account(spec) => ctx.api.create_instance(job.id, spec).await.map(Some),
        JobSpec::Billing(spec) => ctx.api.create_billing(job.id, spec).await,
    };
    match created {
        Ok(Some(location)) => moved(ctx, &job, Input::CreateAccepted { location }).await,
        Ok(None) => moved(ctx, &job, Input::CreateNoData).await,
        Err(CallError::Unconfirmed(reason)) => Ok(Stepped::Unconfirmed(job, reason)),
        Err(e) => settle(ctx, &job, e).await,
    }
}
