//! The store URL: parsed by tokio-postgres, shown only without its password.

use reportflow_store::PgError;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::Config;

/// What replaces a password wherever a URL is shown.
const HIDDEN: &str = "***";

/// How long a connection may go without a sign of life from the server before it is given up
/// (TCP keepalives after this much idleness, and at most this long for sent data to be
/// acknowledged), unless the URL sets `keepalives_idle` or `tcp_user_timeout` itself. The
/// operating system's defaults wait two hours, or about fifteen minutes, before a dead link
/// (a partition, a host gone) fails an operation or the listener.
const DEAD_LINK: Duration = Duration::from_secs(30);

/// What is shown for a text that is not a `postgres://` URL (it may hold a password anywhere).
const NOT_SHOWN: &str = "(not shown: it is not a postgres:// URL, and may hold a password)";

/// A parsed store URL: the connection settings, the URL as it may be shown, and the secrets
/// to scrub from any text that reaches an error message.
#[derive(Clone)]
pub(crate) struct DbUrl {
    pub(crate) config: Config,
    shown: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The URL with its password (in the user part or as a `password=` parameter) replaced by
/// `***`, fit for messages and logs. A text that is not a `postgres://` or `postgresql://` URL
/// is not shown at all.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = scheme_end(url) else {
        return NOT_SHOWN.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    // tokio-postgres takes the user part up to the first `@` of the rest: so does this.
    let (creds, after) = match rest.find('@') {
        Some(at) => (Some(&rest[..at]), &rest[at..]),
        None => (None, rest),
    };
    let mut out = scheme.to_string();
    if let Some(creds) = creds {
        match creds.split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(HIDDEN);
            }
            None => out.push_str(creds),
        }
    }
    match after.split_once('?') {
        Some((head, query)) => {
            out.push_str(head);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}={HIDDEN}")
                    }
                    _ => param.to_string(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(after),
    }
    out
}

/// Where the part after `postgres://` (or `postgresql://`) starts.
fn scheme_end(url: &str) -> Option<usize> {
    ["postgres://", "postgresql://"]
        .into_iter()
        .find(|prefix| url.starts_with(prefix))
        .map(str::len)
}

impl DbUrl {
    /// Parses a `postgres://` or `postgresql://` URL. `connect_timeout` and a dead link's
    /// detection ([`DEAD_LINK`]) apply unless the URL sets its own; `password` (e.g. from
    /// `PGPASSWORD`) applies when the URL has none; the connection is named `reportflow` unless
    /// the URL names it.
    pub(crate) fn parse(
        url: &str,
        connect_timeout: Duration,
        password: Option<&str>,
    ) -> Result<DbUrl, PgError> {
        let shown = redact(url);
        let Some(scheme_end) = scheme_end(url) else {
            return Err(PgError::InvalidUrl {
                shown,
                detail: "it does not start with postgres:// or postgresql://".to_string(),
            });
        };
        let mut secrets = secrets_in(&url[scheme_end..]);
        let mut config = Config::from_str(url).map_err(|e| PgError::InvalidUrl {
            shown: shown.clone(),
            detail: scrub_with(&secrets, &crate::run::detail(&e)),
        })?;
        if config.get_password().is_none()
            && let Some(password) = password
        {
            config.password(password);
        }
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        if config.get_hosts().is_empty() {
            return Err(PgError::InvalidUrl {
                shown,
                detail: "it names no host".to_string(),
            });
        }
        if !url.contains("connect_timeout=") {
            config.connect_timeout(connect_timeout);
        }
        if !url.contains("keepalives_idle=") {
            config.keepalives_idle(DEAD_LINK);
        }
        if !url.contains("tcp_user_timeout=") {
            config.tcp_user_timeout(DEAD_LINK);
        }
        if config.get_application_name().is_none() {
            config.application_name("reportflow");
        }
        Ok(DbUrl {
            config,
            shown,
            secrets,
        })
    }

    /// Asks the server to end a session of this store that sits idle inside a transaction
    /// for longer than `timeout`, unless the URL's `options` set that already.
    pub(crate) fn end_stuck_transactions(&mut self, timeout: Duration) {
        let setting = format!(
            "-c idle_in_transaction_session_timeout={}",
            timeout.as_millis()
        );
        let options = match self.config.get_options() {
            Some(given) if given.contains("idle_in_transaction_session_timeout") => return,
            Some(given) => format!("{given} {setting}"),
            None => setting,
        };
        self.config.options(&options);
    }

    /// The URL as it may be shown: without its password.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// `text` with every secret of the URL replaced by `***` (server messages and library
    /// errors do not carry the password, but nothing here relies on that).
    pub(crate) fn scrub(&self, text: &str) -> String {
        scrub_with(&self.secrets, text)
    }
}

/// The raw passwords of a URL after its scheme: the user part's, and `password=` parameters'.
fn secrets_in(rest: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(at) = rest.find('@')
        && let Some((_, password)) = rest[..at].split_once(':')
    {
        secrets.push(password.to_string());
    }
    if let Some((_, query)) = rest.split_once('?') {
        for param in query.split('&') {
            if let Some((key, value)) = param.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                secrets.push(value.to_string());
            }
        }
    }
    secrets
}

fn scrub_with(secrets: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), HIDDEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        let cases = [
            (
                "postgres://user:s3cret@db.example:5432/jobs",
                "postgres://user:***@db.example:5432/jobs",
            ),
            (
                "postgresql://user:p%40ss@host/db?sslmode=require",
                "postgresql://user:***@host/db?sslmode=require",
            ),
            (
                "postgres://user@host/db?password=s3cret&sslmode=disable",
                "postgres://user@host/db?password=***&sslmode=disable",
            ),
            ("postgres://host/db", "postgres://host/db"),
            // A password with an unencoded `/`: tokio-postgres reads up to the first `@`.
            ("postgres://u:pa/ss@host/db", "postgres://u:***@host/db"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
        assert_eq!(redact("host=h password=s3cret"), NOT_SHOWN);
        assert_eq!(redact("mysql://u:s3cret@h/db"), NOT_SHOWN);
    }

    #[test]
    fn parsing_keeps_secrets_out_of_errors() {
        let err = DbUrl::parse(
            "postgres://u:s3cret@h/db?sslmode=bogus",
            Duration::from_secs(1),
            None,
        )
        .expect_err("a bad sslmode is refused");
        let text = err.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("postgres://u:***@h/db?sslmode=bogus"),
            "{text}"
        );
        let err = DbUrl::parse("host=h password=s3cret", Duration::from_secs(1), None)
            .expect_err("a key-value string is refused");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = DbUrl::parse("postgres://u:s3cret@/db", Duration::from_secs(1), None)
            .expect_err("no host");
        assert!(err.to_string().contains("names no host"), "{err}");
    }

    #[test]
    fn scrubbing_covers_encoded_and_decoded_passwords() {
        let url =
            DbUrl::parse("postgres://u:p%40ss@h/db", Duration::from_secs(1), None).expect("parses");
        assert_eq!(url.scrub("a p%40ss b p@ss c"), "a *** b *** c");
        assert_eq!(url.shown(), "postgres://u:***@h/db");
        assert_eq!(format!("{url:?}"), "postgres://u:***@h/db");
    }

    #[test]
    fn sessions_stuck_in_a_transaction_are_ended_unless_the_url_says_otherwise() {
        let mut url = DbUrl::parse("postgres://u@h/db", Duration::from_secs(1), None).expect("url");
        url.end_stuck_transactions(Duration::from_millis(1500));
        assert_eq!(
            url.config.get_options(),
            Some("-c idle_in_transaction_session_timeout=1500")
        );
        let mut url = DbUrl::parse(
            "postgres://u@h/db?options=-c%20statement_timeout%3D9",
            Duration::from_secs(1),
            None,
        )
        .expect("url");
        url.end_stuck_transactions(Duration::from_secs(2));
        assert_eq!(
            url.config.get_options(),
            Some("-c statement_timeout=9 -c idle_in_transaction_session_timeout=2000")
        );
        let mut url = DbUrl::parse(
            "postgres://u@h/db?options=-c%20idle_in_transaction_session_timeout%3D0",
            Duration::from_secs(1),
            None,
        )
        .expect("url");
        url.end_stuck_transactions(Duration::from_secs(2));
        assert_eq!(
            url.config.get_options(),
            Some("-c idle_in_transaction_session_timeout=0")
        );
    }

    #[test]
    fn a_password_given_apart_is_used_only_without_one_in_the_url_and_scrubbed() {
        let apart = Some("fr0m-env");
        let url = DbUrl::parse("postgres://u@h/db", Duration::from_secs(1), apart).expect("parses");
        assert_eq!(url.config.get_password(), Some(&b"fr0m-env"[..]));
        assert_eq!(url.shown(), "postgres://u@h/db");
        assert_eq!(url.scrub("said fr0m-env"), "said ***");
        let url = DbUrl::parse("postgres://u:inline@h/db", Duration::from_secs(1), apart)
            .expect("parses");
        assert_eq!(url.config.get_password(), Some(&b"inline"[..]));
    }
}
