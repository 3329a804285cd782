//! Shared set-up of the engine tests: a simulator on loopback, an engine on a temp store, and
//! the checks every test ends with.
#![allow(dead_code)]

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, Job, JobSpec, JobState, OutputFormat, PollPolicy,
    StateName,
};
use reportflow_driver::{Credentials, Engine, EngineConfig, RetryConfig, sample_parameters};
use reportflow_sim::{SimConfig, SimHandle};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ACCOUNT: &str = "9900000";

/// A simulator answering at once, with small files.
pub fn quick_sim() -> SimConfig {
    SimConfig {
        processing_time: Duration::from_millis(30),
        billing_processing_time: Duration::from_millis(30),
        file_size: reportflow_sim::SizeRange::between(1_000, 20_000),
        ..SimConfig::default()
    }
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: EngineConfig,
}

impl Setup {
    pub fn new(sim: &SimHandle) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = EngineConfig::new(
            dir.path().join("store"),
            dir.path().join("out"),
            &sim.base_url(),
        );
        config.credentials = Some(Credentials::Basic {
            username: "demo".into(),
            password: "demo-secret".into(),
        });
        config.poll = PollPolicy {
            first_delay_ms: 20,
            growth_percent: 150,
            cap_ms: 200,
            jitter_percent: 10,
            deadline_ms: 120_000,
        };
        config.retry = RetryConfig {
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            max_times: 8,
        };
        config.response_timeout = Duration::from_secs(5);
        config.idle_body_timeout = Duration::from_millis(800);
        config.concurrency = 32;
        Setup { dir, config }
    }

    pub fn out_dir(&self) -> PathBuf {
        self.config.out_dir.clone()
    }

    pub async fn engine(&self) -> Engine {
        Engine::open(self.config.clone())
            .await
            .expect("engine opens")
    }
}

pub fn account(report_id: u32, params: &[(&str, &str)]) -> JobSpec {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, v) in params {
        map.entry(k.to_string()).or_default().insert(v.to_string());
    }
    JobSpec::Account(AccountReportSpec {
        account: ACCOUNT.into(),
        report_id,
        format: OutputFormat::Csv,
        params: map,
        expires_at: None,
    })
}

/// Report 4 (Phone Number Inventory) for one site: distinct sites make distinct jobs.
pub fn inventory(site: u32) -> JobSpec {
    account(4, &[("AccountId", ACCOUNT), ("SiteId", &site.to_string())])
}

pub fn billing(report_type: &str, start: Date, end: Date) -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: ACCOUNT.into(),
        report_type: report_type.into(),
        start,
        end,
    })
}

/// Submits every report of the account's catalogue (the seed's 18, with sample parameters) and
/// every known billing type; returns how many jobs.
pub async fn submit_catalogue(engine: &Engine) -> usize {
    let catalogue = engine.report_types(ACCOUNT).await.expect("report list");
    assert_eq!(catalogue.len(), 18, "the seed's 18 reports");
    let today = Date::constant(2026, 11, 26);
    for report in &catalogue {
        let id: u32 = report.id.parse().expect("numeric report id");
        let detail = engine
            .report_detail(ACCOUNT, id)
            .await
            .expect("report detail");
        let JobSpec::Account(mut spec) = account(id, &[]) else {
            unreachable!()
        };
        spec.params = sample_parameters(&detail, ACCOUNT, today);
        engine
            .submit(JobSpec::Account(spec), None)
            .await
            .expect("submit");
    }
    for t in reportflow_core::KNOWN_BILLING_TYPES {
        engine
            .submit(
                billing(t, Date::constant(2026, 5, 21), Date::constant(2026, 5, 29)),
                None,
            )
            .await
            .expect("submit billing");
    }
    catalogue.len() + reportflow_core::KNOWN_BILLING_TYPES.len()
}

pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read downloaded file");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every downloaded job's file exists, has the recorded size and sha256, and matches what the
/// simulator served; no temporary file is left. Returns the jobs per state.
pub async fn verify(
    engine: &Engine,
    sim: &SimHandle,
    out_dir: &Path,
) -> BTreeMap<StateName, Vec<Job>> {
    let mut by_state: BTreeMap<StateName, Vec<Job>> = BTreeMap::new();
    for job in engine.jobs(None).await.expect("jobs") {
        if let JobState::Downloaded { upstream, file } = &job.state {
            let path = Path::new(&file.path);
            assert!(
                path.starts_with(out_dir),
                "{} is inside the output folder",
                file.path
            );
            assert_eq!(
                std::fs::metadata(path).expect("file exists").len(),
                file.bytes
            );
            assert_eq!(
                sha256_file(path),
                file.sha256,
                "recorded sha256 of {}",
                file.path
            );
            let expected = sim
                .expected_file(&upstream.location)
                .expect("the sim knows the file");
            assert_eq!(
                file.sha256, expected.sha256,
                "served sha256 of {}",
                file.path
            );
        }
        by_state.entry(job.state.name()).or_default().push(job);
    }
    if out_dir.exists() {
        for entry in std::fs::read_dir(out_dir).expect("read out dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            assert!(
                !name.ends_with(".part"),
                "temporary file {name} left behind"
            );
        }
    }
    by_state
}

pub fn count(by_state: &BTreeMap<StateName, Vec<Job>>, state: StateName) -> usize {
    by_state.get(&state).map_or(0, Vec::len)
}
