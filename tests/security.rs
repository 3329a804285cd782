//! Guarantee 5 and the safety rules around it, against the real binary:
//! - with trace-level logging, the credentials (and their base64 form, and bearer tokens) never
//!   appear in the store's files, the logs, stdout, the output folder or any error text;
//! - `Authorization` never reaches another origin (the simulator's second origin answers 400
//!   if it does; a hostile upstream's 307 to a second server is checked too);
//! - file names with `../`, absolute paths, NUL or control characters land inside the output
//!   folder under a safe name;
//! - plain `http://` to a host that is not loopback is refused unless explicitly allowed;
//! - an endless or oversized XML body is cut off with a clear error, in bounded memory;
//! - the store directory is owner-only (0700) and output files are not world-writable, even
//!   under `umask 000`.

mod common;
mod harness;

use common::{ACCOUNT, Env, Ran, bare_cmd};
use harness::hostile::{Answer, Hostile, reports_upstream};
use harness::*;
use reportflow_sim::{Endpoint, Fault, FaultPlan, SimConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "canary-user-q7";
const PASSWORD: &str = "S3cret-Canary-p4ss-91f2";
const CLIENT_ID: &str = "canary-client-z3";
const CLIENT_SECRET: &str = "S3cret-Canary-cl1ent-55ab";
const WRONG_PASSWORD: &str = "S3cret-Canary-wr0ng-77c1";
/// A password made of digits, written without quotes in a config file: TOML reads a number.
const NUMERIC_PASSWORD: &str = "80417733562901";

fn basic_vars() -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("BANDWIDTH_USERNAME", Some(USER)),
        ("BANDWIDTH_PASSWORD", Some(PASSWORD)),
        ("REPORTFLOW_LOG", Some("trace")),
    ]
}

/// Everything a command printed, kept for the final grep.
#[derive(Default)]
struct Transcript(Vec<(String, Ran)>);

impl Transcript {
    /// Runs the words of `line` with `vars` changed.
    fn run(&mut self, env: &Env, vars: &[(&str, Option<&str>)], line: &str) -> &Ran {
        let args: Vec<&str> = line.split_whitespace().collect();
        let ran = env.run_with(vars, &args);
        self.0.push((line.to_string(), ran));
        &self.0.last().expect("pushed").1
    }

    /// Like [`Transcript::run`], and checks that it succeeded.
    fn ok(&mut self, env: &Env, vars: &[(&str, Option<&str>)], line: &str) -> &Ran {
        let ran = self.run(env, vars, line);
        assert_eq!(ran.code, 0, "{line}: {ran:?}");
        ran
    }
}

#[test]
fn credentials_never_reach_the_store_the_logs_the_output_or_an_error() {
    let env = Env::new(SimConfig {
        username: USER.into(),
        password: PASSWORD.into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_files: true,
        processing_time: Duration::from_millis(30),
        billing_processing_time: Duration::from_millis(30),
        file_size: reportflow_sim::SizeRange::between(1_000, 20_000),
        faults: FaultPlan {
            latency: Duration::from_millis(50),
            rate_limit_reset_after: Duration::from_millis(200),
            ..FaultPlan::none()
        }
        .everywhere(Fault::ServiceUnavailable, 0.05)
        .everywhere(Fault::ConnectionReset, 0.05)
        .on(Endpoint::File, Fault::CutShortBody, 0.1),
        ..SimConfig::default()
    });
    // One unreadable token answer (its message must not show the body: a token is a secret);
    // random ones could come twice in a row, which fails the request by design.
    env.sim.script(Endpoint::Token, vec![Fault::MalformedXml]);
    let basic = basic_vars();
    let token_url = env.sim.token_url();
    let oauth2: Vec<(&str, Option<&str>)> = vec![
        ("BANDWIDTH_USERNAME", None),
        ("BANDWIDTH_PASSWORD", None),
        ("BANDWIDTH_CLIENT_ID", Some(CLIENT_ID)),
        ("BANDWIDTH_CLIENT_SECRET", Some(CLIENT_SECRET)),
        ("BANDWIDTH_TOKEN_URL", Some(&token_url)),
        ("REPORTFLOW_LOG", Some("trace")),
    ];
    let mut t = Transcript::default();
    for site in 1..=3 {
        let line = format!("-vv submit report 4 --param AccountId=9900000 --param SiteId={site}");
        t.ok(&env, &basic, &line);
    }
    t.ok(
        &env,
        &basic,
        "submit billing BDR --from 2026-10-01 --to 2026-10-31",
    );
    for vars in [&basic, &oauth2] {
        t.ok(&env, vars, "-vv reports list");
        t.ok(&env, vars, "reports show 8 --json");
    }
    t.ok(&env, &basic, "-vv run");
    t.ok(
        &env,
        &oauth2,
        "submit billing MDR --from 2026-10-01 --to 2026-10-31",
    );
    t.ok(
        &env,
        &oauth2,
        "submit report 4 --param AccountId=9900000 --param SiteId=9",
    );
    let ran = t.ok(&env, &oauth2, "run --json");
    assert!(
        ran.stderr.contains("TRACE"),
        "trace logging was on: {ran:?}"
    );
    for line in ["status --json", "status", "history 1 --json", "history 5"] {
        t.ok(&env, &basic, line);
    }

    // Error texts: refused credentials, a bad config file, half a pair.
    t.run(&env, &basic, "retry 1"); // exit 2: a downloaded job takes no retry
    let wrong = [
        ("BANDWIDTH_PASSWORD", Some(WRONG_PASSWORD)),
        ("REPORTFLOW_LOG", Some("trace")),
    ];
    t.run(&env, &wrong, "reports list");
    env.ok("submit billing INVOICE --from 2026-10-01 --to 2026-10-31");
    let refused = t.run(&env, &wrong, "run");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("refused the credentials"),
        "{refused:?}"
    );
    let mut wrong_oauth2 = oauth2.clone();
    wrong_oauth2[3] = ("BANDWIDTH_CLIENT_SECRET", Some(WRONG_PASSWORD));
    assert_eq!(t.run(&env, &wrong_oauth2, "run").code, 1);
    let half = [
        ("BANDWIDTH_USERNAME", None),
        ("BANDWIDTH_PASSWORD", Some(PASSWORD)),
    ];
    assert_eq!(t.run(&env, &half, "run").code, 1);
    let config = env.dir.path().join("creds.toml");
    let without_env = [
        ("BANDWIDTH_USERNAME", None),
        ("BANDWIDTH_PASSWORD", None),
        ("REPORTFLOW_LOG", Some("trace")),
    ];
    let line = format!("--config {} run", config.display());
    // A readable file, then files with the secret unquoted, unterminated, under a misspelt
    // name, in an array, as a number, and a wrong one.
    let bad_values = [
        format!("\"{PASSWORD}\""),
        PASSWORD.to_string(),
        format!("\"{PASSWORD}"),
        format!("[\"{PASSWORD}\"]"),
        NUMERIC_PASSWORD.to_string(),
        format!("{NUMERIC_PASSWORD}.5"),
        format!("\"{WRONG_PASSWORD}\""),
    ];
    for (i, value) in bad_values.iter().enumerate() {
        let name = if i == 3 { "pasword" } else { "password" };
        std::fs::write(
            &config,
            format!("username = \"{USER}\"\n{name} = {value}\n"),
        )
        .expect("write config");
        let mode = if i == 0 { 0o644 } else { 0o600 };
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let ran = t.run(&env, &without_env, &line);
        assert_ne!(ran.code, 0, "{ran:?}");
        assert!(ran.stderr.contains("error: "), "{ran:?}");
    }
    std::fs::remove_file(&config).expect("remove config");

    // The grep: every byte the commands printed, every file of the store and output folders.
    let secrets: Vec<(String, String)> = [
        ("password", PASSWORD.to_string()),
        ("wrong password", WRONG_PASSWORD.to_string()),
        ("numeric password", NUMERIC_PASSWORD.to_string()),
        ("client secret", CLIENT_SECRET.to_string()),
        (
            "Basic credentials",
            base64(format!("{USER}:{PASSWORD}").as_bytes()),
        ),
        (
            "wrong Basic credentials",
            base64(format!("{USER}:{WRONG_PASSWORD}").as_bytes()),
        ),
        (
            "client credentials",
            base64(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes()),
        ),
        ("password in base64", base64(PASSWORD.as_bytes())),
        ("a bearer token", "Bearer sim-".to_string()),
        ("a token", "sim-".to_string()),
        ("an Authorization header", "authorization:".to_string()),
    ]
    .into_iter()
    .map(|(what, s)| (what.to_string(), s))
    .collect();
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for (args, ran) in &t.0 {
        places.push((
            format!("stdout of `{args}`"),
            ran.stdout.clone().into_bytes(),
        ));
        places.push((
            format!("stderr of `{args}`"),
            ran.stderr.clone().into_bytes(),
        ));
    }
    for dir in [env.store(), env.out()] {
        for (path, bytes) in all_files(&dir) {
            places.push((
                format!("name of {}", path.display()),
                path.display().to_string().into_bytes(),
            ));
            places.push((path.display().to_string(), bytes));
        }
    }
    let stored = all_files(&env.store()).len();
    let output = all_files(&env.out()).len();
    assert!(
        stored >= 3 && output >= 5,
        "{stored} store files, {output} output files"
    );
    let total: usize = places.iter().map(|(_, b)| b.len()).sum();
    for (what, secret) in &secrets {
        for (place, bytes) in &places {
            let lower = bytes.to_ascii_lowercase();
            let found = contains(bytes, secret.as_bytes())
                || (what == "an Authorization header" && contains(&lower, secret.as_bytes()));
            assert!(
                !found,
                "{what} ({secret}) found in {place}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    println!(
        "credentials: {} secrets checked in {} places ({} bytes of logs, store and output; {} commands)",
        secrets.len(),
        places.len(),
        total,
        t.0.len()
    );

    // The redirected downloads went to the second origin without Authorization.
    let stats = env.sim.stats();
    assert!(
        stats.requests_to(Endpoint::RedirectedFile) >= 4,
        "{stats:?}"
    );
    assert_eq!(
        stats.status_count(Endpoint::RedirectedFile, 400),
        0,
        "Authorization was sent to the second origin"
    );
}

#[test]
fn a_redirect_to_another_origin_is_followed_without_authorization() {
    // The second origin: records what it gets, serves the file.
    let other = Hostile::start(|_, _| Answer::Full {
        status: 200,
        headers: vec![(
            "Content-Disposition".into(),
            "attachment; filename=report-1.csv".into(),
        )],
        body: b"a,b\n1,2\n".to_vec(),
    });
    let other_base = format!("http://127.0.0.1:{}", other.port);
    let upstream = reports_upstream(
        move |n, _| Answer::Full {
            status: 307,
            headers: vec![(
                "Location".into(),
                format!("{other_base}/download/{n}?signature=abc"),
            )],
            body: Vec::new(),
        },
        |_, _| None,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    submit_and_run(dir.path(), &upstream.base_url(), 1, false, 0);
    let seen = other.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].header("authorization"), None, "{seen:?}");
    assert!(
        upstream
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_some()),
        "the upstream itself gets the credentials"
    );
}

/// The binary in `dir` against `base_url` with Basic credentials, the store and output there.
fn cli_cmd(dir: &Path, base_url: &str) -> Command {
    let mut cmd = bare_cmd(dir);
    cmd.env("REPORTFLOW_STORE", dir.join("store"))
        .env("REPORTFLOW_OUT", dir.join("out"))
        .env("REPORTFLOW_BASE_URL", base_url)
        .env("BANDWIDTH_ACCOUNT_ID", ACCOUNT)
        .env("BANDWIDTH_USERNAME", "demo")
        .env("BANDWIDTH_PASSWORD", "demo-secret");
    cmd
}

/// Runs the words of `line` with [`cli_cmd`].
fn cli(dir: &Path, base_url: &str, line: &str) -> Ran {
    cli_cmd(dir, base_url)
        .args(line.split_whitespace())
        .output()
        .expect("the binary runs")
        .into()
}

/// Submits `reports` account reports (sites 1..) and, if `billing`, a billing report, then
/// runs them; `run` must exit `code`. Returns the run.
fn submit_and_run(dir: &Path, base_url: &str, reports: usize, billing: bool, code: i32) -> Ran {
    for site in 1..=reports {
        let line = format!("submit report 4 --param AccountId=9900000 --param SiteId={site}");
        let ran = cli(dir, base_url, &line);
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    if billing {
        let ran = cli(
            dir,
            base_url,
            "submit billing BDR --from 2026-10-01 --to 2026-10-31",
        );
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let ran = cli(dir, base_url, "run");
    assert_eq!(ran.code, code, "{ran:?}");
    ran
}

/// Hostile `Content-Disposition` values, each with a safe name expected inside the folder.
const HOSTILE_NAMES: &[&str] = &[
    "attachment; filename=../../etc/passwd",
    "attachment; filename=\"/abs/path/report.csv\"",
    "attachment; filename*=UTF-8''a%00b%0Ac%1B%5B31m.csv",
    "attachment; filename=..",
    "attachment; filename=\"..\\\\..\\\\windows\\\\evil.csv\"",
    "attachment; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fescape.csv",
    "attachment; filename=.hidden",
    "attachment; filename*=UTF-8''report%E2%80%AEvsc.exe",
    "attachment; filename=\"   \"",
    "attachment; filename=\"a/../../b.csv\"",
    "attachment; filename=\"\\u0000.csv\"",
    "attachment; filename*=UTF-8''%2Fetc%2Fshadow",
];

#[test]
fn hostile_file_names_land_inside_the_output_folder_under_a_safe_name() {
    let long = format!("attachment; filename={}.csv", "A".repeat(5_000));
    let names: Vec<String> = HOSTILE_NAMES
        .iter()
        .map(|s| s.to_string())
        .chain([long])
        .collect();
    let count = names.len();
    let upstream = reports_upstream(
        move |n, _| {
            let (disposition, body) = if n > 1000 {
                (
                    "attachment; filename=../../../tmp/evil.zip".to_string(),
                    b"PK\x03\x04 not much of a zip, but it starts like one".to_vec(),
                )
            } else {
                (
                    names[(n as usize - 1) % names.len()].clone(),
                    format!("file {n}\n").into_bytes(),
                )
            };
            Answer::Full {
                status: 200,
                headers: vec![("Content-Disposition".into(), disposition)],
                body,
            }
        },
        |_, _| None,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    submit_and_run(&root, &upstream.base_url(), count, true, 0);
    let out = root.join("out");
    let files = final_files(&out);
    assert_eq!(files.len(), count + 1, "one file per job: {files:?}");
    for file in &files {
        let name = file.file_name().expect("a name").to_string_lossy();
        assert_eq!(file.parent(), Some(out.as_path()));
        assert!(!name.starts_with('.'), "{name:?}");
        assert!(name.len() <= 200, "{} bytes", name.len());
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(!name.contains(['/', '\\', '\u{202E}']), "{name:?}");
    }
    // Nothing anywhere else: the temp folder holds the store, the output and nothing more.
    let outside: Vec<PathBuf> = all_files(dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !p.starts_with(root.join("store")) && !p.starts_with(&out))
        .collect();
    assert_eq!(outside, Vec::<PathBuf>::new());
    assert!(!Path::new("/tmp/evil.zip").exists() && !Path::new("/abs").exists());
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    println!("hostile names became: {names:?}");
}

/// Runs `run` in `dir` against `upstream`, watching the child's peak memory; returns the run
/// and the peak in KiB.
fn run_watching_memory(dir: &Path, upstream: &Hostile) -> (Ran, u64) {
    let child = cli_cmd(dir, &upstream.base_url())
        .args(["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts");
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let started = Instant::now();
    let output = child.wait_with_output().expect("run ends");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "cut off in time"
    );
    (output.into(), watcher.join().expect("watcher"))
}

#[test]
fn an_endless_or_oversized_xml_body_is_cut_off_with_a_clear_error() {
    // Instance 1: a status body that never ends; instance 2: a 10 MiB status body; billing: a
    // status that never ends.
    let upstream = reports_upstream(
        |_, _| Answer::xml(500, "unused"),
        |n, _| match n {
            1 => Some(Answer::Endless {
                head: b"<ReportInstanceResponse><Instance><Id>1</Id>".to_vec(),
                chunk: b"<Extra>0123456789abcdef0123456789abcdef</Extra>".repeat(200),
                pause: Duration::ZERO,
                limit: u64::MAX,
            }),
            2 => {
                let mut body = b"<ReportInstanceResponse><Instance><Id>2</Id><Status>".to_vec();
                body.extend(std::iter::repeat_n(b'x', 10 << 20));
                body.extend_from_slice(b"</Status></Instance></ReportInstanceResponse>");
                Some(Answer::Full {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/xml".into())],
                    body,
                })
            }
            _ => Some(Answer::Endless {
                head: b"<BillingReportRetrievalResponse>".to_vec(),
                chunk: b"<ReportStatus>PROCESSING</ReportStatus>".repeat(500),
                pause: Duration::ZERO,
                limit: u64::MAX,
            }),
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for line in [
        "submit report 4 --param AccountId=9900000 --param SiteId=1",
        "submit report 4 --param AccountId=9900000 --param SiteId=2",
        "submit billing BDR --from 2026-10-01 --to 2026-10-31",
    ] {
        let ran = cli(dir.path(), &upstream.base_url(), line);
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let (ran, peak_kib) = run_watching_memory(dir.path(), &upstream);
    assert_eq!(ran.code, 3, "the jobs fail: {ran:?}");
    let status = cli(dir.path(), &upstream.base_url(), "status --json");
    let jobs: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
    for job in jobs.as_array().expect("jobs") {
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["error"].as_str().expect("an error");
        assert!(
            error.contains("larger than the 1024 KiB cap for XML bodies"),
            "{error}"
        );
    }
    let sent = upstream
        .endless_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "endless bodies: {} KiB sent before the client hung up; peak RSS of `run` {} KiB",
        sent / 1024,
        peak_kib
    );
    assert!(
        peak_kib > 0 && peak_kib < 96 * 1024,
        "peak RSS {peak_kib} KiB"
    );
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    // 0.0.0.0 is not loopback by name, but connecting to it fails at once on this machine.
    let insecure = "http://0.0.0.0:1/api";
    let submit = "submit billing BDR --from 2026-10-01 --to 2026-10-31";
    for line in ["reports list", submit] {
        let ran = cli(dir.path(), insecure, line);
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(
            ran.stderr
                .contains("plain http to a host that is not loopback"),
            "{ran:?}"
        );
    }
    assert!(!store.exists(), "nothing stored");
    // A job submitted for a loopback upstream, then a run pointed elsewhere.
    assert_eq!(cli(dir.path(), "http://127.0.0.1:1/api", submit).code, 0);
    let before = read_store(&store).expect("the store opens");
    let run = cli(dir.path(), insecure, "run");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("plain http"), "{run:?}");
    assert!(
        !run.stderr.contains("cannot reach"),
        "refused before any connection: {run:?}"
    );
    assert_eq!(
        read_store(&store).expect("opens"),
        before,
        "nothing changed"
    );
    for url in [
        "http://example.com/api",
        "http://10.0.0.1:8080/api",
        "http://[2001:db8::1]/api",
    ] {
        let ran = cli(dir.path(), url, "reports list");
        assert_eq!(ran.code, 2, "{url}: {ran:?}");
        assert!(ran.stderr.contains("plain http"), "{url}: {ran:?}");
    }
    // Explicitly allowed: the URL is taken, and the run goes as far as trying to connect.
    let allowed = cli(dir.path(), insecure, "--allow-insecure-http run");
    assert_eq!(allowed.code, 1, "{allowed:?}");
    assert!(
        allowed
            .stderr
            .contains("cannot reach the upstream at 0.0.0.0:1"),
        "{allowed:?}"
    );
}

#[test]
fn the_store_is_owner_only_and_report_files_are_not_world_writable() {
    let env = Env::new(common::quick_sim());
    // Under umask 000 the modes must come from reportflow itself.
    let sh = |line: &str| -> Ran {
        in_shell(&env.cmd(), "umask 000", line)
            .output()
            .expect("sh runs")
            .into()
    };
    for line in [
        "submit billing BDR --from 2026-10-01 --to 2026-10-31",
        "submit report 4 --param AccountId=9900000",
    ] {
        let ran = sh(line);
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(
        mode(&env.store()),
        0o700,
        "the store directory is owner-only"
    );
    let ran = sh("run");
    assert_eq!(ran.code, 0, "{ran:?}");
    let files = final_files(&env.out());
    assert_eq!(files.len(), 2);
    for file in &files {
        assert_eq!(
            mode(file) & 0o022,
            0,
            "{} is group or world-writable",
            file.display()
        );
    }
    assert_eq!(mode(&env.store()), 0o700, "still owner-only after a run");
    println!(
        "modes under umask 000: store {:o}, files {:?}",
        mode(&env.store()),
        files
            .iter()
            .map(|f| format!("{:o}", mode(f)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_trickling_xml_body_is_cut_off_by_the_response_timeout() {
    // A status body that never ends, one byte every 100 ms: never idle long enough for the
    // idle timeout, never big enough for the cap.
    let upstream = reports_upstream(
        |_, _| Answer::xml(500, "unused"),
        |_, _| {
            Some(Answer::Endless {
                head: b"<ReportInstanceResponse><Instance><Id>1</Id>".to_vec(),
                chunk: b" ".to_vec(),
                pause: Duration::from_millis(100),
                limit: u64::MAX,
            })
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = reportflow_driver::EngineConfig::new(
        dir.path().join("store"),
        dir.path().join("out"),
        &upstream.base_url(),
    );
    config.credentials = Some(reportflow_driver::Credentials::Basic {
        username: "demo".into(),
        password: "demo-secret".into(),
    });
    config.response_timeout = Duration::from_secs(1);
    // Far above the 100 ms pauses (it was 500 ms): a trickle held back on a loaded machine
    // must not end the body as idle, which is not what this test is about.
    config.idle_body_timeout = Duration::from_millis(900);
    config.retry.min_delay = Duration::from_millis(10);
    config.retry.max_delay = Duration::from_millis(50);
    config.retry.max_times = 2;
    // The job's own tries after the GET's: short waits, two failed polls end it.
    config.retry_policy.first_delay_ms = 10;
    config.retry_policy.cap_ms = 50;
    config.retry_policy.max_step_failures = 2;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let engine = runtime
        .block_on(reportflow_driver::Engine::open(config))
        .expect("engine");
    let mut params = std::collections::BTreeMap::new();
    params.insert(
        "AccountId".to_string(),
        std::collections::BTreeSet::from([ACCOUNT.to_string()]),
    );
    let spec = reportflow_core::JobSpec::Account(reportflow_core::AccountReportSpec {
        account: ACCOUNT.into(),
        report_id: 4,
        format: reportflow_core::OutputFormat::Csv,
        params,
        expires_at: None,
    });
    runtime.block_on(engine.submit(spec, None)).expect("submit");
    let started = Instant::now();
    let summary = runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), engine.run_until_idle()).await
        })
        .expect("the run ends: a trickling body does not hold a job forever")
        .expect("run");
    let elapsed = started.elapsed();
    assert_eq!(summary.count(reportflow_core::StateName::Failed), 1);
    let job = runtime.block_on(engine.jobs(None)).expect("jobs").remove(0);
    let reportflow_core::JobState::Failed { failure } = &job.state else {
        panic!("{:?}", job.state)
    };
    assert!(
        failure.message.contains("did not end within 1 s"),
        "{failure}"
    );
    println!("a trickling body failed the job after {elapsed:?}: {failure}");
}
