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
}

/// `history`.
pub fn history(ctx: &Context, args: &JobArg) -> Result<Outcome, CliError> {
    let store = ctx
        .open_existing_store()?
        .ok_or_else(|| DriverError::UnknownJob(args.job.clone()))?;
    let job = store.job(&args.job)?;
    let steps = store.history(job.id)?;
    if ctx.global.json {
        let views: Vec<StepView> = steps
            .iter()
            .map(|s| StepView {
                seq: s.seq,
                at: rfc3339(s.at),
                from: s.from.map(|f| f.as_str()),
                to: s.to.as_str(),
                input: s.input.clone(),
            })
            .collect();
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let mut table = Table::new(&["SEQ", "AT (UTC)", "FROM", "TO", "INPUT"]);
    for s in &steps {
        table.row(vec![
            s.seq.to_string(),
            short_time(s.at),
            s.from.map_or("-", |f| f.as_str()).to_string(),
            s.to.as_str().to_string(),
            s.input.clone(),
        ]);
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
