//! The command line as clap sees it: every command, flag, help text and example.

use clap::{ArgAction, Args, Parser, Subcommand};
use reportflow_core::{DateExpr, Label, OutputFormat, RangeExpr, Split, StateName};
use std::path::PathBuf;

/// The store directory used when neither `--store` nor `REPORTFLOW_STORE` is set.
pub const DEFAULT_STORE: &str = "./reportflow-store";

/// Bandwidth's API base, used when neither `--base-url` nor `REPORTFLOW_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://dashboard.bandwidth.com/api";

const ABOUT: &str = "Durable, resumable downloads of Bandwidth account and billing reports";

const LONG_ABOUT: &str = "\
Durable, resumable downloads of Bandwidth account and billing reports.

A report is a job: `submit` records it (nothing is sent), `run` creates it upstream, polls it and
downloads it to exactly one verified file, resuming whatever a crashed run left. Credentials come
only from the environment (BANDWIDTH_CLIENT_ID/BANDWIDTH_CLIENT_SECRET for OAuth2; the legacy
BANDWIDTH_USERNAME/BANDWIDTH_PASSWORD for Basic, which Bandwidth retires on 2026-12-02) or from a
--config file, never from a flag.";

const MAIN_AFTER: &str = "\
Examples:
  reportflow demo                                  # everything, on the embedded simulator
  reportflow submit billing BDR --from 2026-11-01 --to 2026-11-30
  reportflow submit billing BDR --range yesterday --tz Europe/Berlin --label nightly
  reportflow run --out ./reports
  reportflow status

Exit codes:
  0  success; for `run`/`demo`: every job of the run ended downloaded or nodata
  1  runtime error: store locked or unreachable, no credentials, upstream unreachable, disk error
  2  usage or input error: unknown command, bad date, bad parameter, bad batch file, unknown job
  3  `run`/`demo`: some job ended failed, expired or cancelled

Environment:
  REPORTFLOW_STORE (a directory or postgres://user@host/db), PGPASSWORD (its password)
  REPORTFLOW_BASE_URL, BANDWIDTH_ACCOUNT_ID, REPORTFLOW_CONFIG, REPORTFLOW_OUT
  REPORTFLOW_TZ (the zone relative dates such as `yesterday` are resolved in; default UTC)
  BANDWIDTH_CLIENT_ID + BANDWIDTH_CLIENT_SECRET [+ BANDWIDTH_TOKEN_URL] (OAuth2), or the legacy
  BANDWIDTH_USERNAME + BANDWIDTH_PASSWORD (Basic, retired by Bandwidth on 2026-12-02)
  REPORTFLOW_LOG (a tracing filter, e.g. `debug`)
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY (also lower case; curl's rules, CONNECT tunnels)
  REPORTFLOW_CA_FILE or SSL_CERT_FILE (a PEM bundle to trust too), REPORTFLOW_NATIVE_ROOTS

Docs: README.md, docs/cli.md, docs/operations.md, docs/embedding.md";

/// `reportflow`: the parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "reportflow",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = MAIN_AFTER,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Options every command takes (they may be given before or after the command).
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// The job store: a directory (created by the first `submit`; one process at a time), or a
    /// postgres://user@host/db URL shared by any number of workers and submitters (its
    /// password from PGPASSWORD, never on the command line).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "REPORTFLOW_STORE",
        default_value = DEFAULT_STORE,
        value_name = "DIR|URL"
    )]
    pub store: PathBuf,

    /// The Bandwidth API base URL (plain http only to loopback, e.g. the simulator).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "REPORTFLOW_BASE_URL",
        default_value = DEFAULT_BASE_URL,
        value_name = "URL"
    )]
    pub base_url: String,

    /// Allow plain http to hosts other than loopback (credentials then travel unencrypted).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub allow_insecure_http: bool,

    /// Also trust the certificate authorities of this PEM file (e.g. a TLS-inspecting proxy's
    /// CA); SSL_CERT_FILE is honoured as well.
    #[arg(long, global = true, help_heading = GLOBAL, env = "REPORTFLOW_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Trust the operating system's certificate store instead of the built-in webpki roots.
    #[arg(long, global = true, help_heading = GLOBAL, env = "REPORTFLOW_NATIVE_ROOTS")]
    pub native_roots: bool,

    /// The Bandwidth account id (digits).
    #[arg(long, global = true, help_heading = GLOBAL, env = "BANDWIDTH_ACCOUNT_ID", value_name = "ID")]
    pub account: Option<String>,

    /// A TOML file with credentials (mode 600): username/password or client_id/client_secret.
    #[arg(long, global = true, help_heading = GLOBAL, env = "REPORTFLOW_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Machine-readable output: JSON on stdout (one event per line for `run`).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, help_heading = GLOBAL, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr (no progress, no log lines).
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the account's report types, or shows one report's parameters (asks the upstream).
    #[command(subcommand, after_help = REPORTS_AFTER)]
    Reports(ReportsCommand),
    /// Records a job in the store; nothing is sent upstream until `run`.
    #[command(subcommand, after_help = SUBMIT_AFTER)]
    Submit(SubmitCommand),
    /// Drives every live job (also those a crashed run left) to its end, then exits.
    #[command(after_help = RUN_AFTER)]
    Run(RunArgs),
    /// Runs the engine until SIGTERM: new jobs start at once, other commands go through it.
    #[command(after_help = SERVE_AFTER)]
    Serve(ServeArgs),
    /// Shows jobs: all of them, those in a state, or the ones named.
    #[command(after_help = STATUS_AFTER)]
    Status(StatusArgs),
    /// Shows a job's transitions, oldest first.
    #[command(after_help = HISTORY_AFTER)]
    History(JobArg),
    /// Starts a new attempt of failed, expired, cancelled or nodata jobs (`run` then does it).
    #[command(after_help = RETRY_AFTER)]
    Retry(RetryArgs),
    /// Cancels jobs that have not ended.
    #[command(after_help = CANCEL_AFTER)]
    Cancel(JobsArg),
    /// Removes ended jobs (and their history) last changed more than DAYS days ago.
    #[command(after_help = PURGE_AFTER)]
    Purge(PurgeArgs),
    /// Runs the whole catalogue against the embedded simulator: no credentials, no network.
    #[command(after_help = DEMO_AFTER)]
    Demo(DemoArgs),
    /// Runs the simulated Bandwidth upstream on loopback until Ctrl-C, to try every command.
    #[command(after_help = SIM_AFTER)]
    Sim(SimArgs),
}

/// `reports ...`.
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Lists the report types of the account.
    #[command(after_help = REPORTS_LIST_AFTER)]
    List,
    /// Shows a report's parameters: name, type, required, allowed values, help.
    #[command(after_help = REPORTS_SHOW_AFTER)]
    Show {
        /// The report id, from `reportflow reports list`.
        #[arg(value_name = "REPORT_ID", value_parser = parse_report_id)]
        report_id: u32,
    },
}

/// `submit ...`.
#[derive(Debug, Subcommand)]
pub enum SubmitCommand {
    /// Submits an account report (`/reports/{REPORT_ID}/instances`).
    #[command(after_help = SUBMIT_REPORT_AFTER)]
    Report(SubmitReport),
    /// Submits a billing report (`/billingReports`) over a date range.
    #[command(after_help = SUBMIT_BILLING_AFTER)]
    Billing(SubmitBilling),
    /// Submits every report of a TOML batch file, after checking all of them.
    #[command(after_help = SUBMIT_BATCH_AFTER)]
    Batch(SubmitBatch),
}

/// Options of every `submit`: the jobs' label and the zone relative dates resolve in.
#[derive(Debug, Args)]
pub struct SubmitOptions {
    /// A label for the jobs (`status`, `run` and `retry --label` pick them by it); a batch
    /// file's default is its name without `.toml`.
    #[arg(long, value_name = "NAME", value_parser = parse_label)]
    pub label: Option<Label>,
    /// The time zone "today" is taken in for relative dates [default: the batch file's `tz`,
    /// else REPORTFLOW_TZ, else UTC].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

/// `submit report`.
#[derive(Debug, Args)]
pub struct SubmitReport {
    /// The report id, from `reportflow reports list`.
    #[arg(value_name = "REPORT_ID", value_parser = parse_report_id)]
    pub report_id: u32,
    /// A report parameter; repeat the same NAME for a multi-valued parameter. A value that is
    /// a relative date (yesterday, month-start, ...) is resolved to YYYY-MM-DD.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The output format: pdf, csv, xls or html.
    #[arg(long, value_name = "FMT", default_value = "csv", value_parser = parse_format)]
    pub format: OutputFormat,
    /// The day the upstream output expires (today to 30 days ahead): YYYY-MM-DD or relative
    /// (today+7d).
    #[arg(long, value_name = "DATE", value_parser = parse_expires)]
    pub expires: Option<DateExpr>,
    /// The job's key (submitting the same key again names the same job); derived if omitted.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Label and time zone.
    #[command(flatten)]
    pub options: SubmitOptions,
}

/// `submit billing`.
#[derive(Debug, Args)]
pub struct SubmitBilling {
    /// The billing report type, e.g. BDR, MDR, INVOICE, DIDSNAP.
    #[arg(value_name = "TYPE")]
    pub report_type: String,
    /// First day of the range: YYYY-MM-DD or relative (today, yesterday, today-7d,
    /// month-start, last-month-start, last-month-end).
    #[arg(long, value_name = "DATE", value_parser = parse_from,
          required_unless_present = "range", requires = "to")]
    pub from: Option<DateExpr>,
    /// Last day of the range (inclusive), written like --from.
    #[arg(long, value_name = "DATE", value_parser = parse_to,
          required_unless_present = "range", requires = "from")]
    pub to: Option<DateExpr>,
    /// A named range instead of --from/--to: yesterday, last-7-days, last-month, month-to-date.
    #[arg(long, value_name = "RANGE", value_parser = parse_range, conflicts_with_all = ["from", "to"])]
    pub range: Option<RangeExpr>,
    /// One job per day, week (Monday to Sunday) or month of the range (a backfill).
    #[arg(long, value_name = "PERIOD", value_parser = parse_split)]
    pub split: Option<Split>,
    /// The job's key (submitting the same key again names the same job); derived if omitted.
    #[arg(long, value_name = "KEY", conflicts_with = "split")]
    pub key: Option<String>,
    /// Label and time zone.
    #[command(flatten)]
    pub options: SubmitOptions,
}

/// `submit batch`.
#[derive(Debug, Args)]
pub struct SubmitBatch {
    /// The batch file (TOML).
    #[arg(value_name = "FILE.toml")]
    pub file: PathBuf,
    /// Label and time zone.
    #[command(flatten)]
    pub options: SubmitOptions,
}

/// What `run` and `serve` drive: where files go, how many jobs at once, which jobs.
#[derive(Clone, Debug, Args)]
pub struct EngineArgs {
    /// Where report files go [default: the batch file's `out`, else ./reports].
    #[arg(long, env = "REPORTFLOW_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Jobs worked on at once (on a PostgreSQL store: jobs this worker holds at once).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Jobs of one account worked on at once: by this process, at most --concurrency; on a
    /// PostgreSQL store by all the workers together.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub per_account: u16,
    /// PostgreSQL store: seconds a worker's claim on a job lasts without renewal; a dead
    /// worker's jobs move to another after about this long (a create request gets at most half).
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub lease: u32,
    /// Only the jobs with this label (the others wait for another run).
    #[arg(long, value_name = "NAME", value_parser = parse_label)]
    pub label: Option<Label>,
    /// Where each file goes under --out, e.g. "{kind}/{type}/{from}_{to}.{ext}" [default: the
    /// batch file's `layout`, else flat under the upstream's name]. Placeholders: {account},
    /// {kind}, {type}, {from}, {to}, {key}, {label}, {name}, {ext}.
    #[arg(long, value_name = "TEMPLATE")]
    pub layout: Option<String>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where files go, how many at once, which jobs.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Keep going until Ctrl-C or SIGTERM, picking up new jobs at once: the same as `serve`.
    #[arg(long)]
    pub watch: bool,
    /// No effect (`run --watch` is `serve`, which has no rounds); kept for old scripts.
    #[arg(long, value_name = "SECS", requires = "watch", hide = true,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub interval: Option<u32>,
    /// Write a JSON manifest of the jobs the run covered to FILE (atomically).
    #[arg(long, value_name = "FILE", conflicts_with = "watch")]
    pub manifest: Option<PathBuf>,
    /// With --manifest: also write an empty `_SUCCESS` beside it when every covered job ended
    /// downloaded or nodata (and every file checked out).
    #[arg(long, requires = "manifest")]
    pub success_marker: bool,
    /// Unpack each downloaded billing zip into a folder beside it.
    #[arg(long, conflicts_with = "watch")]
    pub extract: bool,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where files go, how many at once, which jobs.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also serve GET /healthz, /metrics, /jobs and /jobs/ID over HTTP on this address
    /// (host:port, e.g. 127.0.0.1:9464; port 0 picks a free one). Loopback only, unless
    /// --listen-beyond-loopback.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Allow --listen on an address other than loopback (the endpoints have no
    /// authentication: put them behind a firewall or a proxy that has).
    #[arg(long, requires = "listen")]
    pub listen_beyond_loopback: bool,
    /// On SIGTERM or Ctrl-C: seconds the steps in flight get to finish before they are
    /// abandoned (each stays resumable); a second signal abandons them at once.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=3_600))]
    pub stop_timeout: u32,
    /// Seconds between two summary lines in the log (jobs by state, what was done).
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub summary_every: u32,
}

impl ServeArgs {
    /// `serve` as `run --watch` asks for it: the run's engine settings, no HTTP, the defaults.
    pub fn of_run(engine: EngineArgs) -> ServeArgs {
        ServeArgs {
            engine,
            listen: None,
            listen_beyond_loopback: false,
            stop_timeout: 5,
            summary_every: 300,
        }
    }
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Job ids or keys; all jobs when none is given.
    #[arg(value_name = "JOB")]
    pub jobs: Vec<String>,
    /// Only jobs in this state (requested, created, polling, ready, completed, downloaded,
    /// expired, nodata, failed, cancelled).
    #[arg(long, value_name = "STATE", value_parser = parse_state, conflicts_with = "jobs")]
    pub state: Option<StateName>,
    /// Only jobs with this label.
    #[arg(long, value_name = "NAME", value_parser = parse_label, conflicts_with = "jobs")]
    pub label: Option<Label>,
}

/// `retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Job ids or keys.
    #[arg(value_name = "JOB", required_unless_present = "label")]
    pub jobs: Vec<String>,
    /// Every failed, expired, cancelled or nodata job with this label.
    #[arg(long, value_name = "NAME", value_parser = parse_label, conflicts_with = "jobs")]
    pub label: Option<Label>,
}

/// A command about one job.
#[derive(Debug, Args)]
pub struct JobArg {
    /// The job's id or key.
    #[arg(value_name = "JOB")]
    pub job: String,
}

/// A command about one or more jobs.
#[derive(Debug, Args)]
pub struct JobsArg {
    /// Job ids or keys.
    #[arg(value_name = "JOB", required = true)]
    pub jobs: Vec<String>,
}

/// `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Remove ended jobs last changed more than this many days ago (0: every ended job).
    #[arg(long, value_name = "DAYS", required = true,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub older_than: u32,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Extra account report jobs on top of the whole catalogue.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=2_000))]
    pub jobs: u32,
    /// The folder each demo run writes a new `run-<time>` folder into.
    #[arg(long, value_name = "DIR", default_value = "./reports/demo")]
    pub out: PathBuf,
    /// The simulator's seed (faults, file sizes and contents).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

/// `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The API port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// Seed of every random choice (faults, sizes, contents).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Probability of each fault kind per request, 0 to 0.07 (stalled bodies and unreadable
    /// whole bodies excluded).
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = parse_fault_rate)]
    pub fault_rate: f64,
    /// How long a report takes to be ready, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub processing_ms: u64,
    /// Serve account report files through a 307 redirect to a second origin.
    #[arg(long)]
    pub redirect_files: bool,
    /// Refuse HTTP Basic (as Bandwidth will after 2026-12-02): only OAuth2 tokens work.
    #[arg(long)]
    pub oauth2_only: bool,
    /// Serve https (both origins and the token endpoint) with a CA and certificate made at start.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: where to write the CA certificate (PEM) clients must trust.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Reset every create request before it is applied (nothing is created, no answer comes
    /// back): an upstream that never confirms a create, to see a run give up on it.
    #[arg(long, conflicts_with = "fault_rate")]
    pub drop_creates: bool,
}

const REPORTS_AFTER: &str = "\
Examples:
  reportflow --account 9900000 reports list
  reportflow --account 9900000 reports show 8
Needs credentials (see `reportflow --help`) and an account (--account or BANDWIDTH_ACCOUNT_ID).";

const SUBMIT_AFTER: &str = "\
Examples:
  reportflow --account 9900000 submit report 4 --param AccountId=9900000
  reportflow --account 9900000 submit billing BDR --from 2026-11-01 --to 2026-11-30
  reportflow --account 9900000 submit billing BDR --range last-month --split day
  reportflow submit batch nightly.toml --label nightly-2026-11-27
Dates may be YYYY-MM-DD or relative: today, yesterday, today-7d, today+3d, month-start,
last-month-start, last-month-end (resolved once, now, in --tz / REPORTFLOW_TZ / UTC).
Prints the job's id and key. Nothing is sent upstream: `reportflow run` does the work.";

const REPORTS_LIST_AFTER: &str = "\
Example:
  $ reportflow --account 9900000 reports list
  ID  NAME
  2   Full Phone Number Details
  4   Phone Number Inventory
  ...
Needs credentials (see `reportflow --help`) and an account (--account or BANDWIDTH_ACCOUNT_ID).";

const REPORTS_SHOW_AFTER: &str = "\
Example:
  $ reportflow --account 9900000 reports show 8
  8  Port-out Orders
  NAME         TYPE        REQUIRED  MULTI  VALUES                               HELP
  AccountId    Account ID  yes       no                                          The account the report covers.
  StartDate    Date        yes       no                                          YYYY-MM-DD
  ...
  submit with: reportflow submit report 8 --param AccountId=9900000 --param StartDate=... ";

const SUBMIT_REPORT_AFTER: &str = "\
Example:
  $ reportflow --account 9900000 submit report 2 --param AccountId=9900000 \\
      --param TnStatus=Inservice --param TnStatus=Aging --format csv --key nightly-numbers
  submitted job 1 (key nightly-numbers); `reportflow run` downloads it
A repeated --param with the same NAME makes a multi-valued parameter. Nothing is sent upstream.";

const SUBMIT_BILLING_AFTER: &str = "\
Example:
  $ reportflow --account 9900000 submit billing BDR --from 2026-11-01 --to 2026-11-30
  submitted job 2 (key billing-9900000-BDR-2026-11-01-2026-11-30); `reportflow run` downloads it
  $ reportflow --account 9900000 submit billing BDR --range yesterday --tz Europe/Berlin
  submitted job 3 (key billing-9900000-BDR-2026-11-26-2026-11-26) from range=yesterday (resolved on 2026-11-27, Europe/Berlin); ...
  $ reportflow --account 9900000 submit billing MDR --from 2026-10-01 --to 2026-10-31 --split day
  submitted 31 job(s) (31 new) from --split day (...); `reportflow run` downloads them
Ranges: yesterday, last-7-days (today-7d..yesterday), last-month, month-to-date. The same
relative range submitted twice the same day is one job; the next day's is a new one. One submit
makes at most 1000 jobs. Nothing is sent upstream. A range without data ends as `nodata`.";

const SUBMIT_BATCH_AFTER: &str = "\
Example file (nightly.toml):
  account = \"9900000\"
  out = \"reports/nightly\"          # default --out of `run` for this store
  tz = \"Europe/Berlin\"             # optional: the zone relative dates resolve in
  layout = \"{kind}/{type}/{from}_{to}.{ext}\"   # optional: default --layout of `run`

  [[report]]
  id = 8
  format = \"csv\"                    # pdf, csv, xls, html (default csv)
  params = { AccountId = \"9900000\", StartDate = 2026-11-01, EndDate = 2026-11-30, OrderStatus = [\"COMPLETE\", \"PENDING\"] }
  expires = 2026-12-20              # optional
  key = \"port-outs-2026-11\"         # optional

  [[billing]]
  type = \"BDR\"
  from = 2026-11-01
  to = 2026-11-30

  [[billing]]
  type = \"MDR\"
  range = \"yesterday\"               # or from = \"today-7d\", to = \"yesterday\"
  split = \"day\"                     # optional: one job per day, week or month

  $ reportflow submit batch nightly.toml
  submitted 3 jobs (3 new) from nightly.toml; `reportflow run` downloads them
The jobs are labelled with the file's name (nightly) unless --label says otherwise.
Every entry is checked before anything is stored; each problem is reported as FILE:LINE: message
and nothing is stored (exit 2).";

const RUN_AFTER: &str = "\
Example:
  $ reportflow run --out ./reports
  ID  KEY                                        KIND     STATE       BYTES     FILE / ERROR
  1   port-outs-2026-11                          account  downloaded  52.5 KiB  /home/me/reports/report-100001.csv
  2   billing-9900000-BDR-2026-11-01-2026-11-25  billing  downloaded  15.0 KiB  /home/me/reports/bdrs_2026-11-01_2026-11-25.zip

  run: 2 jobs ended: 2 downloaded
  files in /home/me/reports
  $ reportflow run --label nightly-2026-11-27 --layout '{kind}/{type}/{from}_{to}.{ext}' \\
      --manifest manifests/nightly-2026-11-27/manifest.json --success-marker --extract
--label drives only that label's jobs. --layout places files in folders (placeholders {account},
{kind}, {type}, {from}, {to}, {key}, {label}, {name}, {ext}); values that cannot be part of a path
stop the run before any request. --manifest writes a JSON list of the covered jobs and their
verified files; --success-marker adds an empty _SUCCESS beside it only when every one ended
downloaded or nodata. --extract unpacks billing zips beside themselves (bounded, sanitized).
On a terminal it shows a progress bar per active job; otherwise plain log lines on stderr;
with --json one JSON event per line on stdout. Ctrl-C or SIGTERM stops cleanly (jobs resume on
the next run). It first checks that the upstream answers and takes the credentials, so a wrong
URL, password, proxy or certificate changes nothing (a certificate refused later stops the run
with its reason; every job resumes). While it runs on a directory store, the other commands
(submit, status, ...) go through it (the control socket in the store directory). `run --watch`
is `serve`.

Several workers on one PostgreSQL store (one per host, each with its own --out):
  $ export REPORTFLOW_STORE=postgres://reportflow@db.internal/reportflow PGPASSWORD=...
  $ reportflow run --out /srv/reports        # on each host; exits when no job is live
Each worker claims due jobs under a lease (--lease), other processes submit and look meanwhile,
and a dead worker's jobs move to the others after its lease.

Exit codes:
  0  every job ended downloaded or nodata
  1  runtime error (store locked, no credentials, upstream unreachable, interrupted)
  2  usage error
  3  some job ended failed, expired or cancelled (see `reportflow status --state failed`), or
     (--manifest, --extract) a covered file is missing or changed, or an archive was refused";

const SERVE_AFTER: &str = "\
Example:
  $ reportflow --store /srv/reportflow serve --out /srv/reports --listen 127.0.0.1:9464
  INFO serve: engine on /srv/reportflow (control socket /srv/reportflow/reportflow.sock), files into /srv/reports
  INFO serve: GET /healthz, /metrics, /jobs on http://127.0.0.1:9464
  INFO job 7 billing-9900000-BDR-2026-11-26-2026-11-26: requested -> created
  ...
  (meanwhile, from any pipeline)
  $ reportflow --store /srv/reportflow submit billing BDR --range yesterday
  $ reportflow --store /srv/reportflow status
Runs until SIGTERM or Ctrl-C: jobs submitted meanwhile start at once (other commands reach the
engine through the control socket in the store directory, with the same output and exit codes),
steps in flight get --stop-timeout seconds to finish, then it exits 0 (every job resumable).
On a PostgreSQL store (--store postgres://...) it is one worker among any number: it claims
due jobs under leases (--lease), hears of new ones at once (LISTEN/NOTIFY), and the other
commands talk to the database directly (no socket).
Logs go to stderr: a line per state change and a summary every --summary-every seconds (JSON
lines with --json). With --listen: GET /healthz (200 while running, 503 otherwise), /metrics
(Prometheus, OpenMetrics text), /jobs and /jobs/ID (JSON, as `status --json`); read only.
Needs credentials as `run` does. docs/operations.md has a systemd unit and a container example.

Exit codes:
  0  stopped by SIGTERM or Ctrl-C
  1  runtime error (store locked or unreachable at start, no credentials, refused credentials,
     a directory store failing under it)
  2  usage error";

const STATUS_AFTER: &str = "\
Example:
  $ reportflow status
  ID  KEY                                        KIND     STATE       BYTES     FILE / ERROR
  1   nightly-numbers                            account  downloaded  48.2 KiB  /home/me/reports/report-100001.csv
  2   billing-9900000-BDR-2026-11-01-2026-11-30  billing  polling     -         status PROCESSING, poll 3

  2 job(s): 1 downloaded, 1 polling
  $ reportflow status --json 2    # an array of objects: id, key, kind, state, file, bytes,
                                  # sha256, error, creations, created_at, updated_at, label,
                                  # from, to, origin (where relative dates came from), ...
  $ reportflow status --label nightly --state failed";

const HISTORY_AFTER: &str = "\
Example:
  $ reportflow history 1
  SEQ  AT                   FROM       TO         INPUT
  0    2026-11-26 15:04:05  -          requested  submit
  1    2026-11-26 15:04:07  requested  requested  create-sending
  ...";

const RETRY_AFTER: &str = "\
Example:
  $ reportflow retry 7 billing-9900000-BDR-2026-11-01-2026-11-30
  job 7 (report-9900000-16-csv-1a2b3c4d5e6f): failed -> requested
  ...
  $ reportflow retry --label nightly-2026-11-27   # every failed, expired, cancelled or nodata one
  $ reportflow run
A downloaded job cannot be retried (one job, at most one file): submit a new one instead.";

const CANCEL_AFTER: &str = "\
Example:
  $ reportflow cancel 7
  job 7 (report-9900000-16-csv-1a2b3c4d5e6f): polling -> cancelled";

const PURGE_AFTER: &str = "\
Example:
  $ reportflow purge --older-than 30
  purged 120 jobs (1140 history records)
Live jobs are never purged; files on disk are left alone.";

const DEMO_AFTER: &str = "\
Example:
  $ reportflow demo
  demo: simulator on http://127.0.0.1:42467/api with mild faults; 40 jobs (every report and billing type)
  ... progress, then a table of the 40 jobs ...
  demo: 40 jobs ended: 40 downloaded; 40 files verified against the simulator
  the simulator answered 209 requests, injected 32 faults and created 41 reports
  took 5.5 s
  files in /home/me/reports/demo/run-20261126-150405
Starts the simulator on 127.0.0.1 with mild faults, submits every account report and every
billing type, runs them to completion and prints a summary. Each run writes a new folder under
--out; its store is in the folder's `.store` (inspect it with `reportflow --store ... status`).";

const SIM_AFTER: &str = "\
Example:
  $ reportflow sim --port 8085 --fault-rate 0.02
  simulator listening on http://127.0.0.1:8085/api
  ...
  (in another terminal)
  $ export REPORTFLOW_BASE_URL=http://127.0.0.1:8085/api BANDWIDTH_ACCOUNT_ID=9900000
  $ export BANDWIDTH_CLIENT_ID=demo-client BANDWIDTH_CLIENT_SECRET=demo-client-secret \\
      BANDWIDTH_TOKEN_URL=http://127.0.0.1:8085/api/v1/oauth2/token
  $ reportflow reports list
With --tls it serves https and prints the file of its CA (trust it with --ca-file):
  $ reportflow sim --tls --ca-out ./sim-ca.pem
Runs until Ctrl-C, then prints what it served. With --drop-creates every create is reset
unanswered: `reportflow run` then gives up on each job after its create budget (exit 3).";

/// Parses a report id: a positive whole number.
fn parse_report_id(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!(
            "{s:?} is not a report id; report ids are positive numbers (list them with `reportflow reports list`)"
        )),
        Ok(n) => Ok(n),
    }
}

/// Parses `NAME=VALUE` (the value may contain `=`; the name may not be empty).
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        Some(_) => Err(format!(
            "{s:?} has no parameter name; write it as NAME=VALUE (e.g. StartDate=2026-11-01)"
        )),
        None => Err(format!(
            "{s:?} has no '='; write it as NAME=VALUE (e.g. StartDate=2026-11-01)"
        )),
    }
}

fn parse_format(s: &str) -> Result<OutputFormat, String> {
    s.parse::<OutputFormat>().map_err(|e| e.to_string())
}

fn date_parser(field: &'static str, s: &str) -> Result<DateExpr, String> {
    DateExpr::parse(field, s).map_err(|e| e.to_string())
}

fn parse_expires(s: &str) -> Result<DateExpr, String> {
    date_parser("--expires", s)
}

fn parse_from(s: &str) -> Result<DateExpr, String> {
    date_parser("--from", s)
}

fn parse_to(s: &str) -> Result<DateExpr, String> {
    date_parser("--to", s)
}

fn parse_label(s: &str) -> Result<Label, String> {
    Label::new(s).map_err(|e| e.to_string())
}

fn parse_range(s: &str) -> Result<RangeExpr, String> {
    RangeExpr::parse("--range", s).map_err(|e| e.to_string())
}

fn parse_split(s: &str) -> Result<Split, String> {
    Split::parse("--split", s).map_err(|e| e.to_string())
}

fn parse_state(s: &str) -> Result<StateName, String> {
    StateName::parse(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
        let all: Vec<&str> = StateName::ALL.iter().map(|n| n.as_str()).collect();
        format!("{s:?} is not a state; use one of {}", all.join(", "))
    })
}

fn parse_fault_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=0.07).contains(&r) => Ok(r),
        _ => Err(format!(
            "{s:?} is not a fault rate; use a number from 0 to 0.07 (the chance of each fault kind per request)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn params_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_param("Filter=a=b"),
            Ok(("Filter".to_string(), "a=b".to_string()))
        );
        assert!(parse_param("NoEquals").is_err());
        assert!(parse_param("=value").is_err());
    }

    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            let path = format!("{path} {}", cmd.get_name());
            let after = cmd
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(after.contains("Example"), "{path} has no example");
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path);
                }
            }
        }
        walk(&Cli::command(), "");
    }
}
