//! `sim`: the simulated upstream on loopback until Ctrl-C, to try every command against it.

use crate::cli::SimArgs;
use crate::context::Context;
use crate::context::absolute;
use crate::error::{CliError, Outcome};
use crate::output::{print, print_json_line};
use crate::shell;
use crate::signals;
use reportflow_sim::{Endpoint, Fault, FaultPlan, Sim, SimConfig, SimStats, SimTls};
use serde_json::json;
use std::time::Duration;

/// The account the examples use (the simulator takes any account of digits).
pub const SIM_ACCOUNT: &str = "9900000";

/// Every fault kind with probability `rate` per request, with short latencies and rate-limit
/// waits; but stalled bodies (which cost a client its whole idle timeout) and whole answers
/// that cannot be read (which fail a job when they come twice in a row, as a real upstream's
/// would: random ones would make the demo fail by chance).
pub fn fault_plan(rate: f64) -> FaultPlan {
    let mut plan = Fault::ALL
        .iter()
        .filter(|f| !matches!(f, Fault::Pass | Fault::StalledBody | Fault::MalformedXml))
        .fold(FaultPlan::none(), |plan, f| plan.everywhere(*f, rate));
    plan.latency = Duration::from_millis(300);
    plan.rate_limit_reset_after = Duration::from_secs(1);
    plan
}

/// `NAME=value` words for an `export` line, each quoted for a POSIX shell when it needs it.
fn assignments(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| shell::quote(&format!("{name}={value}")).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Faults injected and requests served, in one line.
pub fn stats_line(stats: &SimStats) -> String {
    let requests: u64 = stats.requests.values().sum();
    let faults: u64 = stats
        .faults
        .iter()
        .filter(|(f, _)| **f != Fault::Pass)
        .map(|(_, n)| n)
        .sum();
    format!(
        "the simulator answered {requests} requests, injected {faults} faults and created {} reports",
        stats.total_instance_creations() + stats.total_billing_creations()
    )
}

/// `sim`.
pub async fn sim(ctx: &Context, args: &SimArgs) -> Result<Outcome, CliError> {
    let millis = Duration::from_millis(args.processing_ms);
    let ca_file = match (&args.ca_out, args.tls) {
        (Some(path), _) => Some(absolute(path)?),
        (None, true) => {
            Some(std::env::temp_dir().join(format!("reportflow-sim-ca-{}.pem", std::process::id())))
        }
        (None, false) => None,
    };
    let config = SimConfig {
        seed: args.seed,
        port: args.port,
        processing_time: millis,
        billing_processing_time: millis,
        redirect_files: args.redirect_files,
        basic_auth: !args.oauth2_only,
        faults: if args.drop_creates {
            FaultPlan::none().on(Endpoint::Create, Fault::ConnectionReset, 1.0)
        } else {
            fault_plan(args.fault_rate)
        },
        tls: ca_file.clone().map(|ca_file| SimTls {
            ca_file: Some(ca_file),
            ..SimTls::default()
        }),
        ..SimConfig::default()
    };
    let sim = Sim::start(config.clone()).await?;
    let base = sim.base_url();
    let token = sim.token_url();
    let ca_shown = ca_file.as_ref().map(|p| p.display().to_string());
    if ctx.global.json {
        print_json_line(&json!({
            "event": "sim_started",
            "base_url": base,
            "token_url": token,
            "username": config.username,
            "password": config.password,
            "basic_auth": config.basic_auth,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "account": SIM_ACCOUNT,
            "ca_file": ca_shown,
        }));
    } else {
        let basic = if config.basic_auth {
            format!(
                "BANDWIDTH_USERNAME={} BANDWIDTH_PASSWORD={}",
                config.username, config.password
            )
        } else {
            "refused (--oauth2-only): use OAuth2".to_string()
        };
        let login = assignments(&[
            ("BANDWIDTH_CLIENT_ID", &config.client_id),
            ("BANDWIDTH_CLIENT_SECRET", &config.client_secret),
            ("BANDWIDTH_TOKEN_URL", &token),
        ]);
        let mut exports = vec![
            ("REPORTFLOW_BASE_URL", base.as_str()),
            ("BANDWIDTH_ACCOUNT_ID", SIM_ACCOUNT),
        ];
        let ca_line = match &ca_shown {
            Some(path) => {
                exports.push(("REPORTFLOW_CA_FILE", path.as_str()));
                format!(
                    "\n  CA file    {path} (the CA of its TLS certificate: trust it with --ca-file)"
                )
            }
            None => String::new(),
        };
        let location = assignments(&exports);
        print(&format!(
            "simulator listening on {base}\n\
             \n  token URL  {token}{ca_line}\
             \n  OAuth2     BANDWIDTH_CLIENT_ID={} BANDWIDTH_CLIENT_SECRET={} BANDWIDTH_TOKEN_URL={token}\
             \n  Basic      {basic} (legacy: Bandwidth retires Basic on 2026-12-02)\
             \n  account    any digits, e.g. {SIM_ACCOUNT}\
             \n  faults     {}; reports ready after {} ms\n\
             \ntry it in another terminal:\
             \n  export {location}\
             \n  export {login}\
             \n  reportflow reports list\
             \n  reportflow submit billing BDR --from 2026-01-01 --to 2026-01-31\
             \n  reportflow run\n\
             \nCtrl-C stops the simulator.\n",
            config.client_id,
            config.client_secret,
            if args.drop_creates {
                "every create is reset unanswered (--drop-creates)".to_string()
            } else {
                format!("{} per kind and request", args.fault_rate)
            },
            args.processing_ms,
        ));
    }
    signals::stop_requested().await;
    let stats = sim.stats();
    sim.shutdown();
    if let (Some(path), None) = (&ca_file, &args.ca_out) {
        let _ = std::fs::remove_file(path);
    }
    if ctx.global.json {
        print_json_line(&json!({"event": "sim_stopped", "summary": stats_line(&stats)}));
    } else {
        print(&format!("\nstopped: {}\n", stats_line(&stats)));
    }
    Ok(Outcome::Success)
}
