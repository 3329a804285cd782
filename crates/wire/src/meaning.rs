//! What an answer means for the request that got it: the upstream's error codes and HTTP
//! statuses, sorted into the few kinds a client acts on. Pure: the engine maps each kind to
//! what it does (wait, poll again, give up), with its own messages.

use crate::error_envelope::UpstreamError;

/// Upstream codes meaning "try again": reporting service error, remote service unavailable.
const TRANSIENT_CODES: &[u32] = &[19031, 15606];
/// Upstream codes meaning "not built yet": report generation in progress (19048), billing
/// report still being constructed (15602, 15614, 15615).
const NOT_READY_CODES: &[u32] = &[19048, 15602, 15614, 15615];
/// Upstream codes meaning "the output is gone": no such instance (19019), output expired
/// (19049), billing report not found (15603) or already deleted (15613).
const GONE_CODES: &[u32] = &[19019, 19049, 15603, 15613];

/// The kind of an answer, as far as a client must tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerKind {
    /// `429 Too Many Requests`: wait for the endpoint's reset, then ask again.
    RateLimited,
    /// The upstream could not answer now (5xx, 408, codes 19031 and 15606): ask again later.
    Transient,
    /// The output is not built yet (202, codes 19048, 15602, 15614, 15615): poll again.
    NotReady,
    /// The output or the instance is gone (codes 19019, 19049, 15603, 15613, or a 404 on a
    /// report's own location): it has to be requested again.
    Gone,
    /// `401 Unauthorized`: the credentials (or an expired token) were refused.
    Unauthorized,
    /// Any other refusal (400, 403, a 404 of the catalogue, ...): the request will not succeed
    /// as it was sent.
    Refused,
}

impl UpstreamError {
    /// What the error's code means, when it is one whose meaning is known; `None` for other
    /// codes (whose meaning then comes from the HTTP status) and for an error without a code.
    pub fn kind(&self) -> Option<AnswerKind> {
        let code = self.code?;
        if TRANSIENT_CODES.contains(&code) {
            Some(AnswerKind::Transient)
        } else if NOT_READY_CODES.contains(&code) {
            Some(AnswerKind::NotReady)
        } else if GONE_CODES.contains(&code) {
            Some(AnswerKind::Gone)
        } else {
            None
        }
    }
}

/// The kind of an answer that is not a plain success: its HTTP `status` and the error envelope
/// its body carried, if any. `location_based` is true for requests to a report's own location
/// (its status and its file), where a 404 means the output is gone rather than a bad request.
///
/// A 429 wins (its body is empty upstream), then a known error code (also inside a `200`),
/// then the status: 5xx and 408 are transient, 202 is not ready, 404 on a location is gone,
/// 401 is unauthorized, and everything else is refused.
pub fn classify_answer(
    status: u16,
    envelope: Option<&UpstreamError>,
    location_based: bool,
) -> AnswerKind {
    if status == 429 {
        return AnswerKind::RateLimited;
    }
    if let Some(kind) = envelope.and_then(UpstreamError::kind) {
        return kind;
    }
    match status {
        500..=599 | 408 => AnswerKind::Transient,
        202 => AnswerKind::NotReady,
        404 if location_based => AnswerKind::Gone,
        401 => AnswerKind::Unauthorized,
        _ => AnswerKind::Refused,
    }
}

/// `true` when a download starts like a zip archive (a local file header, an empty archive, or
/// a spanned one): how a billing report file is recognised, whatever its content type says.
pub fn is_zip_archive(head: &[u8]) -> bool {
    [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"]
        .iter()
        .any(|magic| head.starts_with(*magic))
}

#[cfg(test)]
mod tests {
    use super::{AnswerKind, UpstreamError, classify_answer, is_zip_archive};

    fn coded(code: u32) -> UpstreamError {
        UpstreamError {
            code: Some(code),
            description: "d".to_owned(),
        }
    }

    #[test]
    fn a_known_code_wins_over_the_status_but_not_over_429() {
        assert_eq!(
            classify_answer(200, Some(&coded(15606)), false),
            AnswerKind::Transient
        );
        assert_eq!(
            classify_answer(404, Some(&coded(19049)), false),
            AnswerKind::Gone
        );
        assert_eq!(
            classify_answer(429, Some(&coded(19048)), true),
            AnswerKind::RateLimited
        );
        assert_eq!(
            classify_answer(503, Some(&coded(1)), false),
            AnswerKind::Transient
        );
        assert_eq!(
            classify_answer(400, Some(&coded(15614)), true),
            AnswerKind::NotReady
        );
    }

    #[test]
    fn without_a_known_code_the_status_decides() {
        assert_eq!(classify_answer(502, None, false), AnswerKind::Transient);
        assert_eq!(classify_answer(408, None, false), AnswerKind::Transient);
        assert_eq!(classify_answer(202, None, true), AnswerKind::NotReady);
        assert_eq!(classify_answer(404, None, true), AnswerKind::Gone);
        assert_eq!(classify_answer(404, None, false), AnswerKind::Refused);
        assert_eq!(classify_answer(401, None, true), AnswerKind::Unauthorized);
        assert_eq!(classify_answer(403, None, true), AnswerKind::Refused);
        assert_eq!(
            classify_answer(400, Some(&coded(19032)), false),
            AnswerKind::Refused
        );
    }

    #[test]
    fn zip_magic() {
        assert!(is_zip_archive(b"PK\x03\x04rest"));
        assert!(is_zip_archive(b"PK\x05\x06"));
        assert!(!is_zip_archive(b"PK"));
        assert!(!is_zip_archive(b"zipcontent"));
        assert!(!is_zip_archive(b""));
    }
}
