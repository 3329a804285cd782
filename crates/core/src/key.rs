//! Job keys: the user's name for a job, or one derived canonically from its spec.

use crate::{CoreError, JobSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The longest key accepted, in bytes.
const MAX_KEY_LEN: usize = 200;

/// A job's idempotency key: submitting the same key twice names the same job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobKey(String);

impl JobKey {
    /// A key chosen by the user: 1 to 200 bytes of printable characters, no white space at
    /// either end.
    pub fn user(key: &str) -> Result<JobKey, CoreError> {
        let invalid = |reason| CoreError::InvalidKey {
            key: key.to_string(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("it is empty; give a non-empty key or leave it out"));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(invalid("it is longer than 200 bytes; use a shorter key"));
        }
        if key.chars().any(char::is_control) {
            return Err(invalid(
                "it contains control characters; use printable characters",
            ));
        }
        if key.trim() != key {
            return Err(invalid("it starts or ends with white space; trim it"));
        }
        Ok(JobKey(key.to_string()))
    }

    /// The canonical key of a spec: equal specs give equal keys, whatever order their
    /// parameters were given in. Billing keys are fully readable; account keys end in a short
    /// hash of the parameters and expiry date.
    pub fn derived(spec: &JobSpec) -> JobKey {
        match spec {
            JobSpec::Billing(b) => JobKey(format!(
                "billing-{}-{}-{}-{}",
                b.account, b.report_type, b.start, b.end
            )),
            JobSpec::Account(a) => {
                let mut hasher = Sha256::new();
                for (name, values) in &a.params {
                    hasher.update((name.len() as u64).to_le_bytes());
                    hasher.update(name.as_bytes());
                    hasher.update((values.len() as u64).to_le_bytes());
                    for value in values {
                        hasher.update((value.len() as u64).to_le_bytes());
                        hasher.update(value.as_bytes());
                    }
                }
                match a.expires_at {
                    Some(date) => hasher.update(format!("expires={date}").as_bytes()),
                    None => hasher.update(b"expires=default"),
                }
                let digest = hasher.finalize();
                let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                JobKey(format!(
                    "report-{}-{}-{}-{short}",
                    a.account, a.report_id, a.format
                ))
            }
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
