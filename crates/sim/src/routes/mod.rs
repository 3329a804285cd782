//! Request handling: routing, fault injection, rate limits, auth, then the handlers.

mod billing;
mod download;
mod reports;
mod token;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{ALLOW, HeaderName, PROXY_AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::app::App;
use crate::config::{ErrorShape, FixedAnswer, ResetUnit, SimConfig};
use crate::faults::{Endpoint, Fault};
use crate::lock;
use crate::response::{
    ApiError, Resp, XML, empty, html_error, render_error, set_header, too_many_requests, with_body,
};

pub(crate) use billing::billing_zip_of;
pub(crate) use reports::instance_file_response;

/// Which listener a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The API (`/api/...`).
    Api,
    /// The second origin serving signed download URLs.
    Downloads,
}

/// What the connection should do with a request.
pub(crate) enum Outcome {
    /// Send this response.
    Respond(Box<Resp>),
    /// Close the connection without a response; `reset` sends a TCP RST.
    Drop { reset: bool },
}

/// Largest request body read.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// Error codes chosen by the simulator where the upstream's are not published.
pub(crate) mod codes {
    /// Unknown report.
    pub const UNKNOWN_REPORT: u32 = 19000;
    /// Unknown instance.
    pub const UNKNOWN_INSTANCE: u32 = 19019;
    /// Reporting service error (transient).
    pub const REPORTING_SERVICE: u32 = 19031;
    /// Invalid `ExpiresAt` (simulator's choice).
    pub const INVALID_EXPIRES_AT: u32 = 19034;
    /// Missing or invalid output format (simulator's choice).
    pub const INVALID_FORMAT: u32 = 19035;
    /// Malformed request body (simulator's choice).
    pub const MALFORMED_BODY: u32 = 19036;
    /// Invalid `page` or `size` (simulator's choice).
    pub const INVALID_PAGING: u32 = 19037;
    /// Report generation in progress.
    pub const IN_PROGRESS: u32 = 19048;
    /// Report output expired.
    pub const EXPIRED: u32 = 19049;
    /// Not a valid UUID.
    pub const NOT_UUID: u32 = 1008;
    /// Account id not made of digits (simulator's choice).
    pub const UNKNOWN_ACCOUNT: u32 = 1003;
    /// Invalid billing type or malformed billing body (simulator's choice).
    pub const INVALID_BILLING_REQUEST: u32 = 15500;
    /// Invalid date range.
    pub const INVALID_DATE_RANGE: u32 = 15501;
    /// Billing report not found.
    pub const BILLING_NOT_FOUND: u32 = 15603;
    /// Remote service unavailable (transient).
    pub const REMOTE_UNAVAILABLE: u32 = 15606;
    /// Billing report already deleted.
    pub const BILLING_DELETED: u32 = 15613;
    /// Billing report still being constructed.
    pub const BILLING_NOT_READY: u32 = 15614;
}

/// A parsed request path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Token,
    Reports {
        account: String,
    },
    Report {
        account: String,
        report: String,
    },
    AllInstances {
        account: String,
    },
    Instances {
        account: String,
        report: String,
    },
    CreateInstance {
        account: String,
        report: String,
    },
    Instance {
        account: String,
        report: String,
        instance: String,
    },
    InstanceFile {
        account: String,
        report: String,
        instance: String,
    },
    CreateBilling {
        account: String,
    },
    Billing {
        account: String,
        id: String,
    },
    BillingFile {
        account: String,
        id: String,
    },
    Download {
        instance: String,
        file: String,
    },
    MethodNotAllowed {
        endpoint: Endpoint,
        allow: &'static str,
    },
    NotFound,
}

impl Route {
    fn parse(origin: Origin, method: &Method, path: &str) -> Route {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let s = |x: &str| x.to_owned();
        let (route, endpoint, allow) = match (origin, segments.as_slice()) {
            (Origin::Downloads, ["download", i, f]) => (
                Route::Download {
                    instance: s(i),
                    file: s(f),
                },
                Endpoint::RedirectedFile,
                "GET",
            ),
            (Origin::Api, ["api", "v1", "oauth2", "token"]) => {
                (Route::Token, Endpoint::Token, "POST")
            }
            (Origin::Api, ["api", "accounts", a, rest @ ..]) => {
                let a = s(a);
                match rest {
                    ["reports"] => (Route::Reports { account: a }, Endpoint::Catalogue, "GET"),
                    ["reports", "instances"] => {
                        (Route::AllInstances { account: a }, Endpoint::Listing, "GET")
                    }
                    ["reports", r] => (
                        Route::Report {
                            account: a,
                            report: s(r),
                        },
                        Endpoint::Catalogue,
                        "GET",
                    ),
                    ["reports", r, "instances"] if post => (
                        Route::CreateInstance {
                            account: a,
                            report: s(r),
                        },
                        Endpoint::Create,
                        "POST",
                    ),
                    ["reports", r, "instances"] => (
                        Route::Instances {
                            account: a,
                            report: s(r),
                        },
                        Endpoint::Listing,
                        "GET, POST",
                    ),
                    ["reports", r, "instances", i] => (
                        Route::Instance {
                            account: a,
                            report: s(r),
                            instance: s(i),
                        },
                        Endpoint::Status,
                        "GET",
                    ),
                    ["reports", r, "instances", i, "file"] => (
                        Route::InstanceFile {
                            account: a,
                            report: s(r),
                            instance: s(i),
                        },
                        Endpoint::File,
                        "GET",
                    ),
                    ["billingReports"] => (
                        Route::CreateBilling { account: a },
                        Endpoint::Create,
                        "POST",
                    ),
                    ["billingreports", id] => (
                        Route::Billing {
                            account: a,
                            id: s(id),
                        },
                        Endpoint::Status,
                        "GET",
                    ),
                    ["billingreports", id, "file"] => (
                        Route::BillingFile {
                            account: a,
                            id: s(id),
                        },
                        Endpoint::File,
                        "GET",
                    ),
                    _ => return Route::NotFound,
                }
            }
            _ => return Route::NotFound,
        };
        let allowed = (allow.contains("GET") && get) || (allow.contains("POST") && post);
        if allowed {
            route
        } else {
            Route::MethodNotAllowed { endpoint, allow }
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Route::Token => Endpoint::Token,
            Route::Reports { .. } | Route::Report { .. } => Endpoint::Catalogue,
            Route::AllInstances { .. } | Route::Instances { .. } => Endpoint::Listing,
            Route::CreateInstance { .. } | Route::CreateBilling { .. } => Endpoint::Create,
            Route::Instance { .. } | Route::Billing { .. } => Endpoint::Status,
            Route::InstanceFile { .. } | Route::BillingFile { .. } => Endpoint::File,
            Route::Download { .. } => Endpoint::RedirectedFile,
            Route::MethodNotAllowed { endpoint, .. } => *endpoint,
            Route::NotFound => Endpoint::Other,
        }
    }

    fn account(&self) -> Option<&str> {
        match self {
            Route::Reports { account }
            | Route::Report { account, .. }
            | Route::AllInstances { account }
            | Route::Instances { account, .. }
            | Route::CreateInstance { account, .. }
            | Route::Instance { account, .. }
            | Route::InstanceFile { account, .. }
            | Route::CreateBilling { account }
            | Route::Billing { account, .. }
            | Route::BillingFile { account, .. } => Some(account),
            _ => None,
        }
    }

    fn is_billing(&self) -> bool {
        matches!(
            self,
            Route::CreateBilling { .. } | Route::Billing { .. } | Route::BillingFile { .. }
        )
    }

    /// The element a body of this route is wrapped in.
    fn root(&self) -> &'static str {
        match self {
            Route::Reports { .. } => "ReportsResponse",
            Route::Report { .. } => "ReportResponse",
            Route::AllInstances { .. } | Route::Instances { .. } => "ReportInstancesResponse",
            Route::CreateInstance { .. } | Route::Instance { .. } | Route::InstanceFile { .. } => {
                "ReportInstanceResponse"
            }
            Route::CreateBilling { .. } => "BillingReportCreationResponse",
            Route::Billing { .. } | Route::BillingFile { .. } => "BillingReportRetrievalResponse",
            _ => "AnyResponse",
        }
    }

    /// The error shape in force for this route.
    fn shape(&self, configured: ErrorShape) -> ErrorShape {
        match configured {
            ErrorShape::Varied if matches!(self, Route::CreateInstance { .. }) => {
                ErrorShape::RepeatedErrors
            }
            ErrorShape::Varied if self.is_billing() => ErrorShape::ErrorElement,
            ErrorShape::Varied => ErrorShape::AnyResponse,
            other => other,
        }
    }
}

/// What a handler needs: the shared state, the configuration in force, the time.
pub(crate) struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub config: &'a SimConfig,
    pub now: Instant,
}

/// Handles one request end to end, recording it in the stats.
pub(crate) async fn respond(app: &Arc<App>, origin: Origin, req: Request<Incoming>) -> Outcome {
    if req.headers().contains_key(PROXY_AUTHORIZATION) {
        app.stats.proxy_authorization_seen();
    }
    let route = Route::parse(origin, req.method(), req.uri().path());
    let endpoint = route.endpoint();
    let config = app.config();
    let fault = app.draw_fault(endpoint, route.account(), &config);
    let outcome = match fault {
        Fault::Latency => {
            tokio::time::sleep(config.faults.latency).await;
            Outcome::Respond(Box::new(handle(app, &config, &route, req).await))
        }
        Fault::ConnectionReset => Outcome::Drop { reset: true },
        Fault::InternalError
        | Fault::BadGateway
        | Fault::ServiceUnavailable
        | Fault::GatewayTimeout
        | Fault::RateLimitedSeconds
        | Fault::RateLimitedMillis
        | Fault::MalformedXml
        | Fault::ErrorIn200 => Outcome::Respond(Box::new(fault_response(fault, &config, &route))),
        Fault::AppliedResponseLost => {
            let _applied = handle(app, &config, &route, req).await;
            Outcome::Drop { reset: false }
        }
        Fault::CutShortBody | Fault::StalledBody => {
            let mut resp = handle(app, &config, &route, req).await;
            resp.body_mut().cut_half(fault == Fault::StalledBody);
            Outcome::Respond(Box::new(resp))
        }
        Fault::Pass => Outcome::Respond(Box::new(handle(app, &config, &route, req).await)),
    };
    let status = match &outcome {
        Outcome::Respond(resp) => resp.status().as_u16(),
        Outcome::Drop { .. } => 0,
    };
    app.stats.request(endpoint, status);
    outcome
}

/// The response a fault gives instead of the real one.
fn fault_response(fault: Fault, config: &SimConfig, route: &Route) -> Resp {
    let token = route == &Route::Token;
    let code = if route.is_billing() {
        codes::REMOTE_UNAVAILABLE
    } else {
        codes::REPORTING_SERVICE
    };
    let shape = route.shape(config.error_shape);
    let decl = config.xml_declaration;
    let unavailable = (code, "Reporting service error; try again later".to_string());
    match fault {
        Fault::ServiceUnavailable if token => with_body(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            r#"{"error":"temporarily_unavailable"}"#,
        ),
        Fault::ServiceUnavailable => with_body(
            StatusCode::SERVICE_UNAVAILABLE,
            XML,
            render_error(shape, "AnyResponse", &[unavailable], decl),
        ),
        Fault::RateLimitedSeconds => {
            too_many_requests(config.faults.rate_limit_reset_after, ResetUnit::Seconds)
        }
        Fault::RateLimitedMillis => too_many_requests(
            config.faults.rate_limit_reset_after,
            ResetUnit::Milliseconds,
        ),
        Fault::MalformedXml if token => with_body(
            StatusCode::OK,
            "application/json",
            r#"{"access_token":"sim-trunc"#,
        ),
        Fault::MalformedXml => with_body(
            StatusCode::OK,
            XML,
            format!(
                "{}<{root}><Status>Rea<dy</Status><Id>&bogus;</Id></Wrong>",
                if decl { crate::xml::DECLARATION } else { "" },
                root = route.root()
            ),
        ),
        Fault::ErrorIn200 if token => with_body(
            StatusCode::OK,
            "application/json",
            r#"{"error":"temporarily_unavailable","error_description":"try again later"}"#,
        ),
        Fault::ErrorIn200 => with_body(
            StatusCode::OK,
            XML,
            render_error(shape, route.root(), &[unavailable], decl),
        ),
        Fault::BadGateway => html_error(StatusCode::BAD_GATEWAY),
        Fault::GatewayTimeout => html_error(StatusCode::GATEWAY_TIMEOUT),
        _ => html_error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Rate limit, auth, then the route's handler.
async fn handle(app: &Arc<App>, config: &SimConfig, route: &Route, req: Request<Incoming>) -> Resp {
    let now = Instant::now();
    let ctx = Ctx { app, config, now };
    let endpoint = route.endpoint();
    if let Err(wait) = lock(&app.limiter).take(endpoint, &config.rate_limits, now) {
        return too_many_requests(wait, config.rate_limit_reset_unit);
    }
    if let Some(answer) = fixed_answer(config, route, &req) {
        let principal = {
            let tokens = lock(&app.tokens);
            crate::auth::authenticate(config, &tokens, req.headers(), now)
        };
        return match principal {
            Some(_) => fixed_response(answer),
            None => unauthorized(config, ""),
        };
    }
    let result = match route {
        Route::NotFound => return empty(StatusCode::NOT_FOUND),
        Route::MethodNotAllowed { allow, .. } => {
            let mut resp = empty(StatusCode::METHOD_NOT_ALLOWED);
            set_header(&mut resp, ALLOW, allow);
            return resp;
        }
        Route::Token => return token::issue(&ctx, req).await,
        Route::Download { instance, file } => {
            return download::serve(&ctx, req.headers(), req.uri().query(), instance, file);
        }
        _ => {
            let principal = {
                let tokens = lock(&app.tokens);
                crate::auth::authenticate(config, &tokens, req.headers(), now)
            };
            let Some(principal) = principal else {
                return unauthorized(config, "");
            };
            dispatch(&ctx, route, principal, req).await
        }
    };
    result.unwrap_or_else(|err| {
        let shape = route.shape(config.error_shape);
        let root = match shape {
            ErrorShape::AnyResponse => "AnyResponse",
            _ => route.root(),
        };
        let body = render_error(shape, root, &err.problems, config.xml_declaration);
        with_body(err.status, XML, body)
    })
}

/// The configured fixed answer to this API request, if any.
fn fixed_answer<'a>(
    config: &'a SimConfig,
    route: &Route,
    req: &Request<Incoming>,
) -> Option<&'a FixedAnswer> {
    if matches!(route, Route::Download { .. } | Route::Token) {
        return None;
    }
    let path = req.uri().path().strip_prefix("/api")?;
    config
        .fixed_answers
        .iter()
        .find(|a| a.path == path && a.method.eq_ignore_ascii_case(req.method().as_str()))
}

/// The response of a fixed answer (its headers checked when it was configured).
fn fixed_response(answer: &FixedAnswer) -> Resp {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = with_body(status, XML, answer.body.clone());
    for (name, value) in &answer.headers {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) if name != http::header::CONTENT_LENGTH => set_header(&mut resp, name, value),
            _ => {}
        }
    }
    resp
}

/// `401` with a challenge; `body` may be empty.
pub(crate) fn unauthorized(config: &SimConfig, body: &'static str) -> Resp {
    let mut resp = if body.is_empty() {
        empty(StatusCode::UNAUTHORIZED)
    } else {
        with_body(StatusCode::UNAUTHORIZED, "application/json", body)
    };
    let challenge = if config.basic_auth {
        r#"Basic realm="reportflow-sim""#
    } else {
        r#"Bearer realm="reportflow-sim""#
    };
    set_header(&mut resp, WWW_AUTHENTICATE, challenge);
    resp
}

/// The authenticated API routes.
async fn dispatch(
    ctx: &Ctx<'_>,
    route: &Route,
    principal: String,
    req: Request<Incoming>,
) -> Result<Resp, ApiError> {
    if let Some(account) = route.account()
        && (account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_ACCOUNT,
            format!("Account {account:?} not found"),
        ));
    }
    let query = req.uri().query().map(str::to_owned);
    match route {
        Route::Reports { .. } => Ok(reports::catalogue(ctx)),
        Route::Report { report, .. } => reports::detail(ctx, report),
        Route::AllInstances { account } => reports::listing(ctx, account, None, query.as_deref()),
        Route::Instances { account, report } => {
            reports::listing(ctx, account, Some(report), query.as_deref())
        }
        Route::CreateInstance { account, report } => {
            let body = read_body(req).await?;
            reports::create(ctx, account, report, &principal, &body)
        }
        Route::Instance {
            account,
            report,
            instance,
        } => reports::status(ctx, account, report, instance),
        Route::InstanceFile {
            account,
            report,
            instance,
        } => reports::file(ctx, account, report, instance),
        Route::CreateBilling { account } => {
            let body = read_body(req).await?;
            billing::create(ctx, account, &body)
        }
        Route::Billing { account, id } => billing::status(ctx, account, id),
        Route::BillingFile { account, id } => billing::file(ctx, account, id),
        _ => Ok(empty(StatusCode::NOT_FOUND)),
    }
}

/// The request body as UTF-8 text (at most 1 MiB).
pub(crate) async fn read_body(req: Request<Incoming>) -> Result<String, ApiError> {
    let bad = |what: String| ApiError::new(StatusCode::BAD_REQUEST, codes::MALFORMED_BODY, what);
    let bytes: Bytes = Limited::new(req.into_body(), MAX_REQUEST_BODY)
        .collect()
        .await
        .map_err(|e| bad(format!("Cannot read the request body: {e}")))?
        .to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("The request body is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |m: Method, p: &str| Route::parse(Origin::Api, &m, p);
        assert_eq!(
            r(Method::GET, "/api/accounts/1/reports/instances"),
            Route::AllInstances {
                account: "1".into()
            }
        );
        assert_eq!(
            r(Method::POST, "/api/accounts/1/reports/2/instances").endpoint(),
            Endpoint::Create
        );
        assert_eq!(
            r(Method::GET, "/api/accounts/1/billingReports/x"),
            Route::NotFound
        );
        assert!(matches!(
            r(Method::DELETE, "/api/accounts/1/reports/2/instances"),
            Route::MethodNotAllowed {
                endpoint: Endpoint::Listing,
                ..
            }
        ));
        assert_eq!(
            Route::parse(Origin::Api, &Method::GET, "/download/1/x"),
            Route::NotFound
        );
    }
}
