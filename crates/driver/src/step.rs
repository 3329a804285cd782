//! Carrying out one effect of one job, and recording what happened.

use crate::api::Api;
use crate::call::CallError;
use crate::clock;
use crate::download::{download, remove_part};
use crate::error::DriverError;
use crate::events::Event;
use crate::reconcile;
use reportflow_core::{Effect, Failure, Input, Job, JobSpec};
use reportflow_store::Store;
use std::path::PathBuf;
use tokio::sync::broadcast;

/// What the engine works with.
pub(crate) struct Ctx {
    /// The job store.
    pub store: Store,
    /// The upstream.
    pub api: Api,
    /// Where files go (absolute).
    pub out_dir: PathBuf,
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
        Ok(next)
    }

    fn fail(&self, job: &Job, failure: Failure) -> Result<Stepped, DriverError> {
        tracing::warn!(job = %job.id, reason = %failure, "job failed");
        self.record(job, Input::PermanentError { failure })
            .map(Stepped::Moved)
    }

    /// Records the outcome of a call that went wrong in a way the job must hear of.
    fn settle(&self, job: &Job, error: CallError) -> Result<Stepped, DriverError> {
        match error {
            CallError::Gone(reason) => self
                .record(job, Input::OutputGone { reason })
                .map(Stepped::Moved),
            CallError::NotReady(_) => self.record(job, Input::FileNotReady).map(Stepped::Moved),
            other => {
                let failure = other.into_failure()?;
                self.fail(job, failure)
            }
        }
    }
}

/// Carries out `job`'s current effect (a due poll, a create, a reconciliation or a download).
pub(crate) async fn step(ctx: &Ctx, job: Job) -> Result<Stepped, DriverError> {
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
                    ctx.record(&job, Input::CreateAccepted { location })
                        .map(Stepped::Moved)
                }
                Ok(None) => ctx
                    .record(&job, Input::ReconcileFoundNothing)
                    .map(Stepped::Moved),
                Err(e) => ctx.settle(&job, e),
            }
        }
        Effect::Poll { location, .. } => {
            match ctx.api.status(job.id, job.kind(), &location).await {
                Ok(raw) => ctx
                    .record(&job, Input::StatusSeen { raw })
                    .map(Stepped::Moved),
                Err(CallError::NotReady(raw)) => ctx
                    .record(&job, Input::StatusSeen { raw })
                    .map(Stepped::Moved),
                Err(e) => ctx.settle(&job, e),
            }
        }
        Effect::Download { location } => {
            remove_part(&ctx.out_dir, job.id)?;
            let result = download(&ctx.api, &job, &location, &ctx.out_dir, &ctx.events).await;
            if result.is_err() {
                remove_part(&ctx.out_dir, job.id)?;
            }
            match result {
                Ok(file) => ctx
                    .record(&job, Input::FileStored { file })
                    .map(Stepped::Moved),
                Err(e) => ctx.settle(&job, e),
            }
        }
    }
}

async fn create(ctx: &Ctx, job: Job) -> Result<Stepped, DriverError> {
    let job = ctx.record(&job, Input::CreateSending)?;
    let created = match &job.spec {
        JobSpec::Account(spec) => ctx.api.create_instance(job.id, spec).await.map(Some),
        JobSpec::Billing(spec) => ctx.api.create_billing(job.id, spec).await,
    };
    match created {
        Ok(Some(location)) => ctx
            .record(&job, Input::CreateAccepted { location })
            .map(Stepped::Moved),
        Ok(None) => ctx.record(&job, Input::CreateNoData).map(Stepped::Moved),
        Err(CallError::Unconfirmed(reason)) => Ok(Stepped::Unconfirmed(job, reason)),
        Err(e) => ctx.settle(&job, e),
    }
}
