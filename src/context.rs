//! What every command shares: the global options turned into the engine's configuration (in
//! one place, [`Context::engine_config`]), accounts and dates.

use crate::cli::{DEFAULT_STORE, Global};
use crate::credentials::{self, Sources};
use crate::error::CliError;
use crate::shell;
use reportflow_core::{Label, PollPolicy, RetryPolicy};
use reportflow_driver::{
    Credentials, EngineConfig, FileLayout, Jobs, ProxyConfig, RetryConfig, StoreLocation,
    TrustConfig,
};
use reportflow_sim::{SimConfig, SimHandle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Today's date in UTC, as the engine validates with (the engine's one clock read of dates).
pub use reportflow_driver::today;

/// The output folder `run` uses when neither `--out`, `REPORTFLOW_OUT` nor a batch file says.
pub const DEFAULT_OUT: &str = "./reports";
/// The CLI's own settings file inside the store directory (the output folder a batch asked for).
const SETTINGS_FILE: &str = "reportflow-cli.toml";
/// Where the password of a PostgreSQL store comes from when its URL has none (libpq's name).
pub const PASSWORD_VAR: &str = "PGPASSWORD";

/// What a command needs the engine for; [`Context::engine_config`] resolves each into the one
/// configuration the command runs with.
pub enum Purpose<'a> {
    /// Recording and reading the store's jobs (`submit`, `status`, `history`, `retry`,
    /// `cancel`, `purge`): no credentials, no network.
    Store,
    /// `run`: the store's jobs (only those with `only_label`, when given), into `out` (placed
    /// by `layout`, flat without one), `concurrency` at once (`per_account` of one account),
    /// with the credentials; on a shared store as a worker whose leases last `lease`.
    Run {
        /// Where the files go.
        out: &'a Path,
        /// Jobs worked on at once.
        concurrency: usize,
        /// Jobs of one account worked on at once (by all workers, on a shared store).
        per_account: usize,
        /// The lease of a worker on a shared store.
        lease: Duration,
        /// Where under `out` each file goes (`--layout`, or the one a batch file recorded).
        layout: Option<&'a FileLayout>,
        /// Drive only the jobs with this label (`--label`).
        only_label: Option<&'a Label>,
    },
    /// `reports`: the catalogue, with the credentials, on a throwaway store in `scratch`.
    Catalogue {
        /// A temporary folder.
        scratch: &'a Path,
    },
    /// `demo`: every report against the embedded simulator, into `run_dir`, with fast polls,
    /// retries and timeouts (the simulator answers in well under a second).
    Demo {
        /// The simulator.
        sim: &'a SimHandle,
        /// Its configuration (for its OAuth2 client).
        sim_config: &'a SimConfig,
        /// The run's folder; the store goes into its `.store`.
        run_dir: &'a Path,
    },
}

/// The global options, resolved.
pub struct Context {
    /// The options as given.
    pub global: Global,
    /// The process id of the engine (`serve`, `run`) the store was reached through, once a
    /// command opened a directory store that an engine holds.
    engine: std::sync::OnceLock<u32>,
}

/// The CLI's settings kept beside a store: what the last batch file asked `run` to use.
#[derive(Default, Deserialize, Serialize)]
pub struct StoreSettings {
    /// The output folder of the last batch file that named one.
    pub out: Option<PathBuf>,
    /// The file layout of the last batch file that named one.
    pub layout: Option<String>,
}

impl Context {
    /// Wraps the parsed global options.
    pub fn new(global: Global) -> Context {
        Context {
            global,
            engine: std::sync::OnceLock::new(),
        }
    }

    /// Says something that does not stop the command, on stderr (not with `--quiet`).
    pub fn warn(&self, message: &str) {
        if !self.global.quiet {
            eprintln!("warning: {message}");
        }
    }

    /// Where the store is, as given by `--store` (`REPORTFLOW_STORE`): a directory, or a
    /// `postgres://` URL whose password, when the URL has none, comes from `PGPASSWORD`. The
    /// one place the store argument is resolved.
    pub fn store(&self) -> StoreLocation {
        StoreLocation::from(&self.global.store)
            .with_password(std::env::var(PASSWORD_VAR).ok().filter(|p| !p.is_empty()))
    }

    /// A command to paste into a shell: `reportflow ARGS`, with `--store DIR` first when the
    /// store came from `--store` (neither the default nor `REPORTFLOW_STORE`, which the same
    /// shell still has), every word quoted for a POSIX shell when it needs it. A URL is shown
    /// without its password.
    pub fn command(&self, args: &[&str]) -> String {
        let store = self.store().to_string();
        let from_env = std::env::var_os("REPORTFLOW_STORE")
            .is_some_and(|env| Path::new(&env) == self.global.store);
        let mut words: Vec<&str> = Vec::with_capacity(args.len() + 2);
        if self.global.store != Path::new(DEFAULT_STORE) && !from_env {
            words.extend(["--store", store.as_str()]);
        }
        words.extend_from_slice(args);
        shell::command(words)
    }

    /// The account from `--account` or `BANDWIDTH_ACCOUNT_ID`, or a usage error saying so.
    pub fn account(&self) -> Result<String, CliError> {
        match self.global.account.as_deref().map(str::trim) {
            Some(a) if !a.is_empty() => Ok(a.to_string()),
            _ => Err(CliError::Usage(
                "no account: pass --account ID or set BANDWIDTH_ACCOUNT_ID".to_string(),
            )),
        }
    }

    /// The credentials from the environment or the config file.
    pub fn credentials(&self) -> Result<Credentials, CliError> {
        credentials::load(&Sources {
            config_file: self.global.config.as_deref(),
            env: &credentials::process_env,
        })
    }

    /// The engine's configuration for `purpose`: the global options (store, base URL, plain
    /// http), the credentials where the purpose needs them, and the purpose's own settings.
    /// Every command builds its configuration here and nowhere else.
    pub fn engine_config(&self, purpose: Purpose<'_>) -> Result<EngineConfig, CliError> {
        let base_url = self.global.base_url.trim();
        let mut config = match purpose {
            Purpose::Store => EngineConfig::new(self.store(), DEFAULT_OUT, base_url),
            Purpose::Run {
                out,
                concurrency,
                per_account,
                lease,
                layout,
                only_label,
            } => {
                let mut config = EngineConfig::new(self.store(), out, base_url);
                config.credentials = Some(self.credentials()?);
                config.concurrency = concurrency;
                // On a shared store the bound counts every worker's jobs: it may exceed this
                // worker's own concurrency.
                config.per_account_concurrency = if config.store.is_shared() {
                    per_account
                } else {
                    per_account.min(concurrency)
                };
                config.lease = lease;
                config.layout = layout.cloned();
                config.only_label = only_label.cloned();
                config
            }
            Purpose::Catalogue { scratch } => {
                let mut config = EngineConfig::new(scratch.join("store"), scratch, base_url);
                config.credentials = Some(self.credentials()?);
                config
            }
            Purpose::Demo {
                sim,
                sim_config,
                run_dir,
            } => return Ok(demo_config(sim, sim_config, run_dir)),
        };
        config.allow_insecure_http = self.global.allow_insecure_http;
        // The network: curl's proxy variables, and the trust of `--native-roots`,
        // `SSL_CERT_FILE` and `--ca-file` (REPORTFLOW_CA_FILE).
        config.proxy = ProxyConfig::from_env();
        config.trust = TrustConfig::from_env();
        config.trust.native_roots = self.global.native_roots;
        config.trust.ca_files.extend(self.global.ca_file.clone());
        Ok(config)
    }

    /// Opens the store's jobs (creating a sled store when it does not exist yet): on a
    /// directory store through the control socket of the engine that holds it (`serve`,
    /// `run`), or the store itself when none does; a PostgreSQL store directly (any number of
    /// processes share it). No HTTP client, no threads until something is written.
    pub async fn open_store(&self) -> Result<Jobs, CliError> {
        let config = self.engine_config(Purpose::Store)?;
        let (jobs, engine) = crate::control::client::open_jobs(&config).await?;
        if let Some(pid) = engine {
            let _ = self.engine.set(pid);
        }
        Ok(jobs)
    }

    /// Who drives the jobs a command just recorded, for its closing hint: `` `reportflow run`
    /// downloads it `` (with `verb` = "downloads it"), or, when the store was reached through a
    /// running engine, that engine, which starts them at once (`run` would find the store in
    /// use).
    pub fn who_drives(&self, verb: &str) -> String {
        match self.engine.get() {
            Some(pid) => format!("the engine running on this store (pid {pid}) {verb} now"),
            None => format!("`{}` {verb}", self.command(&["run"])),
        }
    }

    /// The process id of the engine the store was reached through, if it was.
    pub fn engine_pid(&self) -> Option<u32> {
        self.engine.get().copied()
    }

    /// Opens the store's jobs when the store exists; `None` when it does not (a command that
    /// only reads then has nothing to show, and creates nothing). A database is always opened.
    pub async fn open_existing_store(&self) -> Result<Option<Jobs>, CliError> {
        if self.store().exists() {
            self.open_store().await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// The output folder a batch file recorded for this store, if any (a sled store only: on a
    /// shared store every worker writes to its own `--out`).
    pub fn remembered_out(&self) -> Option<PathBuf> {
        self.remembered().out
    }

    /// What batch files recorded for this store's runs (nothing when unreadable, and nothing
    /// for a shared store, which keeps no such file: each worker has its own `--out`).
    pub fn remembered(&self) -> StoreSettings {
        let Some(dir) = self.store().dir().map(Path::to_path_buf) else {
            return StoreSettings::default();
        };
        std::fs::read_to_string(dir.join(SETTINGS_FILE))
            .ok()
            .and_then(|text| toml::from_str::<StoreSettings>(&text).ok())
            .unwrap_or_default()
    }

    /// Records `settings` for this store's runs (written atomically; call it while holding the
    /// store open). A shared store keeps none: each worker is given its own `--out` and
    /// `--layout`, and the command says so.
    pub fn remember(&self, settings: &StoreSettings) -> Result<(), CliError> {
        let Some(dir) = self.store().dir().map(Path::to_path_buf) else {
            self.warn(
                "the batch file's out and layout are not kept with a PostgreSQL store: each worker writes to its own --out (REPORTFLOW_OUT) with its own --layout; pass them to `reportflow run`",
            );
            return Ok(());
        };
        let text = toml::to_string(settings)
            .map_err(|e| CliError::Runtime(format!("cannot record the run settings: {e}")))?;
        let path = dir.join(SETTINGS_FILE);
        let tmp = dir.join(format!(".{SETTINGS_FILE}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                CliError::Runtime(format!(
                    "cannot write {}: {e}; check the store directory's permissions",
                    path.display()
                ))
            })
    }
}

/// The demo's configuration: the simulator's URL and OAuth2 client, fast polls, short retries
/// and timeouts, 16 jobs at once.
fn demo_config(sim: &SimHandle, sim_config: &SimConfig, run_dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(run_dir.join(".store"), run_dir, &sim.base_url());
    config.credentials = Some(Credentials::OAuth2 {
        client_id: sim_config.client_id.clone(),
        client_secret: sim_config.client_secret.clone(),
        token_url: sim.token_url(),
    });
    config.poll = PollPolicy {
        first_delay_ms: 100,
        growth_percent: 150,
        cap_ms: 1_000,
        jitter_percent: 10,
        deadline_ms: 5 * 60 * 1000,
    };
    config.retry_policy = RetryPolicy {
        first_delay_ms: 100,
        cap_ms: 2_000,
        ..RetryPolicy::default()
    };
    config.retry = RetryConfig {
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        max_times: 3,
    };
    config.connect_timeout = Duration::from_secs(2);
    config.response_timeout = Duration::from_secs(5);
    config.idle_body_timeout = Duration::from_secs(2);
    config.concurrency = 16;
    config.per_account_concurrency = 16;
    config
}

/// `path` made absolute against the current directory (so stored file paths are absolute).
pub fn absolute(path: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(path).map_err(|e| {
        CliError::Runtime(format!(
            "cannot resolve the path {}: {e}; give an absolute path",
            path.display()
        ))
    })
}
