//! The upstream's operations, as the engine uses them.

use crate::auth::Authorizer;
use crate::call::{
    CallError, bad_answer, by_code, classify, rate_limit_wait, refused, with_retries,
};
use crate::config::EngineConfig;
use crate::error::DriverError;
use crate::events::{Event, announce_retry};
use crate::gate::{Endpoint, RateGate};
use crate::http::{Http, Payload, redact};
use crate::metrics::Counters;
use crate::url::{checked, origin, resolve};
use bytes::Bytes;
use http::header::LOCATION;
use http::{Method, Response, StatusCode, Uri};
use hyper::body::Incoming;
use reportflow_core::{AccountReportSpec, BillingReportSpec, JobId, JobKind, Progress};
use reportflow_wire::{
    BillingReportRequest, BillingStatus, Instance, InstanceRequest, InstanceStatus, Parameter,
    ReportDetail, ReportSummary, WireError, parse_billing_retrieval, parse_error_envelope,
    parse_instance, parse_instance_list, parse_report_detail, parse_report_list,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Redirects followed at most for one request.
const MAX_REDIRECTS: usize = 5;

/// Talks to the upstream: auth, redirects, the 429 gate, the bounded retry of GETs.
pub(crate) struct Api {
    pub(crate) http: Http,
    pub(crate) counters: Arc<Counters>,
    auth: Authorizer,
    gate: RateGate,
    base: String,
    base_uri: Uri,
    config: EngineConfig,
    events: broadcast::Sender<Event>,
}

impl Api {
    /// An API client for the configured base URL (already checked by the engine); refuses
    /// trust or proxy settings that cannot be used.
    pub(crate) fn new(
        config: &EngineConfig,
        base_uri: Uri,
        events: broadcast::Sender<Event>,
    ) -> Result<Api, DriverError> {
        Ok(Api {
            http: Http::new(config)?,
            counters: Arc::new(Counters::default()),
            auth: Authorizer::new(config.credentials.clone()),
            gate: RateGate::default(),
            base: config.base_url.clone(),
            base_uri,
            config: config.clone(),
            events,
        })
    }

    /// Sends a request, following redirects (without `Authorization` to any other origin) and
    /// fetching a new token once after a 401.
    pub(crate) async fn exchange(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: &str,
        payload: Option<&Payload>,
    ) -> Result<Response<Incoming>, CallError> {
        let mut uri = checked(url, self.config.allow_insecure_http).map_err(bad_answer)?;
        let mut refreshed = false;
        let mut redirects = 0;
        loop {
            let same_origin = origin(&uri) == origin(&self.base_uri);
            let auth = if same_origin {
                self.authorization().await?
            } else {
                None
            };
            let sent = self
                .http
                .send(method.clone(), &uri, auth.as_ref(), payload)
                .await;
            self.counters
                .request(endpoint, sent.as_ref().ok().map(|r| r.status()));
            let response = sent?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = rate_limit_wait(response.headers(), std::time::SystemTime::now());
                self.counters.rate_limited(endpoint, wait);
            }
            if status == StatusCode::UNAUTHORIZED
                && same_origin
                && self.auth.refreshable()
                && !refreshed
            {
                refreshed = true;
                self.auth.invalidate().await;
                continue;
            }
            // Only downloads are redirected upstream; a redirected create is an answer to report.
            if status.is_redirection() && method == Method::GET && redirects < MAX_REDIRECTS {
                let target = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| resolve(&uri, l))
                    .ok_or_else(|| {
                        bad_answer(format!(
                            "{} redirected without a usable Location",
                            redact(&uri)
                        ))
                    })?;
                uri = checked(&target, self.config.allow_insecure_http).map_err(bad_answer)?;
                redirects += 1;
                continue;
            }
            return Ok(response);
        }
    }

    /// The `Authorization` header for the upstream's own origin, fetching an OAuth2 token when
    /// none is cached. A token request that failed in a way that may pass means the request it
    /// was for was never sent ([`CallError::NotSent`]), whatever happened to the token request.
    async fn authorization(&self) -> Result<Option<http::HeaderValue>, CallError> {
        self.auth.header(&self.http).await.map_err(|e| match e {
            CallError::NotSent(m)
            | CallError::Ambiguous(m)
            | CallError::Transient(m)
            | CallError::Malformed(m) => {
                CallError::NotSent(format!("no OAuth2 token, so nothing was sent: {m}"))
            }
            other => other,
        })
    }

    /// Makes sure the credentials are ready (an OAuth2 token fetched), so that a create is
    /// counted only when it can go out at once.
    pub(crate) async fn authorize(&self) -> Result<(), CallError> {
        self.authorization().await.map(|_| ())
    }

    fn notify<'a>(&'a self, id: JobId, request: &'a str) -> impl FnMut(&str, Duration) + 'a {
        move |reason, delay| {
            self.counters.retry();
            announce_retry(&self.events, id, request, reason, delay);
        }
    }

    /// Runs the idempotent GET `op` with the bounded retry of [`crate::RetryConfig`] for
    /// `endpoint`; `request` names it in the log line of each retry (e.g. `the report detail
    /// (GET https://...)`).
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        id: JobId,
        endpoint: Endpoint,
        request: &str,
        op: F,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        with_retries(
            &self.config.retry,
            &self.gate,
            endpoint,
            self.notify(id, request),
            op,
        )
        .await
    }

    /// POSTs a create once (after the endpoint's 429 gate) and returns its status and
    /// Location. Never retried here: a connection lost after sending ends as
    /// [`CallError::Unconfirmed`] and any other failure goes back to the core, which decides.
    /// A 429 holds the endpoint for every job until its reset.
    async fn post_create(
        &self,
        url: &str,
        body: String,
        what: &'static str,
    ) -> Result<(StatusCode, Option<String>), CallError> {
        let payload = Payload {
            content_type: "application/xml; charset=utf-8",
            bytes: Bytes::from(body),
        };
        self.gate.wait(Endpoint::Create).await;
        let started = std::time::Instant::now();
        let answer = self.post_once(url, &payload, what).await;
        self.counters.create_took(started.elapsed());
        if let Err(CallError::RateLimited(wait)) = &answer {
            self.gate.hold(Endpoint::Create, *wait);
        }
        answer
    }

    async fn post_once(
        &self,
        url: &str,
        payload: &Payload,
        what: &'static str,
    ) -> Result<(StatusCode, Option<String>), CallError> {
        let response = match self
            .exchange(Endpoint::Create, Method::POST, url, Some(payload))
            .await
        {
            Err(CallError::Ambiguous(m)) => return Err(CallError::Unconfirmed(m)),
            other => other?,
        };
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| resolve(&self.base_uri, l));
        match (status, location) {
            // The answer is complete without its body (informational only).
            (StatusCode::CREATED, Some(location)) => return Ok((status, Some(location))),
            (StatusCode::NO_CONTENT, _) => return Ok((status, None)),
            _ => {}
        }
        let body = match self.http.read_xml(response.into_body(), what).await {
            Err(CallError::Ambiguous(m)) => return Err(CallError::Unconfirmed(m)),
            other => other?,
        };
        if status.is_success() {
            return Err(parse_error_envelope(&body)
                .as_ref()
                .and_then(by_code)
                .unwrap_or_else(|| {
                    CallError::Unconfirmed(format!(
                        "the {what} answered HTTP {status} without a usable Location"
                    ))
                }));
        }
        Err(classify(status, &headers, &body, false, what))
    }

    /// Creates an account report instance; returns its location.
    pub(crate) async fn create_instance(
        &self,
        spec: &AccountReportSpec,
    ) -> Result<String, CallError> {
        let body = InstanceRequest {
            output_format: spec.format.as_str().to_string(),
            parameters: spec
                .params
                .iter()
                .map(|(name, values)| Parameter {
                    name: name.clone(),
                    values: values.iter().cloned().collect(),
                })
                .collect(),
            expires_at: spec.expires_at.map(|d| d.to_string()),
        }
        .to_xml()
        .map_err(|e| bad_answer(e.to_string()))?;
        let url = format!(
            "{}/accounts/{}/reports/{}/instances",
            self.base, spec.account, spec.report_id
        );
        match self
            .post_create(&url, body, "report instance creation")
            .await?
        {
            (StatusCode::CREATED, Some(location)) => Ok(location),
            (status, _) => Err(bad_answer(format!(
                "the report instance creation answered HTTP {status} without a Location; the upstream did not say where the report is"
            ))),
        }
    }

    /// Creates a billing report; `None` when the upstream has no data for the range (204).
    pub(crate) async fn create_billing(
        &self,
        spec: &BillingReportSpec,
    ) -> Result<Option<String>, CallError> {
        let body = BillingReportRequest {
            report_type: spec.report_type.clone(),
            start_date: spec.start.to_string(),
            end_date: spec.end.to_string(),
        }
        .to_xml()
        .map_err(|e| bad_answer(e.to_string()))?;
        let url = format!("{}/accounts/{}/billingReports", self.base, spec.account);
        match self
            .post_create(&url, body, "billing report creation")
            .await?
        {
            (StatusCode::NO_CONTENT, _) => Ok(None),
            (StatusCode::CREATED, Some(location)) => Ok(Some(location)),
            (status, _) => Err(bad_answer(format!(
                "the billing report creation answered HTTP {status} without a Location; the upstream did not say where the report is"
            ))),
        }
    }

    /// GETs an XML document and parses it, with retries; non-success answers are classified.
    async fn get_parsed<T>(
        &self,
        id: JobId,
        endpoint: Endpoint,
        url: &str,
        location_based: bool,
        what: &'static str,
        parse: impl Fn(&[u8]) -> Result<T, WireError>,
    ) -> Result<T, CallError> {
        let endpoint_text = format!("GET {}", shown(url));
        let request = format!("the {what} ({endpoint_text})");
        self.retrying(id, endpoint, &request, || async {
            let response = self.exchange(endpoint, Method::GET, url, None).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.http.read_xml(response.into_body(), what).await?;
            if status != StatusCode::OK {
                return Err(classify(status, &headers, &body, location_based, what));
            }
            match parse(&body) {
                Ok(value) => Ok(value),
                Err(WireError::Upstream(u)) => Err(by_code(&u)
                    .unwrap_or_else(|| CallError::Permanent(refused(status, Some(&u), what)))),
                Err(WireError::Malformed { what, detail }) => Err(CallError::Malformed(
                    unreadable(&format!("the {what} XML"), &detail, &endpoint_text, &body),
                )),
                Err(other) => Err(CallError::Malformed(other.to_string())),
            }
        })
        .await
    }

    /// The status of a report at `location`: what it means, as the wire crate reads the
    /// family's vocabulary, and its literal.
    pub(crate) async fn status(
        &self,
        id: JobId,
        kind: JobKind,
        location: &str,
    ) -> Result<(Progress, String), CallError> {
        let what = "report status";
        match kind {
            JobKind::Account => {
                self.get_parsed(id, Endpoint::Status, location, true, what, |b| {
                    parse_instance(b).map(|i| match i.status {
                        Some(status) => (instance_progress(&status), status.as_str().to_string()),
                        None => (Progress::NotReady, String::new()),
                    })
                })
                .await
            }
            JobKind::Billing => {
                self.get_parsed(id, Endpoint::Status, location, true, what, |b| {
                    parse_billing_retrieval(b)
                        .map(|r| (billing_progress(&r.status), r.status.as_str().to_string()))
                })
                .await
            }
        }
    }

    /// One page of an account's instances of one report.
    pub(crate) async fn instances(
        &self,
        id: JobId,
        account: &str,
        report_id: u32,
        page: u32,
        size: u32,
    ) -> Result<Vec<Instance>, CallError> {
        let url = format!(
            "{}/accounts/{account}/reports/{report_id}/instances?page={page}&size={size}",
            self.base
        );
        self.get_parsed(
            id,
            Endpoint::Listing,
            &url,
            false,
            "instance listing",
            parse_instance_list,
        )
        .await
    }

    /// The location of an account report instance by its id.
    pub(crate) fn instance_location(
        &self,
        account: &str,
        report_id: u32,
        instance: &str,
    ) -> String {
        format!(
            "{}/accounts/{account}/reports/{report_id}/instances/{instance}",
            self.base
        )
    }

    /// Starts a file download: the 200 response, or why not.
    pub(crate) async fn open_file(&self, location: &str) -> Result<Response<Incoming>, CallError> {
        let url = format!("{}/file", location.trim_end_matches('/'));
        let response = self
            .exchange(Endpoint::File, Method::GET, &url, None)
            .await?;
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = self
            .http
            .read_xml(response.into_body(), "report file")
            .await?;
        Err(classify(status, &headers, &body, true, "report file"))
    }

    /// The account's report catalogue.
    pub(crate) async fn report_types(
        &self,
        account: &str,
    ) -> Result<Vec<ReportSummary>, CallError> {
        let url = format!("{}/accounts/{account}/reports", self.base);
        self.get_parsed(
            JobId(0),
            Endpoint::Catalogue,
            &url,
            false,
            "report list",
            parse_report_list,
        )
        .await
    }

    /// One report type with its parameters.
    pub(crate) async fn report_detail(
        &self,
        account: &str,
        report_id: u32,
    ) -> Result<ReportDetail, CallError> {
        let url = format!("{}/accounts/{account}/reports/{report_id}", self.base);
        self.get_parsed(
            JobId(0),
            Endpoint::Catalogue,
            &url,
            false,
            "report detail",
            parse_report_detail,
        )
        .await
    }
}

/// A URL as messages show it: without its query string and without any user info.
pub(crate) fn shown(url: &str) -> String {
    url.parse::<Uri>()
        .map(|uri| redact(&uri))
        .unwrap_or_else(|_| "an unparsable URL".to_string())
}

/// How many bytes of an unreadable body a message shows.
const SHOWN_BODY_BYTES: usize = 160;

/// The message for an answer that arrived whole and cannot be read: what could not be read,
/// from which endpoint, why, and how the body starts (never more than a short prefix; the
/// upstream's XML carries no credentials).
pub(crate) fn unreadable(document: &str, detail: &str, endpoint: &str, body: &[u8]) -> String {
    let start = String::from_utf8_lossy(&body[..body.len().min(SHOWN_BODY_BYTES)]);
    let more = if body.len() > SHOWN_BODY_BYTES {
        "..."
    } else {
        ""
    };
    format!(
        "could not read {document} that {endpoint} answered: {detail}; the body ({} bytes) starts {start:?}{more}. \
         It arrived whole, so asking again will not help: check the base URL, and report the body to Bandwidth if it persists",
        body.len()
    )
}

/// What an account report instance's status means for its job.
fn instance_progress(status: &InstanceStatus) -> Progress {
    if status.is_ready() {
        Progress::Ready
    } else if status.is_expired() {
        Progress::Expired
    } else {
        Progress::NotReady
    }
}

/// What a billing report's status means for its job.
fn billing_progress(status: &BillingStatus) -> Progress {
    if status.is_completed() {
        Progress::Ready
    } else {
        Progress::NotReady
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_what_each_family_publishes() {
        // Account reports: `Ready` and `Expired` in any case; anything else is not ready.
        for (raw, progress) in [
            ("Ready", Progress::Ready),
            (" READY ", Progress::Ready),
            ("Expired", Progress::Expired),
            ("expired", Progress::Expired),
            ("Processing", Progress::NotReady),
            ("COMPLETED", Progress::NotReady),
            ("", Progress::NotReady),
        ] {
            assert_eq!(
                instance_progress(&InstanceStatus::parse(raw)),
                progress,
                "{raw:?}"
            );
        }
        // Billing reports: `COMPLETED` or `COMPLETE` in any case; `Ready` means nothing here.
        for (raw, progress) in [
            ("COMPLETED", Progress::Ready),
            ("COMPLETE", Progress::Ready),
            ("complete", Progress::Ready),
            ("RECEIVED", Progress::NotReady),
            ("PROCESSING", Progress::NotReady),
            ("Ready", Progress::NotReady),
            ("Something new", Progress::NotReady),
        ] {
            assert_eq!(
                billing_progress(&BillingStatus::parse(raw)),
                progress,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn urls_in_messages_lose_their_query_and_user_info() {
        assert_eq!(
            shown("https://user:secret@example.com:8443/api/x?X-Sig=abc"),
            "https://example.com:8443/api/x"
        );
        assert_eq!(
            shown("http://127.0.0.1:9/api/accounts/1/reports/2"),
            "http://127.0.0.1:9/api/accounts/1/reports/2"
        );
    }

    #[test]
    fn an_unreadable_answer_names_the_endpoint_the_error_and_how_the_body_starts() {
        let long = format!("<X>{}</X>", "y".repeat(400));
        let message = unreadable(
            "the report detail XML",
            "bad",
            "GET http://h/r",
            long.as_bytes(),
        );
        assert!(
            message.starts_with("could not read the report detail XML that GET http://h/r answered: bad; the body (407 bytes) starts \"<X>yyy"),
            "{message}"
        );
        assert!(
            message.contains("yyy\"..."),
            "cut after the first bytes: {message}"
        );
        assert!(message.len() < 450, "{message}");
        let short = unreadable("a", "b", "c", b"\x00\n");
        assert!(short.contains(r#"starts "\0\n"."#), "{short}");
    }
}
