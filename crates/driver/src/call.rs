//! How one upstream call can end, how answers are classified, and the bounded retry of an
//! idempotent GET inside one step (backon). POSTs are never retried here: a create that fails
//! goes back to the core, which counts it and decides when (and whether) to send another.

use crate::config::RetryConfig;
use crate::error::DriverError;
use crate::gate::{Endpoint, RateGate};
use backon::{BackoffBuilder, ExponentialBuilder};
use http::{HeaderMap, StatusCode};
use reportflow_core::{Failure, FailureKind};
use reportflow_wire::{AnswerKind, UpstreamError, classify_answer};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The most consecutive 429 answers one call waits through.
const MAX_RATE_LIMITED: usize = 100;
/// The longest wait a 429 may impose.
const MAX_RATE_WAIT: Duration = Duration::from_secs(3600);
/// How often one call asks again after an answer that arrived whole and could not be read
/// ([`CallError::Malformed`]): once, in case something on the way mangled it; the same
/// unreadable answer twice is the upstream's answer.
const MAX_MALFORMED_RETRIES: usize = 1;

/// How an upstream call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The request cannot have reached the upstream (connection refused, DNS, connect timeout).
    NotSent(String),
    /// The request may have reached the upstream: the connection broke or timed out after it
    /// was sent, or a body was cut short.
    Ambiguous(String),
    /// A create was sent and its answer lost: it may or may not have been applied. Never
    /// retried here; the core counts it, and searches the instance listing (account reports)
    /// before it lets another create go.
    Unconfirmed(String),
    /// The upstream answered with a transient error (5xx, 19031, 15606).
    Transient(String),
    /// The answer arrived whole (its length matched, the connection ended cleanly) and cannot
    /// be read: not the documented shape. Not transient: asked again at most once
    /// (`MAX_MALFORMED_RETRIES`), then the call fails with the message, which names the parse
    /// error, the endpoint and the first bytes of the body. A body cut short or stalled is
    /// [`CallError::Ambiguous`] instead, and retried as a transient fault.
    Malformed(String),
    /// The upstream answered 429; wait this long before the next request to the endpoint.
    RateLimited(Duration),
    /// The upstream answered 401 (the token may have expired).
    Unauthorized(Failure),
    /// The upstream refused for good.
    Permanent(Failure),
    /// The output is not built yet (202, 19048, 15602, ...).
    NotReady(String),
    /// The output or instance is gone (404, 19049, 15603, ...).
    Gone(String),
    /// A local failure (disk); the job stays as it is.
    Local(DriverError),
}

impl CallError {
    /// True when the same request may simply be sent again.
    fn retryable(&self) -> bool {
        matches!(
            self,
            Self::NotSent(_)
                | Self::Ambiguous(_)
                | Self::Transient(_)
                | Self::Malformed(_)
                | Self::RateLimited(_)
        )
    }

    /// The failure to record when retries ran out or the error is final.
    pub(crate) fn into_failure(self) -> Result<Failure, DriverError> {
        let unavailable = |message: String| Failure {
            kind: FailureKind::Unavailable,
            http_status: None,
            code: None,
            message: format!(
                "{message}; gave up after retries (check the base URL and the upstream's status, then `retry` the job)"
            ),
        };
        match self {
            Self::NotSent(m) | Self::Ambiguous(m) | Self::Unconfirmed(m) | Self::Transient(m) => {
                Ok(unavailable(m))
            }
            Self::RateLimited(_) => Ok(unavailable(
                "the upstream kept answering 429 Too Many Requests".into(),
            )),
            Self::Unauthorized(f) | Self::Permanent(f) => Ok(f),
            Self::NotReady(m) | Self::Gone(m) | Self::Malformed(m) => Ok(Failure {
                kind: FailureKind::BadAnswer,
                http_status: None,
                code: None,
                message: m,
            }),
            Self::Local(e) => Err(e),
        }
    }
}

/// A permanent failure from an upstream answer.
pub(crate) fn refused(status: StatusCode, upstream: Option<&UpstreamError>, what: &str) -> Failure {
    let advice = match status.as_u16() {
        401 => {
            "; check the credentials: BANDWIDTH_CLIENT_ID and BANDWIDTH_CLIENT_SECRET (OAuth2); HTTP Basic (BANDWIDTH_USERNAME and BANDWIDTH_PASSWORD) is no longer accepted for Bandwidth's API users from 2026-12-02"
        }
        403 => "; the API user lacks the role for reports",
        _ => "",
    };
    Failure {
        kind: FailureKind::Upstream,
        http_status: Some(status.as_u16()),
        code: upstream.and_then(|u| u.code),
        message: match upstream {
            Some(u) if !u.description.is_empty() => format!("{what}: {}{advice}", u.description),
            _ => format!(
                "{what}: {}{advice}",
                status.canonical_reason().unwrap_or("refused")
            ),
        },
    }
}

/// A failure for an answer reportflow cannot use.
pub(crate) fn bad_answer(message: String) -> CallError {
    CallError::Permanent(Failure {
        kind: FailureKind::BadAnswer,
        http_status: None,
        code: None,
        message,
    })
}

/// Classifies an answer by the code of its error envelope, if it carries one we know.
pub(crate) fn by_code(upstream: &UpstreamError) -> Option<CallError> {
    let text = upstream.to_string();
    match upstream.kind()? {
        AnswerKind::Transient => Some(CallError::Transient(text)),
        AnswerKind::NotReady => Some(CallError::NotReady(text)),
        AnswerKind::Gone => Some(CallError::Gone(text)),
        _ => None,
    }
}

/// Classifies a non-success answer (what it means is the wire crate's `classify_answer`).
/// `location_based` is true for requests to a report's own location (status, file), where 404
/// means the output is gone rather than a bad request.
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    location_based: bool,
    what: &str,
) -> CallError {
    let upstream = reportflow_wire::parse_error_envelope(body);
    let said = |fallback: String| match upstream.as_ref().filter(|u| u.kind().is_some()) {
        Some(u) => u.to_string(),
        None => fallback,
    };
    match classify_answer(status.as_u16(), upstream.as_ref(), location_based) {
        AnswerKind::RateLimited => {
            CallError::RateLimited(rate_limit_wait(headers, SystemTime::now()))
        }
        AnswerKind::Transient => CallError::Transient(said(format!("{what}: HTTP {status}"))),
        AnswerKind::NotReady => CallError::NotReady(said(format!(
            "{what}: HTTP {}, not ready yet",
            status.as_u16()
        ))),
        AnswerKind::Gone => CallError::Gone(match &upstream {
            Some(u) => u.to_string(),
            None => format!(
                "{what}: HTTP {}, the report no longer exists upstream",
                status.as_u16()
            ),
        }),
        AnswerKind::Unauthorized => {
            CallError::Unauthorized(refused(status, upstream.as_ref(), what))
        }
        AnswerKind::Refused => CallError::Permanent(refused(status, upstream.as_ref(), what)),
    }
}

/// How long a 429 asks to wait: `Retry-After` seconds, else `X-RateLimit-Reset` as an epoch in
/// seconds or milliseconds (told apart by magnitude), else one second.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let wait = if let Some(secs) = number("retry-after") {
        Duration::from_secs(secs)
    } else if let Some(reset) = number("x-ratelimit-reset") {
        let reset_ms = if reset >= 100_000_000_000 {
            reset
        } else {
            reset.saturating_mul(1000)
        };
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Duration::from_millis(reset_ms.saturating_sub(now_ms))
    } else {
        Duration::from_secs(1)
    };
    wait.clamp(Duration::from_millis(50), MAX_RATE_WAIT)
}

/// Runs the idempotent GET `op` until it succeeds, fails for good, or its few retries run out:
/// exponential backoff with jitter (backon) between transient failures, an unreadable whole
/// answer asked again at most once, and every 429 holds the endpoint for all jobs until its
/// reset. `on_retry` hears of each wait (and logs it). What is left of a failure then is the
/// core's to wait for (a failed step).
pub(crate) async fn with_retries<T, F, Fut>(
    retry: &RetryConfig,
    gate: &RateGate,
    endpoint: Endpoint,
    mut on_retry: impl FnMut(&str, Duration),
    mut op: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(retry.min_delay)
        .with_max_delay(retry.max_delay)
        .with_max_times(retry.max_times)
        .with_jitter()
        .build();
    let mut rate_limited = 0;
    let mut malformed = 0;
    loop {
        gate.wait(endpoint).await;
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(e) if !e.retryable() => return Err(e),
            Err(e) => e,
        };
        if let CallError::Malformed(_) = &error {
            malformed += 1;
            if malformed > MAX_MALFORMED_RETRIES {
                return Err(error);
            }
        }
        if let CallError::RateLimited(wait) = &error {
            rate_limited += 1;
            if rate_limited > MAX_RATE_LIMITED {
                return Err(error);
            }
            gate.hold(endpoint, *wait);
            on_retry("429 Too Many Requests", *wait);
            continue;
        }
        match delays.next() {
            Some(delay) => {
                on_retry(&describe(&error), delay);
                tokio::time::sleep(delay).await;
            }
            None => return Err(error),
        }
    }
}

/// A failure in words, for logs and for the core's records.
pub(crate) fn describe(error: &CallError) -> String {
    match error {
        CallError::NotSent(m)
        | CallError::Ambiguous(m)
        | CallError::Unconfirmed(m)
        | CallError::Malformed(m)
        | CallError::Transient(m) => m.clone(),
        CallError::RateLimited(wait) => format!(
            "the upstream answered 429 Too Many Requests (its reset is {} ms away)",
            wait.as_millis()
        ),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).expect("header"));
        h
    }

    /// How often `with_retries` tried an operation that always fails with `error()`, and what
    /// it heard of the retries.
    async fn attempts(error: fn() -> CallError) -> (usize, Vec<String>) {
        let retry = RetryConfig {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_times: 5,
        };
        let gate = RateGate::default();
        let mut heard = Vec::new();
        let mut tries = 0;
        let outcome: Result<(), CallError> = with_retries(
            &retry,
            &gate,
            Endpoint::Status,
            |reason, _| heard.push(reason.to_string()),
            || {
                tries += 1;
                std::future::ready(Err(error()))
            },
        )
        .await;
        assert!(outcome.is_err());
        (tries, heard)
    }

    #[tokio::test]
    async fn an_unreadable_whole_answer_is_asked_again_once_a_cut_one_until_retries_run_out() {
        let (tries, heard) = attempts(|| CallError::Malformed("unreadable".into())).await;
        assert_eq!((tries, heard), (2, vec!["unreadable".to_string()]));
        let (tries, heard) = attempts(|| CallError::Ambiguous("cut".into())).await;
        assert_eq!((tries, heard.len()), (6, 5));
        let (tries, _) = attempts(|| CallError::Gone("gone".into())).await;
        assert_eq!(tries, 1);
    }

    #[test]
    fn rate_limit_reset_in_seconds_or_milliseconds() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let secs = headers("x-ratelimit-reset", "1700000030");
        assert_eq!(rate_limit_wait(&secs, now), Duration::from_secs(30));
        let ms = headers("x-ratelimit-reset", "1700000002500");
        assert_eq!(rate_limit_wait(&ms, now), Duration::from_millis(2500));
        let past = headers("x-ratelimit-reset", "1600000000");
        assert_eq!(rate_limit_wait(&past, now), Duration::from_millis(50));
        let after = headers("retry-after", "7");
        assert_eq!(rate_limit_wait(&after, now), Duration::from_secs(7));
        assert_eq!(
            rate_limit_wait(&HeaderMap::new(), now),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn answers_are_classified_by_status_and_code() {
        let h = HeaderMap::new();
        let envelope = |code: u32| {
            format!(
                "<R><ResponseStatus><ErrorCode>{code}</ErrorCode><Description>d</Description></ResponseStatus></R>"
            )
        };
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, b"", true, "x"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                &h,
                envelope(19031).as_bytes(),
                false,
                "x"
            ),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::OK, &h, envelope(15606).as_bytes(), true, "x"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::ACCEPTED,
                &h,
                envelope(19048).as_bytes(),
                true,
                "x"
            ),
            CallError::NotReady(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                &h,
                envelope(19049).as_bytes(),
                true,
                "x"
            ),
            CallError::Gone(_)
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, &h, b"", true, "x"),
            CallError::Gone(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                &h,
                envelope(19000).as_bytes(),
                false,
                "x"
            ),
            CallError::Permanent(_)
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, &h, b"", true, "x"),
            CallError::Unauthorized(_)
        ));
        let CallError::Permanent(f) = classify(
            StatusCode::BAD_REQUEST,
            &h,
            envelope(19032).as_bytes(),
            false,
            "create",
        ) else {
            panic!("400 is permanent");
        };
        assert_eq!(
            (f.http_status, f.code, f.message.as_str()),
            (Some(400), Some(19032), "create: d")
        );
    }
}
