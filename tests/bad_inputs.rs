//! Guarantee 4, as a catalogue: bad command lines, bad batch files, bad configuration and bad
//! upstream answers, each with the exact exit code and the error line it must print, against a
//! store holding downloaded and live jobs, which must be the same afterwards (every job, every
//! history record). Then upstream refusals that belong to one job: that job fails with the
//! upstream's reason, the others are not harmed.

mod common;
mod harness;

use common::{Env, Ran, quick_sim};
use harness::*;
use std::path::Path;

/// The error classes of the catalogue, as the exit code and the shape of the error line.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    /// clap's usage errors and refused requests: exit 2, `error: ...`.
    Usage,
    /// A batch file problem: exit 2, `error: FILE:LINE: ...`.
    Batch,
    /// The environment or the upstream stopped the command: exit 1, `error: ...`.
    Runtime,
}

impl Class {
    fn code(self) -> i32 {
        match self {
            Class::Usage | Class::Batch => 2,
            Class::Runtime => 1,
        }
    }
}

/// How a row is triggered.
enum Trigger {
    /// Arguments (`|`-separated, so that one may hold spaces).
    Args(&'static str),
    /// Arguments with environment changes (`None` removes a variable).
    WithEnv(
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
    ),
    /// `submit batch` of a file with this text.
    BatchFile(&'static str),
    /// `submit batch` of a file with these bytes.
    BatchBytes(&'static [u8]),
    /// `--config FILE` with this text and mode, then the arguments, without credentials in the
    /// environment.
    Config(&'static str, u32, &'static str),
    /// The arguments with `--store` pointing at a directory prepared by the function.
    OtherStore(fn(&Path), &'static str),
    /// The simulator reconfigured (and restored afterwards), then the arguments.
    Upstream(fn(&mut reportflow_sim::SimConfig), &'static str),
    /// `--base-url` pointing at a closed port, then the arguments.
    ClosedPort(&'static str),
}

struct Row {
    what: &'static str,
    trigger: Trigger,
    class: Class,
    says: &'static str,
}

const fn row(what: &'static str, trigger: Trigger, class: Class, says: &'static str) -> Row {
    Row {
        what,
        trigger,
        class,
        says,
    }
}

const NO_CREDENTIALS: &[(&str, Option<&str>)] =
    &[("BANDWIDTH_USERNAME", None), ("BANDWIDTH_PASSWORD", None)];

use Class::*;
use Trigger::*;

const CATALOGUE: &[Row] = &[
    // The command line.
    row("no command", Args(""), Usage, "requires a subcommand"),
    row(
        "unknown command",
        Args("frobnicate"),
        Usage,
        "unrecognized subcommand 'frobnicate'",
    ),
    row(
        "unknown flag",
        Args("run|--frob"),
        Usage,
        "unexpected argument '--frob'",
    ),
    row(
        "report id not a number",
        Args("submit|report|two"),
        Usage,
        "is not a report id",
    ),
    row(
        "report id zero",
        Args("submit|report|0|--param|AccountId=9900000"),
        Usage,
        "\"0\" is not a report id",
    ),
    row(
        "parameter without =",
        Args("submit|report|4|--param|AccountId"),
        Usage,
        "has no '='; write it as NAME=VALUE",
    ),
    row(
        "parameter without a name",
        Args("submit|report|4|--param|=x"),
        Usage,
        "has no parameter name",
    ),
    row(
        "parameter with an empty value",
        Args("submit|report|4|--param|AccountId="),
        Usage,
        "the report parameter \"AccountId\" has an empty value",
    ),
    row(
        "unknown output format",
        Args("submit|report|4|--format|docx"),
        Usage,
        "the output format \"docx\" is unknown",
    ),
    row(
        "expiry in the past",
        Args("submit|report|4|--expires|2020-01-01"),
        Usage,
        "the expiry date 2020-01-01 is in the past",
    ),
    row(
        "expiry too far ahead",
        Args("submit|report|4|--expires|2999-01-01"),
        Usage,
        "is more than 30 days ahead",
    ),
    row(
        "expiry not a date",
        Args("submit|report|4|--expires|2026-02-30"),
        Usage,
        "--expires \"2026-02-30\" is not a date",
    ),
    row(
        "billing range reversed",
        Args("submit|billing|BDR|--from|2026-11-30|--to|2026-11-01"),
        Usage,
        "swap the dates",
    ),
    row(
        "billing date not a date",
        Args("submit|billing|BDR|--from|someday|--to|2026-11-01"),
        Usage,
        "--from \"someday\" is not a date; write it as YYYY-MM-DD (e.g. 2026-01-31) or relative to today",
    ),
    row(
        "billing date that does not exist",
        Args("submit|billing|BDR|--from|2026-11-01|--to|2026-11-31"),
        Usage,
        "--to \"2026-11-31\" is not a date: November 2026 has 30 days",
    ),
    row(
        "billing range unknown",
        Args("submit|billing|BDR|--range|last-week"),
        Usage,
        "--range \"last-week\" is not a range; use one of yesterday, last-7-days, last-month, month-to-date",
    ),
    row(
        "billing range and dates both",
        Args("submit|billing|BDR|--range|yesterday|--from|2026-11-01|--to|2026-11-02"),
        Usage,
        "cannot be used with",
    ),
    row(
        "billing split over the cap",
        Args("submit|billing|BDR|--from|2020-01-01|--to|2026-11-01|--split|day"),
        Usage,
        "makes more than 1000 jobs, the most one submit may make",
    ),
    row(
        "billing split with a key",
        Args("submit|billing|BDR|--range|last-month|--split|day|--key|k"),
        Usage,
        "cannot be used with",
    ),
    row(
        "unknown time zone",
        Args("submit|billing|BDR|--range|yesterday|--tz|Mars/Olympus"),
        Usage,
        "--tz \"Mars/Olympus\" is not a time zone this system knows",
    ),
    row(
        "label with a slash",
        Args("submit|billing|BDR|--range|yesterday|--label|a/b"),
        Usage,
        "the label \"a/b\" is not valid",
    ),
    row(
        "billing type not an identifier",
        Args("submit|billing|B D R|--from|2026-10-01|--to|2026-10-31"),
        Usage,
        "is not an upper-case identifier",
    ),
    row(
        "empty key",
        Args("submit|billing|BDR|--from|2026-10-01|--to|2026-10-31|--key|"),
        Usage,
        "the job key \"\" is not valid: it is empty",
    ),
    row(
        "padded key",
        Args("submit|report|4|--key| padded"),
        Usage,
        "starts or ends with white space",
    ),
    row(
        "account not digits",
        Args("--account|99x|submit|billing|BDR|--from|2026-10-01|--to|2026-10-31"),
        Usage,
        "the account id \"99x\" is not a number",
    ),
    row(
        "no account",
        WithEnv(
            "submit|billing|BDR|--from|2026-10-01|--to|2026-10-31",
            &[("BANDWIDTH_ACCOUNT_ID", None)],
        ),
        Usage,
        "no account: pass --account ID or set BANDWIDTH_ACCOUNT_ID",
    ),
    row(
        "key naming another request",
        Args("submit|billing|MDR|--from|2026-10-01|--to|2026-10-31|--key|bdr-oct"),
        Usage,
        "the job key \"bdr-oct\" already names job 1",
    ),
    row(
        "unknown job id",
        Args("status|999"),
        Usage,
        "no job \"999\" in the store",
    ),
    row(
        "unknown job key",
        Args("history|nope"),
        Usage,
        "no job \"nope\" in the store",
    ),
    row(
        "retry of a downloaded job",
        Args("retry|1"),
        Usage,
        "a job in state `downloaded` cannot take `retry`",
    ),
    row(
        "retry of a live job",
        Args("retry|mdr-live"),
        Usage,
        "a job in state `requested` cannot take `retry`",
    ),
    row(
        "retry of two jobs, one unknown",
        Args("retry|1|999"),
        Usage,
        "no job \"999\"",
    ),
    row(
        "cancel of an ended job",
        Args("cancel|2"),
        Usage,
        "cannot take `cancel`",
    ),
    row(
        "purge without an age",
        Args("purge"),
        Usage,
        "--older-than <DAYS>",
    ),
    row(
        "purge with a negative age",
        Args("purge|--older-than|-1"),
        Usage,
        "unexpected argument '-1'",
    ),
    row(
        "concurrency zero",
        Args("run|--concurrency|0"),
        Usage,
        "0 is not in 1..=1024",
    ),
    row(
        "interval without watch",
        Args("run|--interval|5"),
        Usage,
        "--watch",
    ),
    row(
        "unknown state",
        Args("status|--state|done"),
        Usage,
        "is not a state",
    ),
    row(
        "base URL not http",
        Args("--base-url|ftp://example.com|status"),
        Usage,
        "bad base URL",
    ),
    row(
        "base URL not a URL",
        Args("--base-url|not a url|status"),
        Usage,
        "is not a URL",
    ),
    row(
        "plain http to a remote host",
        Args("--base-url|http://example.com/api|run"),
        Usage,
        "plain http to a host that is not loopback",
    ),
    row(
        "demo with too many jobs",
        Args("demo|--jobs|999999"),
        Usage,
        "999999 is not in 0..=2000",
    ),
    row(
        "simulator fault rate too high",
        Args("sim|--fault-rate|0.5"),
        Usage,
        "is not a fault rate",
    ),
    // Batch files.
    row(
        "batch file missing",
        Args("submit|batch|/nonexistent/nightly.toml"),
        Usage,
        "cannot read the batch file /nonexistent/nightly.toml",
    ),
    row(
        "batch file not UTF-8",
        BatchBytes(b"account = \"9900000\"\n\xff\xfe\n"),
        Usage,
        "stream did not contain valid UTF-8; save it as UTF-8 text",
    ),
    row(
        "batch syntax error",
        BatchFile("account = \n"),
        Batch,
        ".toml:1: ",
    ),
    row(
        "batch unknown field",
        BatchFile(
            "account = \"1\"\n\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nform = 1\n",
        ),
        Batch,
        ".toml:7: unknown field `form`",
    ),
    row(
        "batch without entries",
        BatchFile("account = \"9900000\"\n"),
        Batch,
        ".toml:1: the batch has no [[report]] or [[billing]] entry",
    ),
    row(
        "batch unknown format",
        BatchFile(
            "account = \"9900000\"\n[[report]]\nid = 4\nformat = \"docx\"\nparams = { AccountId = \"9900000\" }\n",
        ),
        Batch,
        ".toml:4: the output format \"docx\" is unknown",
    ),
    row(
        "batch expiry in the past",
        BatchFile(
            "account = \"9900000\"\n[[report]]\nid = 4\nexpires = 2020-01-01\nparams = { AccountId = \"9900000\" }\n",
        ),
        Batch,
        ".toml:4: the expiry date 2020-01-01 is in the past",
    ),
    row(
        "batch range reversed",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-30\nto = 2026-11-01\n",
        ),
        Batch,
        ".toml:4: the date range starts on 2026-11-30",
    ),
    row(
        "batch date not a date",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nfrom = \"2026-02-30\"\nto = 2026-03-01\n",
        ),
        Batch,
        ".toml:4: from \"2026-02-30\" is not a date: February 2026 has 28 days",
    ),
    row(
        "batch relative date misspelt",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nfrom = \"yesterdya\"\nto = \"today\"\n",
        ),
        Batch,
        ".toml:4: from \"yesterdya\" is not a date; write it as YYYY-MM-DD",
    ),
    row(
        "batch range and from",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nrange = \"yesterday\"\nfrom = 2026-11-01\nto = 2026-11-02\n",
        ),
        Batch,
        ".toml:4: give either `range` or `from` and `to`, not both",
    ),
    row(
        "batch split unknown",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nrange = \"last-month\"\nsplit = \"hour\"\n",
        ),
        Batch,
        ".toml:5: split \"hour\" is not a way to split a range; use day, week or month",
    ),
    row(
        "batch split over the cap",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nfrom = 2020-01-01\nto = 2026-01-01\nsplit = \"day\"\n",
        ),
        Batch,
        ".toml:6: splitting 2020-01-01..2026-01-01 by day makes more than 1000 jobs",
    ),
    row(
        "batch unknown time zone",
        BatchFile(
            "account = \"9900000\"\ntz = \"Atlantis/Capital\"\n[[billing]]\ntype = \"MDR\"\nrange = \"yesterday\"\n",
        ),
        Batch,
        ".toml:2: tz \"Atlantis/Capital\" is not a time zone this system knows",
    ),
    row(
        "batch layout escapes",
        BatchFile(
            "account = \"9900000\"\nlayout = \"../{name}\"\n[[billing]]\ntype = \"MDR\"\nrange = \"yesterday\"\n",
        ),
        Batch,
        ".toml:2: the file layout \"../{name}\" cannot be used: it uses . or .. as a folder",
    ),
    row(
        "batch account not digits",
        BatchFile(
            "account = \"99x\"\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\n",
        ),
        Batch,
        ".toml:1: the account id \"99x\" is not a number",
    ),
    row(
        "batch report id not a number",
        BatchFile("account = \"9900000\"\n[[report]]\nid = \"eight\"\n"),
        Batch,
        ".toml:3: the report id must be a whole number",
    ),
    row(
        "batch parameter a table",
        BatchFile(
            "account = \"9900000\"\n[[report]]\nid = 4\nparams = { AccountId = { x = 1 } }\n",
        ),
        Batch,
        ".toml:4: parameter AccountId must be a string",
    ),
    row(
        "batch key used twice",
        BatchFile(
            "account = \"1\"\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nkey = \"k\"\n[[billing]]\ntype = \"MDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nkey = \"k\"\n",
        ),
        Batch,
        ".toml:8: the key \"k\" is also used at line 3",
    ),
    row(
        "batch key naming another job",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"MDR\"\nfrom = 2026-10-01\nto = 2026-10-31\nkey = \"bdr-oct\"\n",
        ),
        Batch,
        ".toml:3: the key \"bdr-oct\" already names job 1",
    ),
    row(
        "batch with one bad entry among good ones",
        BatchFile(
            "account = \"9900000\"\n[[billing]]\ntype = \"CNAMBDR\"\nfrom = 2026-09-01\nto = 2026-09-30\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-09-30\nto = 2026-09-01\n",
        ),
        Batch,
        ".toml:8: the date range starts on 2026-09-30",
    ),
    // Configuration and credentials.
    row(
        "no credentials",
        WithEnv("run", NO_CREDENTIALS),
        Runtime,
        "no credentials: set BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2)",
    ),
    row(
        "half a Basic pair",
        WithEnv("run", &[("BANDWIDTH_PASSWORD", None)]),
        Runtime,
        "BANDWIDTH_USERNAME is set but BANDWIDTH_PASSWORD is not",
    ),
    row(
        "half an OAuth2 pair",
        WithEnv("run", &[("BANDWIDTH_CLIENT_ID", Some("demo-client"))]),
        Runtime,
        "BANDWIDTH_CLIENT_ID is set but BANDWIDTH_CLIENT_SECRET is not",
    ),
    row(
        "config file readable by others",
        Config(
            "username = \"demo\"\npassword = \"demo-secret\"\n",
            0o644,
            "run",
        ),
        Runtime,
        "other users can access it (mode 644); run `chmod 600",
    ),
    row(
        "config file missing",
        WithEnv("--config|/nonexistent/creds.toml|run", NO_CREDENTIALS),
        Runtime,
        "cannot read the config file /nonexistent/creds.toml",
    ),
    row(
        "config file with an unknown field",
        Config("user = \"demo\"\n", 0o600, "run"),
        Usage,
        ":1: unknown field `user`",
    ),
    row(
        "config file with an unquoted secret",
        Config("username = \"demo\"\npassword = 123456\n", 0o600, "run"),
        Usage,
        ":2: this value is not a quoted string",
    ),
    // Stores that are not stores.
    row(
        "store path is a file",
        OtherStore(|p| std::fs::write(p, "x").expect("write"), "status"),
        Runtime,
        "exists but is not a directory",
    ),
    row(
        "store path is another program's folder",
        OtherStore(
            |p| {
                std::fs::create_dir(p).expect("mkdir");
                std::fs::write(p.join("notes.txt"), "mine").expect("write");
            },
            "submit|billing|BDR|--from|2026-10-01|--to|2026-10-31",
        ),
        Runtime,
        "is not empty and is not a reportflow store",
    ),
    row(
        "run on a store that does not exist",
        OtherStore(|_| {}, "run"),
        Usage,
        "there is no store at",
    ),
    // Upstream answers that stop a run before it touches a job.
    row(
        "upstream refuses the password",
        WithEnv("run", &[("BANDWIDTH_PASSWORD", Some("wrong"))]),
        Runtime,
        "the upstream refused the credentials for account 9900000",
    ),
    row(
        "upstream refuses the OAuth2 client",
        Upstream(|_| {}, "OAUTH2-WRONG"),
        Runtime,
        "; check the credentials: BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2)",
    ),
    row(
        "upstream no longer takes Basic",
        Upstream(|c| c.basic_auth = false, "run"),
        Runtime,
        "HTTP Basic (BANDWIDTH_USERNAME and BANDWIDTH_PASSWORD) is no longer accepted for Bandwidth's API users from 2026-12-02; fix them and run again",
    ),
    row(
        "upstream no longer takes Basic, for the catalogue",
        Upstream(|c| c.basic_auth = false, "reports|list"),
        Runtime,
        "the upstream refused the credentials: HTTP 401: report list: Unauthorized; check the credentials: BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2); HTTP Basic",
    ),
    row(
        "upstream unreachable",
        ClosedPort("run"),
        Runtime,
        "cannot reach the upstream at 127.0.0.1",
    ),
    row(
        "upstream unreachable for the catalogue",
        ClosedPort("reports|list"),
        Runtime,
        "127.0.0.1",
    ),
    row(
        "upstream has no such report",
        Args("reports|show|9"),
        Usage,
        "has no report 9",
    ),
];

fn split(args: &str) -> Vec<String> {
    if args.is_empty() {
        Vec::new()
    } else {
        args.split('|').map(str::to_string).collect()
    }
}

/// Runs one row; returns what the binary did.
fn trigger(env: &Env, n: usize, row: &Row) -> Ran {
    let dir = env.dir.path();
    let run = |vars: &[(&str, Option<&str>)], args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run_with(vars, &args)
    };
    let submit_batch = |bytes: &[u8]| {
        let file = dir.join(format!("bad-{n}.toml"));
        std::fs::write(&file, bytes).expect("write batch");
        run(&[], split(&format!("submit|batch|{}", file.display())))
    };
    match &row.trigger {
        Args(args) => run(&[], split(args)),
        WithEnv(args, vars) => run(vars, split(args)),
        BatchFile(text) => submit_batch(text.as_bytes()),
        BatchBytes(bytes) => submit_batch(bytes),
        Config(text, mode, command) => {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.join(format!("creds-{n}.toml"));
            std::fs::write(&file, text).expect("write config");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(*mode)).expect("chmod");
            let mut args = vec!["--config".to_string(), file.display().to_string()];
            args.extend(split(command));
            run(NO_CREDENTIALS, args)
        }
        OtherStore(prepare, args) => {
            let other = dir.join(format!("other-{n}"));
            prepare(&other);
            let before = tree_digest(&other);
            let mut all = vec!["--store".to_string(), other.display().to_string()];
            all.extend(split(args));
            let ran = run(&[], all);
            assert_eq!(
                tree_digest(&other),
                before,
                "{}: the other folder was changed",
                row.what
            );
            ran
        }
        Upstream(change, args) => {
            let saved = env.sim.config();
            env.sim.configure(*change).expect("configure");
            let ran = if *args == "OAUTH2-WRONG" {
                let token_url = env.sim.token_url();
                run(
                    &[
                        ("BANDWIDTH_USERNAME", None),
                        ("BANDWIDTH_PASSWORD", None),
                        ("BANDWIDTH_CLIENT_ID", Some("demo-client")),
                        ("BANDWIDTH_CLIENT_SECRET", Some("not-the-secret")),
                        ("BANDWIDTH_TOKEN_URL", Some(&token_url)),
                    ],
                    vec!["run".into()],
                )
            } else {
                run(&[], split(args))
            };
            env.sim.configure(|c| *c = saved).expect("restore");
            ran
        }
        ClosedPort(args) => {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let url = format!(
                "http://127.0.0.1:{}/api",
                closed.local_addr().expect("addr").port()
            );
            drop(closed);
            let mut all = vec!["--base-url".to_string(), url];
            all.extend(split(args));
            run(&[], all)
        }
    }
}

/// The store's jobs and the upstream's creations, before and after every row.
fn creations(env: &Env) -> (u64, u64) {
    let stats = env.sim.stats();
    (
        stats.total_instance_creations(),
        stats.total_billing_creations(),
    )
}

/// A store with two downloaded jobs and a live one.
fn seeded_env() -> Env {
    let env = Env::new(quick_sim());
    env.ok("submit billing BDR --from 2026-10-01 --to 2026-10-31 --key bdr-oct");
    env.ok("submit report 4 --param AccountId=9900000 --param SiteId=1");
    env.ok("run");
    env.ok("submit billing MDR --from 2026-10-01 --to 2026-10-31 --key mdr-live");
    env
}

#[test]
fn every_bad_input_gets_its_exact_error_and_nothing_stored_is_harmed() {
    assert!(CATALOGUE.len() >= 30);
    let env = seeded_env();
    let before = read_store(&env.store()).expect("the store opens");
    assert_eq!(before.jobs.len(), 3);
    let created = creations(&env);
    let mut table = Vec::new();
    for (n, row) in CATALOGUE.iter().enumerate() {
        let ran = trigger(&env, n, row);
        let what = row.what;
        assert_eq!(ran.code, row.class.code(), "{what}: {ran:?}");
        let errors: Vec<&str> = ran
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("error: "))
            .collect();
        assert!(!errors.is_empty(), "{what}: an `error: ` line: {ran:?}");
        assert!(
            ran.stderr.contains(row.says),
            "{what}: says {:?}: {ran:?}",
            row.says
        );
        if row.class == Class::Batch {
            for line in &errors {
                let (file, rest) = line.split_once(".toml:").expect("FILE.toml:LINE:");
                assert!(file.ends_with(&format!("bad-{n}")), "{what}: {line}");
                let number = rest.split(':').next().unwrap_or_default();
                assert!(number.parse::<usize>().is_ok(), "{what}: {line}");
            }
        }
        assert!(
            ran.stdout.is_empty() || row.class != Class::Batch,
            "{what}: {ran:?}"
        );
        let after = read_store(&env.store()).expect("the store opens");
        assert!(after == before, "{what}: the store changed");
        assert_eq!(
            creations(&env),
            created,
            "{what}: something was created upstream"
        );
        table.push(format!(
            "{:<45} exit {}  {}",
            what,
            ran.code,
            errors.first().copied().unwrap_or_default()
        ));
    }
    println!("{} bad inputs, store unchanged after each:", table.len());
    for line in table {
        println!("  {line}");
    }
}

#[test]
fn an_upstream_refusal_fails_only_its_job_with_the_upstream_reason() {
    let env = seeded_env();
    let before = read_store(&env.store()).expect("the store opens");
    // Report 16 needs UcAccount (400, 19032); report 999 does not exist (404, 19000); the
    // upstream does not know the billing type FOOBDR (400, 15500; the CLI only warns).
    env.ok("submit report 16 --param AccountId=9900000");
    env.ok("submit report 999 --param AccountId=9900000");
    let ran = env.line("submit billing FOOBDR --from 2026-10-01 --to 2026-10-31");
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stderr.contains("warning: "), "{ran:?}");
    let run = env.run(&["run"]);
    assert_eq!(run.code, 3, "{run:?}");
    let after = read_store(&env.store()).expect("the store opens");
    for (id, (job, history)) in &before.jobs {
        let (now, now_history) = &after.jobs[id];
        if job.state.is_terminal() {
            assert_eq!(now, job, "ended job {id} untouched");
            assert_eq!(now_history, history);
        } else {
            assert_eq!(
                now.state.name(),
                reportflow_core::StateName::Downloaded,
                "the live job completed"
            );
        }
    }
    let mut reasons = Vec::new();
    for (id, (job, _)) in after
        .jobs
        .iter()
        .filter(|(id, _)| !before.jobs.contains_key(id))
    {
        let reportflow_core::JobState::Failed { failure } = &job.state else {
            panic!("job {id}: {:?}", job.state)
        };
        reasons.push((failure.http_status, failure.code));
        assert!(!failure.message.is_empty());
    }
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (Some(400), Some(15500)),
            (Some(400), Some(19032)),
            (Some(404), Some(19000))
        ]
    );
    let stats = env.sim.stats();
    assert_eq!(
        stats.status_count(reportflow_sim::Endpoint::Create, 400),
        2,
        "no retry"
    );
    assert_eq!(
        stats.status_count(reportflow_sim::Endpoint::Create, 404),
        1,
        "no retry"
    );
}
