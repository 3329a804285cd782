//! `POST /api/v1/oauth2/token`: OAuth2 client credentials.

use http::header::CACHE_CONTROL;
use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::{Ctx, read_body, unauthorized};
use crate::lock;
use crate::response::{Resp, set_header, with_body};

/// Decodes one `application/x-www-form-urlencoded` component (`+` and `%XX`).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let digit = |c: u8| char::from(c).to_digit(16);
                match (digit(bytes[i + 1]), digit(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_error(status: StatusCode, error: &str) -> Resp {
    with_body(
        status,
        "application/json",
        serde_json::json!({ "error": error }).to_string(),
    )
}

/// Issues a bearer token to a client authenticated with Basic.
pub(super) async fn issue(ctx: &Ctx<'_>, req: Request<Incoming>) -> Resp {
    let config = ctx.config;
    let client_ok = crate::auth::basic(req.headers())
        .is_some_and(|(id, secret)| id == config.client_id && secret == config.client_secret);
    if !client_ok {
        return unauthorized(config, r#"{"error":"invalid_client"}"#);
    }
    let Ok(body) = read_body(req).await else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let grant = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| form_decode(k) == "grant_type")
        .map(|(_, v)| form_decode(v));
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return json_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return json_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
    let token = lock(&ctx.app.tokens).issue(&config.client_id, config.token_lifetime, ctx.now);
    let body = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": config.token_lifetime.as_secs(),
    });
    let mut resp = with_body(StatusCode::OK, "application/json", body.to_string());
    set_header(&mut resp, CACHE_CONTROL, "no-store");
    resp
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn decodes_form_components() {
        assert_eq!(form_decode("client_credentials"), "client_credentials");
        assert_eq!(form_decode("a+b%2Fc"), "a b/c");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
    }
}
