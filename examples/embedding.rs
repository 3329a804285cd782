//! Using the reportflow engine from a Rust pipeline: submit the night's reports, drive them to
//! the end (resuming whatever a crashed run left), and act on the result.
//!
//! Try it against the simulator:
//!
//! ```sh
//! cargo run -- sim --port 8085 &
//! REPORTFLOW_BASE_URL=http://127.0.0.1:8085/api BANDWIDTH_ACCOUNT_ID=9900000 \
//!   BANDWIDTH_USERNAME=demo BANDWIDTH_PASSWORD=demo-secret \
//!   cargo run --example embedding
//! ```
//!
//! The store is a directory (one process at a time) or a PostgreSQL URL shared by any number of
//! such pipelines and workers (`REPORTFLOW_STORE=postgres://user@host/db`, the password from
//! `PGPASSWORD`); the code is the same for both.
//!
//! `docs/embedding.md` walks through it; `tests/embedding.rs` runs [`nightly`] against the
//! simulator, on both kinds of store.

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, JobKey, JobSpec, JobState, OutputFormat,
};
use reportflow_driver::{Credentials, Engine, EngineConfig, Event, RunSummary, StoreLocation};
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the pipeline keeps its jobs and files, and whom it talks to.
pub struct Settings {
    /// The job store: a directory (one process at a time) or a PostgreSQL URL (shared).
    pub store: StoreLocation,
    /// Where report files go.
    pub out_dir: PathBuf,
    /// The API base URL.
    pub base_url: String,
    /// The Bandwidth account.
    pub account: String,
    /// Basic or OAuth2 credentials (never stored, never logged).
    pub credentials: Credentials,
    /// The day the night's reports are about.
    pub day: Date,
}

impl Settings {
    /// Settings from the same environment variables the CLI reads.
    pub fn from_env() -> Result<Settings, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credentials = match (
            var("BANDWIDTH_CLIENT_ID"),
            var("BANDWIDTH_CLIENT_SECRET"),
            var("BANDWIDTH_USERNAME"),
            var("BANDWIDTH_PASSWORD"),
        ) {
            (Some(client_id), Some(client_secret), _, _) => Credentials::OAuth2 {
                client_id,
                client_secret,
                token_url: var("BANDWIDTH_TOKEN_URL")
                    .unwrap_or_else(|| reportflow_driver::DEFAULT_TOKEN_URL.to_string()),
            },
            (_, _, Some(username), Some(password)) => Credentials::Basic { username, password },
            _ => return Err("set BANDWIDTH_USERNAME and BANDWIDTH_PASSWORD (or BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET)".into()),
        };
        let today = reportflow_driver::today();
        Ok(Settings {
            store: StoreLocation::from(
                var("REPORTFLOW_STORE").unwrap_or_else(|| "./reportflow-store".into()),
            )
            .with_password(var("PGPASSWORD")),
            out_dir: var("REPORTFLOW_OUT")
                .unwrap_or_else(|| "./reports".into())
                .into(),
            base_url: var("REPORTFLOW_BASE_URL")
                .unwrap_or_else(|| "https://dashboard.bandwidth.com/api".into()),
            account: var("BANDWIDTH_ACCOUNT_ID").ok_or("set BANDWIDTH_ACCOUNT_ID")?,
            credentials,
            day: today.yesterday().map_err(|e| e.to_string())?,
        })
    }
}

/// What a night produced.
pub struct Night {
    /// What the run did.
    pub summary: RunSummary,
    /// The files downloaded for the night's jobs (absolute paths).
    pub files: Vec<PathBuf>,
}

/// The night's work: yesterday's call records and today's number inventory.
pub async fn nightly(settings: Settings) -> Result<Night, Box<dyn Error>> {
    let mut config = EngineConfig::new(settings.store, &settings.out_dir, &settings.base_url);
    config.credentials = Some(settings.credentials);
    // One engine per process: on a directory it holds the store's lock until it is dropped; on
    // PostgreSQL it is one worker among any number.
    let engine = Engine::open(config).await?;

    // Submitting is idempotent on the key: a pipeline re-run after a crash finds the same
    // jobs instead of creating new reports.
    let day = settings.day;
    let bdr = engine
        .submit(
            JobSpec::Billing(BillingReportSpec {
                account: settings.account.clone(),
                report_type: "BDR".into(),
                start: day,
                end: day,
            }),
            Some(JobKey::user(&format!("bdr-{day}"))?),
        )
        .await?;
    let inventory = engine
        .submit(
            JobSpec::Account(AccountReportSpec {
                account: settings.account.clone(),
                report_id: 4,
                format: OutputFormat::Csv,
                params: BTreeMap::from([(
                    "AccountId".to_string(),
                    BTreeSet::from([settings.account.clone()]),
                )]),
                expires_at: None,
            }),
            Some(JobKey::user(&format!("inventory-{day}"))?),
        )
        .await?;

    // Optional: follow what the engine does (events are for display; slow readers may miss some).
    let mut events = engine.events();
    let listener = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let Event::Changed { key, from, to, .. } = event {
                eprintln!("{key}: {from} -> {to}");
            }
        }
    });

    // Drive every live job (these two and any a crashed run left) to its end; on a shared store
    // until no job of the store is live, whichever worker steps it.
    let summary = engine.run_until_idle().await?;
    listener.abort();

    // Act on the result: each job ended with exactly one verified file, or a recorded reason.
    let mut files = Vec::new();
    for id in [bdr.job.id, inventory.job.id] {
        let job = engine.job(&id.to_string()).await?;
        match &job.state {
            JobState::Downloaded { file, .. } => files.push(PathBuf::from(&file.path)),
            JobState::NoData => eprintln!("{}: no data for {day}", job.key),
            other => eprintln!("{}: ended {:?}", job.key, other.name()),
        }
    }
    Ok(Night { summary, files })
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match nightly(settings).await {
        Ok(night) => {
            for file in &night.files {
                println!("{}", file.display());
            }
            if night.summary.all_succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
