//! `reportflow`: durable, resumable downloads of Bandwidth account and billing reports.
//!
//! `main` parses the command line (clap exits 2 on usage errors), sets up logging and the
//! runtime, runs the command and turns its result into the exit code documented in `--help`:
//! 0 success, 1 runtime error, 2 usage or input error, 3 some job ended unsuccessfully.

mod cli;
mod commands;
mod context;
mod control;
mod credentials;
mod error;
mod extract;
mod http_endpoints;
mod logging;
mod manifest;
mod output;
mod progress;
mod shell;
mod signals;

use clap::Parser;
use reportflow::batch;
use std::process::ExitCode;
use std::time::Duration;

/// mimalloc, without transparent huge pages (`src/allocator.rs`).
#[global_allocator]
static ALLOCATOR: reportflow::allocator::Allocator = reportflow::allocator::ALLOCATOR;

fn main() -> ExitCode {
    reportflow::allocator::settle();
    let cli = cli::Cli::parse();
    // A service's logs are its only output: JSON lines with --json.
    let json_logs = cli.global.json
        && match &cli.command {
            cli::Command::Serve(_) => true,
            cli::Command::Run(run) => run.watch,
            _ => false,
        };
    logging::init(cli.global.verbose, cli.global.quiet, json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!(
                "error: cannot start the async runtime: {e}; check the process's thread limits"
            );
            return ExitCode::from(error::EXIT_RUNTIME);
        }
    };
    let ctx = context::Context::new(cli.global.clone());
    let result = runtime.block_on(commands::dispatch(&ctx, &cli.command));
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            for line in e.lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
