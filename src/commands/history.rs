//! `history`: a job's transitions, oldest first.

use crate::cli::JobArg;
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::output::{Table, print, print_json, rfc3339, short_time};
use reportflow_driver::DriverError;
use serde::Serialize;

#[derive(Serialize)]
struct StepView {
    seq: u64,
    at: String,
    from: Option<&'static str>,
    to: &'static str,
    input: String,
    /// On a shared store: the worker that wrote the step (`<host>-<pid>-<start>`), and the
    /// lease token it held; absent for the submit, a user's command, and on a sled store.
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_token: Option<u64>,
}

/// `history`. On a shared store each step also names the worker that wrote it: the host that
/// wrote a job's file is the worker of its `file-stored` step.
pub async fn history(ctx: &Context, args: &JobArg) -> Result<Outcome, CliError> {
    let store = ctx
        .open_existing_store()
        .await?
        .ok_or_else(|| DriverError::UnknownJob(args.job.clone()))?;
    let job = store.job(&args.job).await?;
    let steps = store.history_with_leases(job.id).await?;
    if ctx.global.json {
        let views: Vec<StepView> = steps
            .iter()
            .map(|s| StepView {
                seq: s.transition.seq,
                at: rfc3339(s.transition.at),
                from: s.transition.from.map(|f| f.as_str()),
                to: s.transition.to.as_str(),
                input: s.transition.input.clone(),
                worker: s.lease.as_ref().map(|(w, _)| w.to_string()),
                lease_token: s.lease.as_ref().map(|(_, t)| *t),
            })
            .collect();
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let shared = ctx.store().is_shared();
    let mut headers = vec!["SEQ", "AT (UTC)", "FROM", "TO"];
    if shared {
        headers.push("WORKER");
    }
    headers.push("INPUT");
    let mut table = Table::new(&headers);
    for step in &steps {
        let s = &step.transition;
        let mut row = vec![
            s.seq.to_string(),
            short_time(s.at),
            s.from.map_or("-", |f| f.as_str()).to_string(),
            s.to.as_str().to_string(),
        ];
        if shared {
            row.push(match &step.lease {
                Some((worker, token)) => format!("{worker} #{token}"),
                None => "-".to_string(),
            });
        }
        row.push(s.input.clone());
        table.row(row);
    }
    print(&format!(
        "job {} (key {}), {} now\n{}",
        job.id,
        job.key,
        job.state.name(),
        table.render()
    ));
    Ok(Outcome::Success)
}
