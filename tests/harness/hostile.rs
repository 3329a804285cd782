//! A tiny hostile upstream on 127.0.0.1 (raw TCP, one thread per connection, `Connection:
//! close`): it answers the report endpoints like Bandwidth, except where a test wants file names
//! that try to leave the output folder, or XML bodies that never end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
pub enum Answer {
    /// A whole response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `200`, chunked: `head`, then `chunk` repeated until the client goes away (or
    /// `limit` bytes), one chunk every `pause`.
    Endless {
        head: Vec<u8>,
        chunk: Vec<u8>,
        pause: Duration,
        limit: u64,
    },
}

impl Answer {
    pub fn xml(status: u16, body: &str) -> Answer {
        Answer::Full {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

type Handler = dyn Fn(&Request, u64) -> Answer + Send + Sync;

/// A running hostile upstream. Dropping it stops accepting.
pub struct Hostile {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// Bytes of endless bodies written before the client went away.
    pub endless_bytes: Arc<AtomicU64>,
}

impl Hostile {
    /// Serves `handler(request, n)` (`n` counts requests from 1) until dropped.
    pub fn start(handler: impl Fn(&Request, u64) -> Answer + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let endless_bytes = Arc::new(AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = Arc::new(AtomicU64::new(0));
        {
            let (stop, requests, endless_bytes) =
                (stop.clone(), requests.clone(), endless_bytes.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (handler, requests, counter, endless_bytes, stop) = (
                                handler.clone(),
                                requests.clone(),
                                counter.clone(),
                                endless_bytes.clone(),
                                stop.clone(),
                            );
                            std::thread::spawn(move || {
                                serve(
                                    stream,
                                    &*handler,
                                    &requests,
                                    &counter,
                                    &endless_bytes,
                                    &stop,
                                )
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Hostile {
            port,
            stop,
            requests,
            endless_bytes,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
    counter: &AtomicU64,
    endless_bytes: &AtomicU64,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        path,
        headers,
    };
    requests.lock().expect("requests").push(request.clone());
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    let mut out = stream;
    match handler(&request, n) {
        Answer::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&body);
        }
        Answer::Endless {
            head,
            chunk,
            pause,
            limit,
        } => {
            let start = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n";
            let frame = |bytes: &[u8]| {
                let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
                framed.extend_from_slice(bytes);
                framed.extend_from_slice(b"\r\n");
                framed
            };
            if out.write_all(start.as_bytes()).is_err() || out.write_all(&frame(&head)).is_err() {
                return;
            }
            let framed = frame(&chunk);
            let mut sent = 0u64;
            while sent < limit && !stop.load(Ordering::Relaxed) {
                if out.write_all(&framed).is_err() {
                    break;
                }
                sent += chunk.len() as u64;
                endless_bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                }
            }
            let _ = out.write_all(b"0\r\n\r\n");
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Write);
    // Let the client read the rest before the socket closes.
    let mut sink = [0u8; 1024];
    let _ = out.set_read_timeout(Some(Duration::from_millis(200)));
    while matches!(out.read(&mut sink), Ok(n) if n > 0) {}
}

/// The answers of an upstream that serves account report 4 and billing reports normally, with
/// `file(n, kind)` deciding each file answer (`n` = the instance's number, from 1; billing ids
/// count on from 1000). Statuses come back ready at once.
pub fn reports_upstream(
    file: impl Fn(u64, &Request) -> Answer + Send + Sync + 'static,
    status: impl Fn(u64, &Request) -> Option<Answer> + Send + Sync + 'static,
) -> Hostile {
    let next = Arc::new(AtomicU64::new(0));
    let next_billing = Arc::new(AtomicU64::new(1000));
    let port = Arc::new(Mutex::new(0u16));
    let port_seen = port.clone();
    let hostile = Hostile::start(move |request, _| {
        let base = format!("http://127.0.0.1:{}/api", *port_seen.lock().expect("port"));
        let path = request.path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["api", "accounts", _, "reports"]) => Answer::xml(
                200,
                "<ReportsResponse><Reports><Report><Id>4</Id><Name>Phone Number Inventory</Name></Report></Reports></ReportsResponse>",
            ),
            ("POST", ["api", "accounts", a, "reports", r, "instances"]) => {
                let n = next.fetch_add(1, Ordering::Relaxed) + 1;
                Answer::Full {
                    status: 201,
                    headers: vec![(
                        "Location".into(),
                        format!("{base}/accounts/{a}/reports/{r}/instances/{n}"),
                    )],
                    body: Vec::new(),
                }
            }
            ("POST", ["api", "accounts", a, "billingReports"]) => {
                let n = next_billing.fetch_add(1, Ordering::Relaxed) + 1;
                Answer::Full {
                    status: 201,
                    headers: vec![
                        ("Location".into(), format!("{base}/accounts/{a}/billingreports/{n}")),
                        ("Content-Type".into(), "application/xml".into()),
                    ],
                    body: b"<BillingReportCreationResponse><ReportStatus>RECEIVED</ReportStatus></BillingReportCreationResponse>".to_vec(),
                }
            }
            ("GET", ["api", "accounts", _, "reports", _, "instances", n]) => {
                let n: u64 = n.parse().unwrap_or(0);
                status(n, request).unwrap_or_else(|| {
                    Answer::xml(
                        200,
                        &format!("<ReportInstanceResponse><Instance><Id>{n}</Id><ReportId>4</ReportId><Status>Ready</Status></Instance></ReportInstanceResponse>"),
                    )
                })
            }
            ("GET", ["api", "accounts", _, "billingreports", n]) => {
                let n: u64 = n.parse().unwrap_or(0);
                status(n, request).unwrap_or_else(|| {
                    Answer::xml(
                        200,
                        "<BillingReportRetrievalResponse><ReportStatus>COMPLETED</ReportStatus></BillingReportRetrievalResponse>",
                    )
                })
            }
            ("GET", ["api", "accounts", _, "reports", _, "instances", n, "file"])
            | ("GET", ["api", "accounts", _, "billingreports", n, "file"]) => {
                file(n.parse().unwrap_or(0), request)
            }
            _ => Answer::xml(
                404,
                "<AnyResponse><ResponseStatus><ErrorCode>19000</ErrorCode><Description>no such thing</Description></ResponseStatus></AnyResponse>",
            ),
        }
    });
    *port.lock().expect("port") = hostile.port;
    hostile
}
