//! The fault matrix: every fault kind the simulator can inject, crossed with both report
//! families, as a proptest over seeds and random fault plans (which endpoints get the fault,
//! with which probability, Basic or OAuth2, direct or redirected downloads).
//!
//! Each fault kind has a test per family: three account reports, or two billing reports with
//! data and one without. Each case ends with the checks the crash-kill soak ends with (`harness::end_checks`):
//! every job `downloaded` with the simulator's sha256 or `nodata` where there is no data, each
//! account report created once, billing creations bounded by the answers lost, one file per
//! job, no temporary file, every history a gap-free chain. The one exception: a whole answer
//! that cannot be read (`MalformedXml`) is asked again once only, so where it hit the same
//! request twice the job ends `failed` with the parse error.
//!
//! CI runs one case per fault kind and family (26); `REPORTFLOW_MATRIX_CASES=N` runs N each.

mod harness;

use harness::{end_checks_allowing, env_number, read_store};
use proptest::prelude::*;
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, JobSpec, OutputFormat, PollPolicy, RetryPolicy,
};
use reportflow_driver::{Credentials, Engine, EngineConfig, RetryConfig};
use reportflow_sim::{Endpoint, Fault, FaultPlan, Sim, SimConfig, SimHandle, SizeRange};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const ACCOUNT: &str = "9900000";

/// The endpoint classes a run touches (the catalogue is the CLI's preflight, not the engine's).
const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::Create,
    Endpoint::Status,
    Endpoint::File,
    Endpoint::Listing,
    Endpoint::Token,
    Endpoint::RedirectedFile,
];

/// The report family a case runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    /// Three account reports (instance creates, statuses, listings, files, redirects).
    Account,
    /// Two billing reports with data and one without (creates, statuses, files).
    Billing,
}

/// One drawn case.
#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    oauth2: bool,
    redirect: bool,
    /// The endpoints that get the fault, each with its probability.
    rules: Vec<(Endpoint, f64)>,
}

fn case(family: Family) -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        proptest::collection::vec(0.05f64..0.35, ENDPOINTS.len()),
    )
        .prop_map(move |(seed, oauth2, redirect, mask, probabilities)| {
            // Only endpoints the family's run requests: a fault elsewhere would test nothing.
            let applies = |e: Endpoint| match e {
                Endpoint::Token => oauth2,
                Endpoint::RedirectedFile => redirect && family == Family::Account,
                Endpoint::Listing => family == Family::Account,
                _ => true,
            };
            let mut rules: Vec<(Endpoint, f64)> = ENDPOINTS
                .iter()
                .zip(probabilities.iter())
                .enumerate()
                .filter(|(i, (e, _))| mask & (1 << i) != 0 && applies(**e))
                .map(|(_, (e, p))| (*e, *p))
                .collect();
            if rules.is_empty() {
                rules = vec![
                    (Endpoint::Create, probabilities[0]),
                    (Endpoint::File, probabilities[2]),
                ];
            }
            Case {
                seed,
                oauth2,
                redirect,
                rules,
            }
        })
}

fn inventory(site: u32) -> JobSpec {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    params.insert("AccountId".into(), BTreeSet::from([ACCOUNT.to_string()]));
    params.insert("SiteId".into(), BTreeSet::from([site.to_string()]));
    JobSpec::Account(AccountReportSpec {
        account: ACCOUNT.into(),
        report_id: 4,
        format: OutputFormat::Csv,
        params,
        expires_at: None,
    })
}

fn billing(report_type: &str, start: Date, end: Date) -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: ACCOUNT.into(),
        report_type: report_type.into(),
        start,
        end,
    })
}

/// An engine with short polls, retries, job waits and timeouts (a stalled body costs 300 ms).
fn engine_config(sim: &SimHandle, dir: &std::path::Path, oauth2: bool) -> EngineConfig {
    let mut config = EngineConfig::new(dir.join("store"), dir.join("out"), &sim.base_url());
    config.credentials = Some(if oauth2 {
        Credentials::OAuth2 {
            client_id: "demo-client".into(),
            client_secret: "demo-client-secret".into(),
            token_url: sim.token_url(),
        }
    } else {
        Credentials::Basic {
            username: "demo".into(),
            password: "demo-secret".into(),
        }
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
        max_times: 10,
    };
    // The job's own waits after an unconfirmed create or a failed step: short, so that a
    // create whose answer is lost six times in a row (as one drawn case did) still ends the
    // run in seconds, not after the default waits of 1 s doubling (about 2 minutes).
    //
    // The budgets fit the drawn fault rates (up to 35 % per request, the first one certain):
    // every fault but `Latency` on a create leaves it unconfirmed, and a create is never
    // retried by the HTTP layer, so under the default budget of 8 creates a job failed once 8
    // creates in a row met the fault (about 0.35^7, some 1 in 500 per CI run over the 24 tests
    // that can draw it); an OAuth2 token fetch that fails before a create is a failed step
    // (the default limit is 10 in a row). 20 of each: about 0.35^19 (2e-9), and a whole
    // budget of 400 ms waits still ends the run well within its 90 s.
    config.retry_policy = RetryPolicy {
        first_delay_ms: 20,
        cap_ms: 400,
        max_unconfirmed_creates: 20,
        max_step_failures: 20,
        ..RetryPolicy::default()
    };
    config.response_timeout = Duration::from_secs(2);
    config.idle_body_timeout = Duration::from_millis(300);
    config
}

fn run_case(fault: Fault, family: Family, case: &Case) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut plan = FaultPlan {
        latency: Duration::from_millis(100),
        rate_limit_reset_after: Duration::from_millis(200),
        ..FaultPlan::none()
    };
    for (endpoint, probability) in &case.rules {
        plan = plan.on(*endpoint, fault, *probability);
    }
    let config = SimConfig {
        seed: case.seed,
        processing_time: Duration::from_millis(30),
        billing_processing_time: Duration::from_millis(30),
        processing_jitter: Duration::from_millis(100),
        file_size: SizeRange::between(1_000, 40_000),
        redirect_files: case.redirect,
        faults: plan,
        ..SimConfig::default()
    };
    let sim = runtime
        .block_on(Sim::start(config))
        .expect("the simulator starts");
    // The first request of the first drawn endpoint gets the fault for sure (the listing is
    // only asked after a lost create answer: then the first create gets it).
    let scripted = case
        .rules
        .iter()
        .map(|(e, _)| *e)
        .find(|e| *e != Endpoint::Listing)
        .unwrap_or(Endpoint::Create);
    sim.script(scripted, vec![fault]);
    let config = engine_config(&sim, dir.path(), case.oauth2);
    let out = config.out_dir.clone();
    let store = config.store.dir().expect("a directory store").to_path_buf();
    let summary = {
        let engine = runtime
            .block_on(Engine::open(config))
            .expect("engine opens");
        let day = |m, d| Date::constant(2026, m, d);
        let specs = match family {
            Family::Account => (1..=3).map(inventory).collect::<Vec<_>>(),
            Family::Billing => vec![
                billing("BDR", day(3, 1), day(3, 31)),
                billing("MDR", day(4, 1), day(4, 2)),
                billing(
                    "INVOICE",
                    Date::constant(2001, 5, 1),
                    Date::constant(2001, 5, 31),
                ),
            ],
        };
        for spec in specs {
            runtime.block_on(engine.submit(spec, None)).expect("submit");
        }
        runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(90), engine.run_until_idle()).await
            })
            .unwrap_or_else(|_| panic!("{fault} {case:?}: the run did not end within 90 s"))
            .expect("the run ends")
    };
    assert!(!summary.interrupted);
    let last = read_store(&store).expect("the store opens");
    // A whole answer that cannot be read is asked again once: where the fault hit the same
    // request twice, the job fails with the parse error (and nothing else may fail).
    let unreadable_twice = |failure: &reportflow_core::Failure| {
        fault == Fault::MalformedXml
            && failure.kind == reportflow_core::FailureKind::BadAnswer
            && failure.message.starts_with("could not read ")
    };
    let figures = end_checks_allowing(&sim, &last, &out, &[], true, &unreadable_twice);
    let stats = sim.stats();
    let expected = match family {
        Family::Account => (3, 0),
        Family::Billing => (2, 1),
    };
    assert_eq!(
        figures.downloaded + figures.no_data + figures.failed,
        expected.0 + expected.1,
        "{figures:?}"
    );
    assert!(figures.no_data <= expected.1, "{figures:?}");
    assert!(
        2 * figures.failed <= stats.fault_count(fault),
        "each failed job met the fault twice: {figures:?}"
    );
    assert!(stats.fault_count(fault) >= 1, "{fault} was injected");
    println!(
        "{fault} x {family:?}: seed {}, {}{}, on {:?}: {} injected over {} requests, creations {} for {} jobs ({} billing answers lost, {} failed)",
        case.seed,
        if case.oauth2 { "oauth2" } else { "basic" },
        if case.redirect {
            ", redirected files"
        } else {
            ""
        },
        case.rules,
        stats.fault_count(fault),
        stats.requests.values().sum::<u64>(),
        figures.account_creations + figures.billing_creations,
        figures.jobs,
        figures.billing_answers_lost,
        figures.failed,
    );
    sim.shutdown();
}

macro_rules! matrix {
    ($($account:ident, $billing:ident => $fault:expr),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                cases: env_number("REPORTFLOW_MATRIX_CASES", 1) as u32,
                failure_persistence: Some(Box::new(
                    proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
                )),
                ..ProptestConfig::default()
            })]
            $(
                #[test]
                fn $account(case in case(Family::Account)) {
                    run_case($fault, Family::Account, &case);
                }

                #[test]
                fn $billing(case in case(Family::Billing)) {
                    run_case($fault, Family::Billing, &case);
                }
            )*
        }
    };
}

matrix! {
    internal_error_500_account, internal_error_500_billing => Fault::InternalError,
    bad_gateway_502_account, bad_gateway_502_billing => Fault::BadGateway,
    service_unavailable_503_account, service_unavailable_503_billing => Fault::ServiceUnavailable,
    gateway_timeout_504_account, gateway_timeout_504_billing => Fault::GatewayTimeout,
    rate_limited_seconds_account, rate_limited_seconds_billing => Fault::RateLimitedSeconds,
    rate_limited_millis_account, rate_limited_millis_billing => Fault::RateLimitedMillis,
    connection_reset_account, connection_reset_billing => Fault::ConnectionReset,
    cut_short_body_account, cut_short_body_billing => Fault::CutShortBody,
    stalled_body_account, stalled_body_billing => Fault::StalledBody,
    malformed_xml_account, malformed_xml_billing => Fault::MalformedXml,
    error_in_200_account, error_in_200_billing => Fault::ErrorIn200,
    latency_account, latency_billing => Fault::Latency,
    applied_response_lost_account, applied_response_lost_billing => Fault::AppliedResponseLost,
}
