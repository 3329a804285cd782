//! The binary's surface: help, exit codes, error messages, and that a bad input stores nothing.

mod common;

use common::*;
use std::path::Path;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["reports"],
    &["reports", "list"],
    &["reports", "show"],
    &["submit"],
    &["submit", "report"],
    &["submit", "billing"],
    &["submit", "batch"],
    &["run"],
    &["status"],
    &["history"],
    &["retry"],
    &["cancel"],
    &["purge"],
    &["demo"],
    &["sim"],
];

#[test]
fn every_command_has_complete_help_with_an_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    for path in COMMANDS {
        let args: Vec<&str> = path.iter().copied().chain(["--help"]).collect();
        let ran = run_bare(dir.path(), &args);
        assert_eq!(ran.code, 0, "{path:?} --help: {ran:?}");
        assert!(
            ran.stdout.contains("Example"),
            "{path:?} has an example: {ran:?}"
        );
        assert!(
            ran.stdout.contains("Usage: reportflow"),
            "{path:?}: {ran:?}"
        );
    }
    let main = run_bare(dir.path(), &["--help"]);
    for code in ["0  ", "1  ", "2  ", "3  "] {
        assert!(main.stdout.contains(code), "exit code {code} documented");
    }
    assert!(
        run_bare(dir.path(), &["run", "--help"])
            .stdout
            .contains("Exit codes")
    );
    let version = run_bare(dir.path(), &["--version"]);
    assert!(version.stdout.starts_with("reportflow "), "{version:?}");
}

/// Exit 2, one `error:` line naming the problem and the fix, and no store created.
fn assert_usage_error(env: &Env, args: &[&str], says: &str) {
    let ran = env.run(args);
    assert_eq!(ran.code, 2, "{args:?}: {ran:?}");
    assert!(ran.stderr.starts_with("error: "), "{args:?}: {ran:?}");
    assert!(ran.stderr.contains(says), "{args:?} says {says:?}: {ran:?}");
    assert!(!env.store().exists(), "{args:?} created the store");
}

/// Bad command lines and what their one error line says.
const BAD_INPUT: &[(&str, &str)] = &[
    ("frobnicate", "unrecognized subcommand 'frobnicate'"),
    (
        "submit billing BDR --from 2026-13-01 --to 2026-11-20",
        "--from \"2026-13-01\" is not a date: there is no month 13; months run from 01 to 12",
    ),
    (
        "submit report 2 --param AccountId",
        "\"AccountId\" has no '='; write it as NAME=VALUE",
    ),
    (
        "submit report 2 --format docx",
        "the output format \"docx\" is unknown; use one of pdf, csv, xls, html",
    ),
    (
        "submit billing BDR --from 2026-11-21 --to 2026-11-20",
        "swap the dates",
    ),
    (
        "submit report 2 --expires 2020-01-01",
        "the expiry date 2020-01-01 is in the past",
    ),
    ("submit report two", "is not a report id"),
    ("history 7", "no job \"7\""),
    ("retry 7", "no job \"7\""),
    ("run", "there is no store at"),
    ("status --state done", "is not a state"),
];

#[test]
fn bad_input_exits_2_with_a_clear_line_and_stores_nothing() {
    let env = Env::new(quick_sim());
    for (line, says) in BAD_INPUT {
        assert_usage_error(&env, &line.split_whitespace().collect::<Vec<_>>(), says);
    }
    assert_usage_error(
        &env,
        &["submit", "report", "2", "--key", " padded"],
        "starts or ends with white space",
    );
    let ran = env.run_with(
        &[("BANDWIDTH_ACCOUNT_ID", None)],
        &[
            "submit",
            "billing",
            "BDR",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    let says = "no account: pass --account ID or set BANDWIDTH_ACCOUNT_ID";
    assert!(ran.stderr.contains(says), "{ran:?}");
    assert!(!env.store().exists());
}

/// Exit 1 with one `error:` line that says `says`; any other line on stderr is the log line of
/// a retry (every retry is logged at the default level).
fn assert_runtime_error(ran: &Ran, says: &str) {
    assert_eq!(ran.code, 1, "{ran:?}");
    let (errors, others): (Vec<&str>, Vec<&str>) =
        ran.stderr.lines().partition(|l| l.starts_with("error: "));
    assert_eq!(errors.len(), 1, "one error line: {ran:?}");
    assert!(errors[0].contains(says), "says {says:?}: {ran:?}");
    assert!(
        others
            .iter()
            .all(|l| l.contains(" WARN ") && l.contains("retrying ")),
        "only retry lines besides the error: {ran:?}"
    );
    assert_eq!(
        ran.stderr.lines().last(),
        Some(errors[0]),
        "the error comes last: {ran:?}"
    );
}

#[test]
fn runtime_trouble_exits_1_and_leaves_the_jobs_as_they_were() {
    let env = Env::new(quick_sim());
    env.ok("submit billing BDR --from 2026-11-01 --to 2026-11-02");
    let before = env.status();

    let no_credentials = env.run_with(
        &[("BANDWIDTH_USERNAME", None), ("BANDWIDTH_PASSWORD", None)],
        &["run"],
    );
    assert_runtime_error(
        &no_credentials,
        "no credentials: set BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2), or name a config file",
    );
    let half = env.run_with(&[("BANDWIDTH_PASSWORD", None)], &["run"]);
    assert_runtime_error(
        &half,
        "BANDWIDTH_USERNAME is set but BANDWIDTH_PASSWORD is not",
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/api",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let unreachable = env.run(&["--base-url", &url, "run"]);
    assert_runtime_error(&unreachable, "cannot reach the upstream at 127.0.0.1");
    assert!(unreachable.stderr.contains("check --base-url"));

    let refused = env.run_with(&[("BANDWIDTH_PASSWORD", Some("wrong"))], &["run"]);
    assert_runtime_error(&refused, "refused the credentials");
    assert!(
        !refused.stderr.contains("wrong"),
        "the password is never printed"
    );

    let bad_url = env.run(&["--base-url", "ftp://example.com", "run"]);
    assert_eq!(bad_url.code, 2, "{bad_url:?}");

    {
        let _held = reportflow_store::Store::open(&env.store()).expect("the test holds the store");
        let submit = [
            "submit",
            "billing",
            "MDR",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ];
        for args in [&["status"][..], &["run"], &submit] {
            assert_runtime_error(&env.run(args), "is in use by another process");
        }
    }

    assert_eq!(env.status(), before, "nothing changed");
    let sent = env.sim.stats().total_billing_creations();
    assert_eq!(sent, 0, "nothing was sent");
}

#[test]
fn reports_list_and_show_ask_the_upstream() {
    let env = Env::new(quick_sim());
    let list = env.run(&["reports", "list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout.contains("Full Phone Number Details"),
        "{list:?}"
    );
    let json = env.run(&["reports", "list", "--json"]);
    let reports: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(reports.as_array().map(Vec::len), Some(18));

    let show = env.run(&["reports", "show", "8"]);
    assert_eq!(show.code, 0, "{show:?}");
    for text in [
        "Port-out Orders",
        "StartDate",
        "OrderStatus",
        "COMPLETE",
        "submit report 8 --param AccountId=9900000",
    ] {
        assert!(show.stdout.contains(text), "{text}: {show:?}");
    }
    let detail = env.run(&["--json", "reports", "show", "8"]);
    let detail: serde_json::Value = serde_json::from_str(&detail.stdout).expect("JSON");
    let order_status = &detail["parameters"][3];
    assert_eq!(order_status["name"], "OrderStatus");
    assert_eq!(order_status["multi_select"], true);
    assert_eq!(order_status["required"], false);

    let unknown = env.run(&["reports", "show", "9"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("has no report 9"), "{unknown:?}");
    assert!(!env.store().exists(), "the catalogue needs no store");
}

#[cfg(unix)]
#[test]
fn credentials_come_from_a_private_config_file_too() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(quick_sim());
    let file = env.dir.path().join("creds.toml");
    std::fs::write(
        &file,
        format!(
            "client_id = \"demo-client\"\nclient_secret = \"demo-client-secret\"\ntoken_url = \"{}\"\n",
            env.sim.token_url()
        ),
    )
    .expect("write");
    let with_file = |mode: u32| -> Ran {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let no_basic = [("BANDWIDTH_USERNAME", None), ("BANDWIDTH_PASSWORD", None)];
        env.run_with(&no_basic, &["--config", path_str(&file), "reports", "list"])
    };
    let open = with_file(0o644);
    assert_eq!(open.code, 1, "{open:?}");
    assert!(open.stderr.contains("chmod 600"), "{open:?}");
    let private = with_file(0o600);
    assert_eq!(private.code, 0, "{private:?}");
    assert!(!private.stdout.contains("demo-client-secret"));
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}
