//! One module per command; [`dispatch`] runs the one the user asked for.

pub mod control;
pub mod demo;
pub mod history;
pub mod purge;
pub mod reports;
pub mod run;
pub mod scope;
pub mod serve;
pub mod sim;
pub mod status;
pub mod submit;

use crate::cli::{Command, SubmitCommand};
use crate::context::Context;
use crate::error::{CliError, Outcome};

/// Runs `command`.
pub async fn dispatch(ctx: &Context, command: &Command) -> Result<Outcome, CliError> {
    match command {
        Command::Reports(c) => reports::reports(ctx, c).await,
        Command::Submit(SubmitCommand::Report(args)) => submit::report(ctx, args).await,
        Command::Submit(SubmitCommand::Billing(args)) => submit::billing(ctx, args).await,
        Command::Submit(SubmitCommand::Batch(args)) => submit::batch(ctx, args).await,
        Command::Run(args) => run::run(ctx, args).await,
        Command::Serve(args) => serve::serve(ctx, args).await,
        Command::Status(args) => status::status(ctx, args).await,
        Command::History(args) => history::history(ctx, args).await,
        Command::Retry(args) => control::retry(ctx, args).await,
        Command::Cancel(args) => control::cancel(ctx, args).await,
        Command::Purge(args) => purge::purge(ctx, args).await,
        Command::Demo(args) => demo::demo(ctx, args).await,
        Command::Sim(args) => sim::sim(ctx, args).await,
    }
}
