//! The CLI through a real forward proxy: tinyproxy (Debian's package `tinyproxy`; `.ci/run`
//! installs it), started by each test on a free loopback port with a config file the test
//! writes. Every connection the upstream sees came through the proxy (its log counts the
//! `CONNECT`s), `NO_PROXY` bypasses it, its credentials go to it and never to the upstream nor
//! into logs or the store, and a proxy that refuses them fails the run with a clear error.
//! Without tinyproxy these tests fail, naming the package.

mod common;
mod harness;

use common::*;
use harness::{all_files, base64, contains, read_store};
use reportflow_sim::{Endpoint, SimConfig, SimHandle, SimTls};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROXY_USER: &str = "pipeline";
const PROXY_PASSWORD: &str = "pr0xy-s3cret-7f1c";

/// A tinyproxy process on 127.0.0.1, killed when dropped.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// The tinyproxy binary, or a failure that says how to install it.
fn tinyproxy_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tinyproxy"))
                .collect()
        })
        .unwrap_or_default();
    candidates.extend(["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].map(PathBuf::from));
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "tinyproxy is not installed: the proxy tests need this real forward proxy; install Debian's package `tinyproxy` (apt-get install -y tinyproxy), as .ci/run does"
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Tinyproxy {
    /// Starts tinyproxy in `dir`, asking for `credentials` when given (BasicAuth).
    fn start(dir: &Path, credentials: Option<(&str, &str)>) -> Tinyproxy {
        let binary = tinyproxy_binary();
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.join(format!("tinyproxy-{attempt}.log"));
            let config = dir.join(format!("tinyproxy-{attempt}.conf"));
            let mut text = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\nMaxClients 200\nDisableViaHeader Yes\n",
                log.display()
            );
            if let Some((user, password)) = credentials {
                text.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            std::fs::write(&config, text).expect("write the tinyproxy config");
            let mut child = Command::new(&binary)
                .arg("-d")
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Tinyproxy { child, port, log };
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "tinyproxy did not start listening in 5 attempts (logs in {})",
            dir.display()
        );
    }

    fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, password)) => format!("http://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// The `CONNECT` requests the proxy logged to 127.0.0.1:`port`.
    fn connects_to(&self, port: u16) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let request = format!("CONNECT 127.0.0.1:{port} HTTP/1.1");
        log.lines().filter(|l| l.contains(&request)).count()
    }

    /// Waits (briefly: it logs as it goes) until the `CONNECT`s to the simulator's two origins
    /// add up to `want`; returns what it counted.
    fn connects_to_sim(&self, sim: &SimHandle, want: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let n =
                self.connects_to(sim.addr().port()) + self.connects_to(sim.redirect_addr().port());
            if n == want || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The simulator over TLS, OAuth2 only, account files behind a 307 to its second origin.
fn tls_sim() -> SimConfig {
    SimConfig {
        tls: Some(SimTls::default()),
        basic_auth: false,
        redirect_files: true,
        ..quick_sim()
    }
}

/// Runs the binary for `env` with OAuth2 credentials, the given variables and `args`.
fn run(env: &Env, vars: &[(&str, Option<&str>)], args: &[&str]) -> Ran {
    let token = env.sim.token_url();
    let mut all: Vec<(&str, Option<&str>)> = vec![
        ("BANDWIDTH_USERNAME", None),
        ("BANDWIDTH_PASSWORD", None),
        ("BANDWIDTH_CLIENT_ID", Some("demo-client")),
        ("BANDWIDTH_CLIENT_SECRET", Some("demo-client-secret")),
        ("BANDWIDTH_TOKEN_URL", Some(&token)),
    ];
    all.extend_from_slice(vars);
    env.run_with(&all, args)
}

fn submit_jobs(env: &Env) {
    for line in [
        "submit billing BDR --from 2026-05-01 --to 2026-05-31",
        "submit billing MDR --from 2026-05-01 --to 2026-05-31",
        "submit report 4 --param AccountId=9900000 --param SiteId=1",
        "submit report 4 --param AccountId=9900000 --param SiteId=2",
        "submit report 2 --param AccountId=9900000",
    ] {
        assert_eq!(env.line(line).code, 0, "{line}");
    }
}

#[test]
fn every_request_goes_through_the_proxy_whose_credentials_reach_only_it() {
    let env = Env::new(tls_sim());
    let proxy = Tinyproxy::start(env.dir.path(), Some((PROXY_USER, PROXY_PASSWORD)));
    let url = proxy.url(Some((PROXY_USER, PROXY_PASSWORD)));
    let vars = [
        ("HTTPS_PROXY", Some(url.as_str())),
        ("REPORTFLOW_LOG", Some("trace")),
    ];
    let listed = run(&env, &vars, &["reports", "list"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    submit_jobs(&env);
    let ran = run(&env, &vars, &["-vv", "run"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let jobs = env.status();
    assert_eq!(in_state(&jobs, "downloaded").len(), 5, "{jobs:?}");
    assert_eq!(env.verify_files(&jobs), 5);

    let stats = env.sim.stats();
    assert!(
        stats.status_count(Endpoint::RedirectedFile, 200) >= 3,
        "{stats:?}"
    );
    assert!(stats.status_count(Endpoint::Token, 200) >= 1, "{stats:?}");
    let connections = usize::try_from(stats.connections).expect("a count");
    assert!(connections >= 3, "{stats:?}");
    assert_eq!(
        proxy.connects_to_sim(&env.sim, connections),
        connections,
        "every connection the simulator accepted was a CONNECT through the proxy:\n{}",
        std::fs::read_to_string(&proxy.log).unwrap_or_default()
    );
    assert!(proxy.connects_to(env.sim.redirect_addr().port()) >= 1);
    assert_eq!(
        stats.proxy_authorization_requests, 0,
        "the upstream never got them"
    );

    // The proxy's credentials: said nowhere, not even at trace level, nor stored.
    let basic = base64(format!("{PROXY_USER}:{PROXY_PASSWORD}").as_bytes());
    for (what, text) in [
        (
            "the catalogue's output",
            format!("{}{}", listed.stdout, listed.stderr),
        ),
        ("the run's output", format!("{}{}", ran.stdout, ran.stderr)),
    ] {
        assert!(
            !text.contains(PROXY_PASSWORD),
            "{what} shows the proxy password:\n{text}"
        );
        assert!(
            !text.contains(&basic),
            "{what} shows the proxy's Basic value:\n{text}"
        );
    }
    assert!(
        ran.stderr
            .contains(&format!("HTTPS_PROXY=http://***@127.0.0.1:{}", proxy.port)),
        "the log names the proxy without its credentials: {ran:?}"
    );
    for (path, bytes) in all_files(&env.store()) {
        assert!(
            !contains(&bytes, PROXY_PASSWORD.as_bytes()) && !contains(&bytes, basic.as_bytes()),
            "{} holds the proxy's credentials",
            path.display()
        );
    }
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let env = Env::new(tls_sim());
    let proxy = Tinyproxy::start(env.dir.path(), None);
    let url = proxy.url(None);
    submit_jobs(&env);
    for no_proxy in ["127.0.0.1", "127.0.0.0/8"] {
        let ran = run(
            &env,
            &[("ALL_PROXY", Some(&url)), ("no_proxy", Some(no_proxy))],
            &["run"],
        );
        assert_eq!(ran.code, 0, "{no_proxy}: {ran:?}");
    }
    let jobs = env.status();
    assert_eq!(in_state(&jobs, "downloaded").len(), 5, "{jobs:?}");
    assert!(env.sim.stats().connections >= 3);
    assert_eq!(
        proxy.connects_to_sim(&env.sim, 0),
        0,
        "the proxy saw nothing"
    );
}

#[test]
fn a_proxy_that_refuses_the_credentials_fails_the_run_saying_so() {
    let env = Env::new(tls_sim());
    let proxy = Tinyproxy::start(env.dir.path(), Some((PROXY_USER, PROXY_PASSWORD)));
    submit_jobs(&env);
    let before = read_store(&env.store()).expect("the store opens");
    // No credentials: the proxy answers 407.
    let bare = proxy.url(None);
    let ran = run(&env, &[("HTTPS_PROXY", Some(&bare))], &["run"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("407 Proxy Authentication Required"),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains(&format!(
            "the proxy http://127.0.0.1:{} (HTTPS_PROXY)",
            proxy.port
        )),
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("http://user:password@host:port"),
        "{ran:?}"
    );
    // Wrong credentials: tinyproxy refuses the tunnel (with 401); never shown back.
    let wrong = proxy.url(Some((PROXY_USER, "not-the-password")));
    let ran = run(&env, &[("HTTPS_PROXY", Some(&wrong))], &["run"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("wrong proxy credentials"), "{ran:?}");
    assert!(!ran.stderr.contains("not-the-password"), "{ran:?}");
    assert_eq!(
        read_store(&env.store()).expect("opens"),
        before,
        "nothing changed"
    );
    assert_eq!(
        env.sim.stats().connections,
        0,
        "nothing reached the upstream"
    );
}

#[test]
fn plain_http_to_a_loopback_upstream_is_tunnelled_too_and_refused_through_a_remote_proxy() {
    let env = Env::new(quick_sim());
    let proxy = Tinyproxy::start(env.dir.path(), None);
    let url = proxy.url(None);
    submit_jobs(&env);
    let ran = env.run_with(&[("HTTP_PROXY", Some(&url))], &["run"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let connections = usize::try_from(env.sim.stats().connections).expect("count");
    assert!(connections >= 1);
    assert_eq!(proxy.connects_to_sim(&env.sim, connections), connections);
    // A proxy elsewhere would carry the plain-http credentials over the network: refused
    // before anything is sent (`.invalid` never resolves, and is never tried).
    env.ok("submit billing BDR --from 2026-06-01 --to 2026-06-30");
    let ran = env.run_with(
        &[("http_proxy", Some("http://proxy.corp.invalid:3128"))],
        &["run"],
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains(
            "would leave this machine through the proxy http://proxy.corp.invalid:3128 (HTTP_PROXY)"
        ),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("NO_PROXY"), "{ran:?}");
}

#[test]
fn an_https_or_socks_proxy_url_is_refused_naming_the_variable() {
    let env = Env::new(tls_sim());
    for (var, url, says) in [
        (
            "HTTPS_PROXY",
            "https://u:hidden@proxy.invalid:443",
            "not supported",
        ),
        (
            "ALL_PROXY",
            "socks5h://proxy.invalid:1080",
            "SOCKS proxies are not supported",
        ),
    ] {
        let ran = run(&env, &[(var, Some(url))], &["reports", "list"]);
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(ran.stderr.contains(&format!("{var}=")), "{ran:?}");
        assert!(ran.stderr.contains(says), "{ran:?}");
        assert!(!ran.stderr.contains("hidden"), "{ran:?}");
    }
    assert_eq!(env.sim.stats().connections, 0);
}
