//! The `Authorization` header: Basic, or an OAuth2 bearer token cached and refreshed.

use crate::call::{CallError, bad_answer, classify};
use crate::config::Credentials;
use crate::http::{Http, Payload, redact};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, Uri};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh a token this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct Token {
    header: HeaderValue,
    refresh_at: Instant,
}

/// Gives the header for the upstream's own origin.
pub(crate) struct Authorizer {
    credentials: Option<Credentials>,
    token: Mutex<Option<Token>>,
}

fn basic(user: &str, password: &str) -> Result<HeaderValue, CallError> {
    let mut value = HeaderValue::from_str(&format!(
        "Basic {}",
        STANDARD.encode(format!("{user}:{password}"))
    ))
    .map_err(|_| {
        bad_answer("the credentials contain characters that cannot go in a header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl Authorizer {
    /// An authorizer for these credentials (none: requests go without `Authorization`).
    pub(crate) fn new(credentials: Option<Credentials>) -> Authorizer {
        Authorizer {
            credentials,
            token: Mutex::new(None),
        }
    }

    /// True when a 401 may be cured by fetching a new token.
    pub(crate) fn refreshable(&self) -> bool {
        matches!(self.credentials, Some(Credentials::OAuth2 { .. }))
    }

    /// Forgets the cached token (after a 401).
    pub(crate) async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    /// The header value, fetching a token when needed.
    pub(crate) async fn header(&self, http: &Http) -> Result<Option<HeaderValue>, CallError> {
        match &self.credentials {
            None => Ok(None),
            Some(Credentials::Basic { username, password }) => basic(username, password).map(Some),
            Some(Credentials::OAuth2 {
                client_id,
                client_secret,
                token_url,
            }) => {
                let mut cached = self.token.lock().await;
                if let Some(token) = cached.as_ref()
                    && Instant::now() < token.refresh_at
                {
                    return Ok(Some(token.header.clone()));
                }
                let token = fetch_token(http, token_url, client_id, client_secret).await?;
                let header = token.header.clone();
                *cached = Some(token);
                Ok(Some(header))
            }
        }
    }
}

async fn fetch_token(
    http: &Http,
    token_url: &str,
    id: &str,
    secret: &str,
) -> Result<Token, CallError> {
    let uri: Uri = token_url
        .parse()
        .map_err(|_| bad_answer(format!("the token URL {token_url:?} is not a URL")))?;
    let payload = Payload {
        content_type: "application/x-www-form-urlencoded",
        bytes: Bytes::from_static(b"grant_type=client_credentials"),
    };
    let response = http
        .send(
            Method::POST,
            &uri,
            Some(&basic(id, secret)?),
            Some(&payload),
        )
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = http.read_xml(response.into_body(), "OAuth2 token").await?;
    if status != StatusCode::OK {
        return Err(
            match classify(status, &headers, &body, false, "the OAuth2 token request") {
                CallError::Unauthorized(f) => CallError::Permanent(f),
                other => other,
            },
        );
    }
    // The body is not shown: a token answer carries a secret.
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
        CallError::Malformed(format!(
            "could not read the OAuth2 token answer that POST {} answered ({} bytes): it is not the documented JSON ({e}); check BANDWIDTH_TOKEN_URL",
            redact(&uri),
            body.len()
        ))
    })?;
    let mut header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
        .map_err(|_| bad_answer("the OAuth2 token cannot go in a header".into()))?;
    header.set_sensitive(true);
    let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
    let early = lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
    Ok(Token {
        header,
        refresh_at: Instant::now() + early,
    })
}
