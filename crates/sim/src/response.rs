//! Building responses: XML bodies, error envelopes, empty answers, 429s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Response, StatusCode};

use crate::body::SimBody;
use crate::config::{ErrorShape, ResetUnit};
use crate::xml::XmlWriter;

/// A response of the simulator.
pub(crate) type Resp = Response<SimBody>;

/// Content type of every XML body.
pub(crate) const XML: &str = "application/xml; charset=utf-8";

/// Sets a header; a value that cannot be a header value is left out (and logged).
pub(crate) fn set_header(resp: &mut Resp, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            resp.headers_mut().insert(name, v);
        }
        Err(_) => tracing::warn!(%name, value, "header value left out: not a valid header value"),
    }
}

/// A response with this body and content type (and its `Content-Length`).
pub(crate) fn with_body(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let body = SimBody::full(body);
    let len = body.len();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    set_header(&mut resp, CONTENT_TYPE, content_type);
    set_header(&mut resp, CONTENT_LENGTH, &len.to_string());
    resp
}

/// `200` with a file body, its `Content-Length` and `Content-Disposition: attachment; filename=..`.
pub(crate) fn attachment(body: SimBody, content_type: &str, file_name: &str) -> Resp {
    let len = body.len();
    let mut resp = Response::new(body);
    set_header(&mut resp, CONTENT_TYPE, content_type);
    set_header(&mut resp, CONTENT_LENGTH, &len.to_string());
    set_header(
        &mut resp,
        CONTENT_DISPOSITION,
        &format!("attachment; filename={file_name}"),
    );
    resp
}

/// A response without a body.
pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(SimBody::empty());
    *resp.status_mut() = status;
    set_header(&mut resp, CONTENT_LENGTH, "0");
    resp
}

/// An XML response.
pub(crate) fn xml(status: StatusCode, body: String) -> Resp {
    with_body(status, XML, body)
}

/// What a gateway in front of the API says on 500/502/504.
pub(crate) fn html_error(status: StatusCode) -> Resp {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    with_body(
        status,
        "text/html; charset=utf-8",
        format!(
            "<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>"
        ),
    )
}

/// Milliseconds since the epoch, `after` from now.
pub(crate) fn epoch_millis_after(after: Duration) -> u128 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_add(after).as_millis()
}

/// `429` with an empty body and `X-RateLimit-Reset` (epoch seconds rounded up, or epoch ms).
pub(crate) fn too_many_requests(after: Duration, unit: ResetUnit) -> Resp {
    let millis = epoch_millis_after(after);
    let reset = match unit {
        ResetUnit::Seconds => millis.div_ceil(1000),
        ResetUnit::Milliseconds => millis,
    };
    let mut resp = empty(StatusCode::TOO_MANY_REQUESTS);
    set_header(
        &mut resp,
        HeaderName::from_static("x-ratelimit-reset"),
        &reset.to_string(),
    );
    resp
}

/// An error answer: a status and one or more (code, description) problems.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub problems: Vec<(u32, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, description: impl Into<String>) -> Self {
        ApiError {
            status,
            problems: vec![(code, description.into())],
        }
    }
}

/// Renders error problems in a shape (`Varied` must be resolved by the caller).
///
/// `AnyResponse` puts the first code and every description (joined by `; `) in
/// `<{root}><ResponseStatus>`; `ErrorElement` likewise in `<{root}><Error>`;
/// `RepeatedErrors` writes one `<Errors>` per problem.
pub(crate) fn render_error(
    shape: ErrorShape,
    root: &str,
    problems: &[(u32, String)],
    declaration: bool,
) -> String {
    let mut w = XmlWriter::new(declaration);
    w.open(root);
    let code = problems.first().map_or(0, |p| p.0);
    let joined = problems
        .iter()
        .map(|p| p.1.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    match shape {
        ErrorShape::AnyResponse | ErrorShape::Varied => {
            w.open("ResponseStatus")
                .leaf("ErrorCode", code)
                .leaf("Description", &joined)
                .close("ResponseStatus");
        }
        ErrorShape::ErrorElement => {
            w.open("Error")
                .leaf("Code", code)
                .leaf("Description", &joined)
                .close("Error");
        }
        ErrorShape::RepeatedErrors => {
            for (code, description) in problems {
                w.open("Errors")
                    .leaf("Code", code)
                    .leaf("Description", description)
                    .close("Errors");
            }
        }
    }
    w.close(root).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        let p = vec![(19032, "a".to_string()), (19033, "b<".to_string())];
        assert_eq!(
            render_error(ErrorShape::AnyResponse, "AnyResponse", &p, false),
            "<AnyResponse><ResponseStatus><ErrorCode>19032</ErrorCode><Description>a; b&lt;</Description></ResponseStatus></AnyResponse>"
        );
        assert_eq!(
            render_error(ErrorShape::RepeatedErrors, "R", &p, false),
            "<R><Errors><Code>19032</Code><Description>a</Description></Errors><Errors><Code>19033</Code><Description>b&lt;</Description></Errors></R>"
        );
        assert!(render_error(ErrorShape::ErrorElement, "R", &p, true).starts_with("<?xml"));
    }
}
