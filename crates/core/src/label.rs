//! Labels: a name that groups jobs (one night's batch, one backfill) for `status`, `run`,
//! `retry` and the file layout.

use crate::CoreError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest label accepted, in bytes.
const MAX_LABEL_LEN: usize = 100;

/// A job's label: 1 to 100 of the characters `A-Z a-z 0-9 - _ . + @`, not starting with `.`
/// or `-`. Safe as one path component, so a file layout may use it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label(String);

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@')
}

impl Label {
    /// A label as the user wrote it, or why it cannot be one.
    pub fn new(text: &str) -> Result<Label, CoreError> {
        let invalid = |reason| CoreError::InvalidLabel {
            label: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("it is empty; give a name such as nightly"));
        }
        if text.len() > MAX_LABEL_LEN {
            return Err(invalid("it is longer than 100 bytes; use a shorter name"));
        }
        if !text.chars().all(allowed) {
            return Err(invalid(
                "it may hold only letters, digits and - _ . + @ (no spaces, no slashes)",
            ));
        }
        if text.starts_with(['.', '-']) {
            return Err(invalid("it may not start with . or -"));
        }
        Ok(Label(text.to_string()))
    }

    /// The default label of a batch file: its name without the extension, every character a
    /// label may not hold replaced by `-` (`nightly billing.toml` gives `nightly-billing`);
    /// `None` when nothing usable is left.
    pub fn from_file_stem(stem: &str) -> Option<Label> {
        let replaced: String = stem
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .collect();
        let trimmed = replaced.trim_start_matches(['.', '-']);
        let mut end = trimmed.len().min(MAX_LABEL_LEN);
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        Label::new(&trimmed[..end]).ok()
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
