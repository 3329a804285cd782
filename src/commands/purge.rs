//! `purge`: removes ended jobs (never live ones, never files on disk).

use crate::cli::PurgeArgs;
use crate::context::Context;
use crate::error::{CliError, Outcome};
use crate::output::{print, print_json};
use serde_json::json;
use std::time::Duration;

/// `purge`.
pub async fn purge(ctx: &Context, args: &PurgeArgs) -> Result<Outcome, CliError> {
    let report = match ctx.open_existing_store().await? {
        Some(store) => {
            store
                .purge(Duration::from_secs(u64::from(args.older_than) * 86_400))
                .await?
        }
        None => Default::default(),
    };
    if ctx.global.json {
        let ids: Vec<u64> = report.ids.iter().map(|id| id.0).collect();
        print_json(&json!({
            "jobs": report.jobs,
            "history_records": report.history_records,
            "ids": ids,
        }))?;
    } else {
        print(&format!(
            "purged {} job(s) ({} history records) that ended more than {} day(s) ago\n",
            report.jobs, report.history_records, args.older_than
        ));
    }
    Ok(Outcome::Success)
}
