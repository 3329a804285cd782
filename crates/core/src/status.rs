//! What a status literal seen upstream means for a job.

use crate::JobKind;
use serde::{Deserialize, Serialize};

/// The meaning of a status literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progress {
    /// Still being built (including every unknown literal).
    NotReady,
    /// The output can be downloaded.
    Ready,
    /// The output is gone.
    Expired,
}

/// Classifies a raw status literal. Account reports: `Ready` and `Expired` (any case) are known;
/// billing reports: `COMPLETED` and `COMPLETE` (any case) mean ready. Every other literal,
/// including in-progress values that are not published, means "not ready yet".
pub fn classify_status(kind: JobKind, raw: &str) -> Progress {
    let s = raw.trim();
    match kind {
        JobKind::Account if s.eq_ignore_ascii_case("ready") => Progress::Ready,
        JobKind::Account if s.eq_ignore_ascii_case("expired") => Progress::Expired,
        JobKind::Billing
            if s.eq_ignore_ascii_case("completed") || s.eq_ignore_ascii_case("complete") =>
        {
            Progress::Ready
        }
        _ => Progress::NotReady,
    }
}
