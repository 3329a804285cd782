//! What every command shares: the global options turned into engines, accounts and dates.

use crate::cli::{DEFAULT_STORE, Global};
use crate::credentials::{self, Sources};
use crate::error::CliError;
use crate::shell;
use reportflow_core::Date;
use reportflow_driver::{Credentials, Engine, EngineConfig, ProxyConfig, TrustConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The output folder `run` uses when neither `--out`, `REPORTFLOW_OUT` nor a batch file says.
pub const DEFAULT_OUT: &str = "./reports";
/// The CLI's own settings file inside the store directory (the output folder a batch asked for).
const SETTINGS_FILE: &str = "reportflow-cli.toml";

/// The global options, resolved.
pub struct Context {
    /// The options as given.
    pub global: Global,
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
        Context { global }
    }

    /// Says something that does not stop the command, on stderr (not with `--quiet`).
    pub fn warn(&self, message: &str) {
        if !self.global.quiet {
            eprintln!("warning: {message}");
        }
    }

    /// A command to paste into a shell: `reportflow ARGS`, with `--store DIR` first when the
    /// store came from `--store` (neither the default nor `REPORTFLOW_STORE`, which the same
    /// shell still has), every word quoted for a POSIX shell when it needs it.
    pub fn command(&self, args: &[&str]) -> String {
        let store = self.global.store.to_string_lossy();
        let from_env = std::env::var_os("REPORTFLOW_STORE")
            .is_some_and(|env| Path::new(&env) == self.global.store);
        let mut words: Vec<&str> = Vec::with_capacity(args.len() + 2);
        if self.global.store != Path::new(DEFAULT_STORE) && !from_env {
            words.extend(["--store", store.as_ref()]);
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

    /// An engine configuration for this store, output folder and base URL (no credentials),
    /// with the network settings: curl's proxy variables, and the trust of `--native-roots`,
    /// `SSL_CERT_FILE` and `--ca-file` (REPORTFLOW_CA_FILE).
    pub fn engine_config(&self, store: &Path, out: &Path) -> EngineConfig {
        let mut config = EngineConfig::new(store, out, self.global.base_url.trim());
        config.allow_insecure_http = self.global.allow_insecure_http;
        config.proxy = ProxyConfig::from_env();
        config.trust = TrustConfig::from_env();
        config.trust.native_roots = self.global.native_roots;
        config.trust.ca_files.extend(self.global.ca_file.clone());
        config
    }

    /// Opens the engine on the store (creating the store when it does not exist yet).
    pub fn open_store(&self) -> Result<Engine, CliError> {
        let config = self.engine_config(&self.global.store, Path::new(DEFAULT_OUT));
        Ok(Engine::open(config)?)
    }

    /// Opens the engine on the store when the store exists; `None` when it does not (a command
    /// that only reads then has nothing to show, and creates nothing).
    pub fn open_existing_store(&self) -> Result<Option<Engine>, CliError> {
        if self.global.store.exists() {
            self.open_store().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The output folder a batch file recorded for this store, if any.
    pub fn remembered_out(&self) -> Option<PathBuf> {
        self.remembered().out
    }

    /// What batch files recorded for this store's runs (nothing when unreadable).
    pub fn remembered(&self) -> StoreSettings {
        std::fs::read_to_string(self.global.store.join(SETTINGS_FILE))
            .ok()
            .and_then(|text| toml::from_str::<StoreSettings>(&text).ok())
            .unwrap_or_default()
    }

    /// Records `settings` for this store's runs (written atomically; call it while holding the
    /// store open).
    pub fn remember(&self, settings: &StoreSettings) -> Result<(), CliError> {
        let text = toml::to_string(settings)
            .map_err(|e| CliError::Runtime(format!("cannot record the run settings: {e}")))?;
        let path = self.global.store.join(SETTINGS_FILE);
        let tmp = self.global.store.join(format!(".{SETTINGS_FILE}.tmp"));
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

/// Today's date in UTC, as the engine validates with.
pub fn today() -> Date {
    jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
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
