//! A tiny HTTP/1.1 client over raw TCP (one request per connection), able to observe what a
//! well-behaved client library would hide: resets, short bodies, stalls.
#![allow(dead_code)]

use std::time::Duration;

use reportflow_sim::{Sim, SimConfig, SimHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A complete response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<tag>` element of the body.
    pub fn element(&self, tag: &str) -> Option<String> {
        element(&self.text(), tag)
    }
}

/// The text of the first `<tag>` element.
pub fn element(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_string())
}

/// What came back.
#[derive(Debug)]
pub enum Got {
    /// A whole response.
    Reply(Reply),
    /// The connection closed without a response; `reset` when it was a TCP RST.
    Dropped { reset: bool },
    /// Headers, then fewer body bytes than `Content-Length` and the connection closed.
    Truncated { reply: Reply, expected: u64 },
    /// Headers, then the body stopped coming (no bytes for the stall timeout).
    Stalled {
        reply: Reply,
        expected: u64,
        stream: TcpStream,
    },
}

impl Got {
    pub fn reply(self) -> Reply {
        match self {
            Got::Reply(r) => r,
            other => panic!("expected a whole response, got {other:?}"),
        }
    }
}

pub fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `host:port` and `path?query` of an `http://` URL.
pub fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    }
}

/// A client with optional credentials.
#[derive(Clone, Debug)]
pub struct Client {
    pub authorization: Option<String>,
    pub stall_timeout: Duration,
}

impl Client {
    pub fn basic(user: &str, password: &str) -> Self {
        Client {
            authorization: Some(format!(
                "Basic {}",
                base64(format!("{user}:{password}").as_bytes())
            )),
            stall_timeout: Duration::from_secs(5),
        }
    }

    pub fn demo() -> Self {
        Client::basic("demo", "demo-secret")
    }

    pub fn bearer(token: &str) -> Self {
        Client {
            authorization: Some(format!("Bearer {token}")),
            stall_timeout: Duration::from_secs(5),
        }
    }

    pub fn anonymous() -> Self {
        Client {
            authorization: None,
            stall_timeout: Duration::from_secs(5),
        }
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.send("GET", url, "", &[]).await.reply()
    }

    pub async fn post(&self, url: &str, body: &str) -> Reply {
        self.send("POST", url, body, &[]).await.reply()
    }

    pub async fn send(&self, method: &str, url: &str, body: &str, extra: &[(&str, &str)]) -> Got {
        let (host, target) = split_url(url);
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(auth) = &self.authorization {
            request.push_str(&format!("Authorization: {auth}\r\n"));
        }
        if !body.is_empty() {
            request.push_str("Content-Type: application/xml; charset=utf-8\r\n");
        }
        for (name, value) in extra {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let mut stream = TcpStream::connect(&host).await.expect("connect");
        // A server may answer (and close) before reading everything: read what it said anyway.
        let _ = stream.write_all(request.as_bytes()).await;
        read_response(stream, self.stall_timeout).await
    }
}

async fn read_response(mut stream: TcpStream, stall: Duration) -> Got {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match tokio::time::timeout(stall, stream.read(&mut chunk)).await {
            Err(_) => panic!("no response headers within {stall:?}"),
            Ok(Ok(0)) => return Got::Dropped { reset: false },
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => {
                return Got::Dropped {
                    reset: e.kind() == std::io::ErrorKind::ConnectionReset,
                };
            }
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: buf[header_end + 4..].to_vec(),
    };
    let expected: u64 = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while (reply.body.len() as u64) < expected {
        match tokio::time::timeout(stall, stream.read(&mut chunk)).await {
            Err(_) => {
                return Got::Stalled {
                    reply,
                    expected,
                    stream,
                };
            }
            Ok(Ok(0)) | Ok(Err(_)) => return Got::Truncated { reply, expected },
            Ok(Ok(n)) => reply.body.extend_from_slice(&chunk[..n]),
        }
    }
    Got::Reply(reply)
}

/// Starts a simulator with everything ready at once.
pub async fn instant_sim() -> SimHandle {
    Sim::start(SimConfig::instant()).await.expect("sim starts")
}

/// The seed's example body for report `report` with these parameters.
pub fn instance_body(format: &str, params: &[(&str, &[&str])], expires: Option<&str>) -> String {
    let mut body = format!("<Instance><OutputFormat>{format}</OutputFormat><Parameters>");
    for (name, values) in params {
        body.push_str(&format!("<Parameter><Name>{name}</Name>"));
        for v in *values {
            body.push_str(&format!("<Value>{v}</Value>"));
        }
        body.push_str("</Parameter>");
    }
    body.push_str("</Parameters>");
    if let Some(e) = expires {
        body.push_str(&format!("<ExpiresAt>{e}</ExpiresAt>"));
    }
    body.push_str("</Instance>");
    body
}

/// Creates an instance of report 4 (AccountId only) for account 1; returns its location.
pub async fn create_inventory(sim: &SimHandle) -> String {
    let url = format!("{}/accounts/1/reports/4/instances", sim.base_url());
    let reply = Client::demo()
        .post(&url, &instance_body("csv", &[("AccountId", &["1"])], None))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.header("location").expect("Location").to_string()
}

/// A billing create body.
pub fn billing_body(kind: &str, start: &str, end: &str) -> String {
    format!(
        "<BillingReport><Type>{kind}</Type><DateRange><StartDate>{start}</StartDate><EndDate>{end}</EndDate></DateRange></BillingReport>"
    )
}

/// sha256 hex of bytes, via the sim's dependency.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Today plus `days`, `YYYY-MM-DD` (UTC).
pub fn date_in(days: i64) -> String {
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    today
        .checked_add(jiff::Span::new().days(days))
        .expect("date")
        .to_string()
}
