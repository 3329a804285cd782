//! Credentials: from the environment or a config file, never from a flag (flags show in `ps`).
//!
//! Order: `BANDWIDTH_CLIENT_ID`/`BANDWIDTH_CLIENT_SECRET` (OAuth2), then
//! `BANDWIDTH_USERNAME`/`BANDWIDTH_PASSWORD` (Basic), then the config file. Credentials are never
//! printed, logged or stored.

use crate::error::CliError;
use reportflow_driver::{Credentials, DEFAULT_TOKEN_URL};
use serde::Deserialize;
use std::path::Path;

/// Environment variable: Basic user name.
pub const ENV_USERNAME: &str = "BANDWIDTH_USERNAME";
/// Environment variable: Basic password.
pub const ENV_PASSWORD: &str = "BANDWIDTH_PASSWORD";
/// Environment variable: OAuth2 client id.
pub const ENV_CLIENT_ID: &str = "BANDWIDTH_CLIENT_ID";
/// Environment variable: OAuth2 client secret.
pub const ENV_CLIENT_SECRET: &str = "BANDWIDTH_CLIENT_SECRET";
/// Environment variable: OAuth2 token URL (not a secret).
pub const ENV_TOKEN_URL: &str = "BANDWIDTH_TOKEN_URL";

/// The config file's contents.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    username: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token_url: Option<String>,
}

/// Where to look for credentials.
pub struct Sources<'a> {
    /// The config file named by `--config` or `REPORTFLOW_CONFIG`.
    pub config_file: Option<&'a Path>,
    /// Reads an environment variable (the process environment, or a test's map).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The process environment, with empty values counted as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Finds the credentials, or says exactly what to set.
pub fn load(sources: &Sources<'_>) -> Result<Credentials, CliError> {
    let env = |name: &str| (sources.env)(name).filter(|v| !v.is_empty());
    let token_url = env(ENV_TOKEN_URL);
    if let Some(found) = pair(&env, ENV_CLIENT_ID, ENV_CLIENT_SECRET)? {
        return Ok(oauth2(found, token_url));
    }
    if let Some((username, password)) = pair(&env, ENV_USERNAME, ENV_PASSWORD)? {
        return Ok(Credentials::Basic { username, password });
    }
    if let Some(path) = sources.config_file {
        let file = read_config(path)?;
        let token_url = token_url.or(file.token_url);
        let described = |what: &str| format!("the config file {} {what}", path.display());
        match (
            file.client_id,
            file.client_secret,
            file.username,
            file.password,
        ) {
            (Some(id), Some(secret), _, _) => return Ok(oauth2((id, secret), token_url)),
            (Some(_), None, _, _) | (None, Some(_), _, _) => {
                return Err(CliError::Runtime(described(
                    "has only one of client_id and client_secret; give both",
                )));
            }
            (None, None, Some(username), Some(password)) => {
                return Ok(Credentials::Basic { username, password });
            }
            (None, None, Some(_), None) | (None, None, None, Some(_)) => {
                return Err(CliError::Runtime(described(
                    "has only one of username and password; give both",
                )));
            }
            (None, None, None, None) => {
                return Err(CliError::Runtime(described(
                    "holds no credentials; add client_id and client_secret (OAuth2), or the legacy username and password (Basic)",
                )));
            }
        }
    }
    Err(CliError::Runtime(format!(
        "no credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (OAuth2), or name a config file with --config (mode 600); legacy: {ENV_USERNAME} and {ENV_PASSWORD} (Basic, retired by Bandwidth on 2026-12-02)"
    )))
}

fn oauth2((client_id, client_secret): (String, String), token_url: Option<String>) -> Credentials {
    Credentials::OAuth2 {
        client_id,
        client_secret,
        token_url: token_url.unwrap_or_else(|| DEFAULT_TOKEN_URL.to_string()),
    }
}

/// Both variables of a pair, neither, or an error naming the missing one.
fn pair(
    env: &dyn Fn(&str) -> Option<String>,
    first: &str,
    second: &str,
) -> Result<Option<(String, String)>, CliError> {
    match (env(first), env(second)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(half_pair(first, second)),
        (None, Some(_)) => Err(half_pair(second, first)),
    }
}

fn half_pair(set: &str, missing: &str) -> CliError {
    CliError::Runtime(format!(
        "{set} is set but {missing} is not; set both (or neither)"
    ))
}

/// Reads the config file, refusing one that other users can read (as ssh does with keys).
fn read_config(path: &Path) -> Result<ConfigFile, CliError> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        CliError::Runtime(format!(
            "cannot read the config file {}: {e}; check the path given with --config or REPORTFLOW_CONFIG",
            path.display()
        ))
    })?;
    check_private(path, &metadata)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Runtime(format!(
            "cannot read the config file {}: {e}; check its permissions",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::batch::line_of(&text, s.start))
            .unwrap_or(1);
        // serde quotes a value of the wrong type (`invalid type: integer `1234`, ...`): that
        // value may be the secret, so it is never repeated.
        let message = e.message().trim();
        let message = if message.starts_with("invalid type") || message.starts_with("invalid value") {
            "this value is not a quoted string; write every value in double quotes"
        } else {
            message
        };
        CliError::Usage(format!(
            "{}:{line}: {message} (the config file takes username, password, client_id, client_secret, token_url)",
            path.display(),
        ))
    })
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CliError::Runtime(format!(
            "the config file {} holds secrets but other users can access it (mode {mode:03o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), CliError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_from(vars: &[(&str, &str)], file: Option<&Path>) -> Result<Credentials, CliError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| map.get(name).cloned();
        load(&Sources {
            config_file: file,
            env: &env,
        })
    }

    #[test]
    fn oauth2_wins_over_basic_and_basic_over_the_file() {
        let both = load_from(
            &[
                (ENV_USERNAME, "u"),
                (ENV_PASSWORD, "p"),
                (ENV_CLIENT_ID, "c"),
                (ENV_CLIENT_SECRET, "s"),
            ],
            None,
        );
        assert!(
            matches!(both, Ok(Credentials::OAuth2 { token_url, .. }) if token_url == DEFAULT_TOKEN_URL)
        );
        let basic = load_from(&[(ENV_USERNAME, "u"), (ENV_PASSWORD, "p")], None);
        assert!(matches!(basic, Ok(Credentials::Basic { .. })));
    }

    #[test]
    fn half_a_pair_or_nothing_says_what_to_set() {
        let half = load_from(&[(ENV_USERNAME, "u")], None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            half.as_deref(),
            Some("BANDWIDTH_USERNAME is set but BANDWIDTH_PASSWORD is not; set both (or neither)")
        );
        let none = load_from(&[], None).err().map(|e| e.to_string());
        assert!(none.is_some_and(|m| m.starts_with("no credentials")));
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_config_file_is_refused_and_a_private_one_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("creds.toml");
        std::fs::write(
            &path,
            "client_id = \"c\"\nclient_secret = \"s\"\ntoken_url = \"http://127.0.0.1:1/t\"\n",
        )
        .expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = load_from(&[], Some(&path)).err().map(|e| e.to_string());
        assert!(refused.is_some_and(|m| m.contains("chmod 600")));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let read = load_from(&[], Some(&path));
        assert!(
            matches!(read, Ok(Credentials::OAuth2 { token_url, .. }) if token_url == "http://127.0.0.1:1/t")
        );
        std::fs::write(&path, "user = \"x\"\n").expect("write");
        let typo = load_from(&[], Some(&path)).err();
        assert!(
            typo.is_some_and(|e| e.exit_code() == 2 && e.to_string().contains(":1: unknown field"))
        );
    }
}
