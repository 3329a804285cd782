//! HTTP Basic and OAuth2 bearer tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::HeaderMap;
use http::header::AUTHORIZATION;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::SimConfig;
use crate::files::hex;

/// Decodes standard base64 (padding optional); `None` on any invalid character.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The value of the `Authorization` header after `scheme ` (scheme compared case-insensitively).
fn credentials<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The (user, password) of a Basic `Authorization` header.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let decoded = String::from_utf8(base64_decode(credentials(headers, "Basic")?)?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Issued bearer tokens and their expiry.
pub(crate) struct TokenStore {
    tokens: HashMap<String, (String, Instant)>,
    rng: ChaCha8Rng,
}

impl TokenStore {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(2_000);
        TokenStore {
            tokens: HashMap::new(),
            rng,
        }
    }

    /// A new token for `client`, valid for `lifetime` from `now`.
    pub(crate) fn issue(&mut self, client: &str, lifetime: Duration, now: Instant) -> String {
        self.tokens.retain(|_, (_, expiry)| *expiry > now);
        let mut bytes = [0u8; 24];
        self.rng.fill_bytes(&mut bytes);
        let token = format!("sim-{}", hex(&bytes));
        self.tokens.insert(
            token.clone(),
            (client.to_owned(), crate::state::later(now, lifetime)),
        );
        token
    }

    /// The client a valid token was issued to.
    fn client_of(&self, token: &str, now: Instant) -> Option<&str> {
        match self.tokens.get(token) {
            Some((client, expiry)) if *expiry > now => Some(client),
            _ => None,
        }
    }
}

/// The principal of an API request (user name or OAuth2 client id), or `None` (answer 401).
pub(crate) fn authenticate(
    config: &SimConfig,
    tokens: &TokenStore,
    headers: &HeaderMap,
    now: Instant,
) -> Option<String> {
    if let Some(token) = credentials(headers, "Bearer") {
        return tokens.client_of(token, now).map(str::to_owned);
    }
    let (user, password) = basic(headers)?;
    (config.basic_auth && user == config.username && password == config.password).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn decodes_the_seed_header() {
        assert_eq!(
            base64_decode("dXNlcm5hbWU6cGFzc3dvcmQ=").as_deref(),
            Some(&b"username:password"[..])
        );
        assert_eq!(base64_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("!!"), None);
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("basic dXNlcm5hbWU6cGFzc3dvcmQ="),
        );
        assert_eq!(basic(&h), Some(("username".into(), "password".into())));
    }

    #[test]
    fn tokens_expire() {
        let mut store = TokenStore::new(1);
        let now = Instant::now();
        let t = store.issue("c", Duration::from_secs(5), now);
        assert_eq!(store.client_of(&t, now), Some("c"));
        assert_eq!(store.client_of(&t, now + Duration::from_secs(5)), None);
        assert_eq!(store.client_of("nope", now), None);
    }
}
