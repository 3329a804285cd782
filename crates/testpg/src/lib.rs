//! Throwaway PostgreSQL servers for reportflow's tests and benchmarks.
//!
//! [`server`] gives the test binary its one server: the server binaries are found on the
//! `PATH`, then under `/usr/lib/postgresql/*/bin` (the newest version first); `initdb` writes a
//! cluster into a temporary directory (as the `postgres` user when the tests run as root, since
//! `initdb` refuses root); `pg_ctl` starts it on a free port of 127.0.0.1. It is stopped and its
//! directory removed when the test binary exits, also when a test failed (an `atexit` hook),
//! and a server that a killed test binary left behind is stopped by the next one that starts.
//! [`PgServer::database`] creates one fresh database per test.
//!
//! When `REPORTFLOW_TEST_PG` is set (a `postgres://` URL of a role that may create databases),
//! no server is started: the databases are created on that server instead.
//!
//! Where no server binaries are found, [`server`] fails with a message naming the package to
//! install: a test that needs PostgreSQL never passes silently without it.

use std::fmt;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that points the tests at an existing server instead of starting one.
pub const EXTERNAL_URL_VAR: &str = "REPORTFLOW_TEST_PG";

/// The password of the `postgres` role of a started server (host connections need it).
pub const PASSWORD: &str = "reportflow-test";

/// The prefix of the temporary directories of started servers.
const DIR_PREFIX: &str = "reportflow-pg-";

/// How long starting or stopping a server may take.
const PG_CTL_TIMEOUT_SECS: u32 = 60;

/// Why a test server could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The server binaries are not installed.
    #[error(
        "the PostgreSQL server binaries (initdb, pg_ctl) were found neither on the PATH nor under /usr/lib/postgresql/*/bin: install the Debian package `postgresql` (apt-get install -y postgresql), or set {EXTERNAL_URL_VAR} to the URL of a server the tests may create databases on"
    )]
    NotInstalled,
    /// A command of the server failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command, without secrets.
        command: String,
        /// What it printed (the end of it).
        detail: String,
    },
    /// A file operation failed.
    #[error("could not {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A SQL statement failed.
    #[error("could not {what} on the test server: {detail}")]
    Sql {
        /// What was being done.
        what: String,
        /// The server's answer.
        detail: String,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> HarnessError {
    let path = path.to_path_buf();
    move |source| HarnessError::Io { what, path, source }
}

/// A PostgreSQL server the tests use: one this process started, or the external one.
pub struct PgServer {
    /// `postgres://` URL of the maintenance database, with credentials.
    admin_url: String,
    /// The server this process started, if it started one.
    local: Option<LocalServer>,
}

/// A server started by this process.
struct LocalServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
}

impl fmt::Debug for PgServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgServer")
            .field("port", &self.local.as_ref().map(|l| l.port))
            .field("external", &self.local.is_none())
            .finish()
    }
}

/// A database created for one test.
#[derive(Clone, Debug)]
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// A `postgres://` URL of it, with credentials.
    pub url: String,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
/// The data directories of the servers this process started, stopped by the `atexit` hook.
static STARTED: Mutex<Vec<Started>> = Mutex::new(Vec::new());

/// A started server as the `atexit` hook needs it: binaries, directory, owner.
type Started = (PathBuf, PathBuf, Option<(u32, u32)>);
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

/// The test binary's server, started on first use. Every caller gets the same one.
pub fn server() -> Result<&'static PgServer, HarnessError> {
    let started = SERVER.get_or_init(|| PgServer::start().map_err(|e| e.to_string()));
    started.as_ref().map_err(|detail| HarnessError::Command {
        command: "start the test PostgreSQL server".to_string(),
        detail: detail.clone(),
    })
}

/// A fresh database on the test binary's server; panics with the harness error (naming the
/// package to install when the server binaries are missing). For tests.
pub fn fresh_database() -> TestDb {
    match server().and_then(PgServer::database) {
        Ok(db) => db,
        Err(e) => panic!("{e}"),
    }
}

impl PgServer {
    /// Starts a new server (or uses the one `REPORTFLOW_TEST_PG` names).
    pub fn start() -> Result<PgServer, HarnessError> {
        if let Ok(url) = std::env::var(EXTERNAL_URL_VAR)
            && !url.trim().is_empty()
        {
            return Ok(PgServer {
                admin_url: url.trim().to_string(),
                local: None,
            });
        }
        let bin = find_binaries().ok_or(HarnessError::NotInstalled)?;
        stop_abandoned(&bin);
        let owner = postgres_owner()?;
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(io_error("create a directory for", &std::env::temp_dir()))?
            .keep();
        let result = LocalServer::init(bin, dir.clone(), owner);
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        let local = result?;
        let admin_url = local.url("postgres");
        Ok(PgServer {
            admin_url,
            local: Some(local),
        })
    }

    /// The URL of the maintenance database (`postgres`), with credentials.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The port of a server this process started (`None` for the external one).
    pub fn port(&self) -> Option<u16> {
        self.local.as_ref().map(|l| l.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub fn database(&self) -> Result<TestDb, HarnessError> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let name = format!(
            "rf_test_{}_{}_{}",
            std::process::id(),
            stamp,
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.execute(&format!("CREATE DATABASE {name}"))?;
        Ok(TestDb {
            url: with_database(&self.admin_url, &name),
            name,
        })
    }

    /// Runs one SQL statement on the maintenance database.
    pub fn execute(&self, sql: &str) -> Result<(), HarnessError> {
        let url = self.admin_url.clone();
        let statement = sql.to_string();
        let what = first_words(sql);
        on_own_runtime(move || async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            let task = tokio::spawn(connection);
            let result = client.batch_execute(&statement).await.map_err(|e| {
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |db| db.message().to_string())
            });
            drop(client);
            let _ = task.await;
            result
        })
        .map_err(|detail| HarnessError::Sql { what, detail })
    }

    /// Restarts the server (`pg_ctl restart`, fast mode): every connection is dropped, the
    /// data stays. Fails for the external server.
    pub fn restart(&self) -> Result<(), HarnessError> {
        let local = self.local_server("restart")?;
        local.pg_ctl(&["restart", "-m", "fast"], true)
    }

    /// Stops the server (fast mode); [`PgServer::start_again`] starts it on the same port.
    pub fn stop(&self) -> Result<(), HarnessError> {
        self.local_server("stop")?
            .pg_ctl(&["stop", "-m", "fast"], false)
    }

    /// Starts a server stopped by [`PgServer::stop`] again.
    pub fn start_again(&self) -> Result<(), HarnessError> {
        self.local_server("start")?.pg_ctl(&["start"], true)
    }

    fn local_server(&self, what: &str) -> Result<&LocalServer, HarnessError> {
        self.local.as_ref().ok_or_else(|| HarnessError::Command {
            command: format!("{what} the server"),
            detail: format!("the server {EXTERNAL_URL_VAR} names is not this process's to {what}"),
        })
    }
}

impl LocalServer {
    /// Writes a cluster into `dir` and starts it on a free port.
    fn init(
        bin: PathBuf,
        dir: PathBuf,
        owner: Option<(u32, u32)>,
    ) -> Result<LocalServer, HarnessError> {
        fs::write(dir.join("owner.pid"), std::process::id().to_string())
            .map_err(io_error("write the owner file in", &dir))?;
        let pwfile = dir.join("pwfile");
        fs::write(&pwfile, PASSWORD).map_err(io_error("write", &pwfile))?;
        if let Some((uid, gid)) = owner {
            chown(&dir, uid, gid)?;
            chown(&pwfile, uid, gid)?;
        }
        let data = dir.join("data");
        let initdb = bin.join("initdb");
        let mut command = Command::new(&initdb);
        command
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut command, owner, "initdb")?;
        let mut server = LocalServer {
            bin,
            dir,
            port: 0,
            owner,
        };
        register(&server);
        // A free port can be taken by someone else before the server binds it: try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port()?;
            server.write_config()?;
            match server.pg_ctl(&["start"], true) {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(HarnessError::NotInstalled))
    }

    /// The server's settings: loopback only, its port, its socket in its own directory, and
    /// no fsync (a test server need not survive a power loss; it survives a restart).
    fn write_config(&self) -> Result<(), HarnessError> {
        let conf = self.dir.join("data").join("postgresql.auto.conf");
        let text = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\nmax_connections = 300\nshared_buffers = '64MB'\n",
            self.port,
            self.dir.display()
        );
        fs::write(&conf, text).map_err(io_error("write", &conf))?;
        if let Some((uid, gid)) = self.owner {
            chown(&conf, uid, gid)?;
        }
        Ok(())
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn pg_ctl(&self, args: &[&str], wait: bool) -> Result<(), HarnessError> {
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(args);
        if wait {
            command.args(["-w", "-t", &PG_CTL_TIMEOUT_SECS.to_string()]);
        }
        let label = format!("pg_ctl {}", args.join(" "));
        run(&mut command, self.owner, &label).map_err(|e| match e {
            HarnessError::Command { command, detail } => HarnessError::Command {
                command,
                detail: format!(
                    "{detail}\nserver log:\n{}",
                    tail(&self.dir.join("server.log"))
                ),
            },
            other => other,
        })
    }
}

/// Runs a server command, as `owner` when given; its output on failure.
fn run(command: &mut Command, owner: Option<(u32, u32)>, label: &str) -> Result<(), HarnessError> {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).env("HOME", std::env::temp_dir());
        // The working directory must be readable by that user.
        command.current_dir(std::env::temp_dir());
    }
    let output: Output = command.output().map_err(|e| HarnessError::Command {
        command: label.to_string(),
        detail: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).into_owned();
    detail.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(HarnessError::Command {
        command: label.to_string(),
        detail: format!("{}: {}", output.status, detail.trim()),
    })
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The first two words of a statement, to say what failed without the whole text.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The URL with its database replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs an async job on a runtime of its own thread, so that it works from sync code and from
/// inside another runtime alike.
fn on_own_runtime<F, Fut, T>(job: F) -> Result<T, String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(job())
    })
    .join()
    .unwrap_or_else(|_| Err("the SQL thread panicked".to_string()))
}

/// The directory holding `initdb` and `pg_ctl`: the `PATH` first, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_both(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The user and group to run the server as: `postgres` when running as root (initdb refuses
/// root), nobody else otherwise.
fn postgres_owner() -> Result<Option<(u32, u32)>, HarnessError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: getpwnam reads a NUL-terminated name; the result points to static storage that
    // is read at once, before any other passwd call of this thread.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(HarnessError::Command {
            command: "find the postgres user".to_string(),
            detail: "the tests run as root, initdb refuses root, and there is no `postgres` user to run it as: install the Debian package `postgresql` (it creates the user) or run the tests as another user".to_string(),
        });
    }
    // SAFETY: `entry` is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), HarnessError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_error("hand over", path))
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(io_error("bind a free port of", Path::new("127.0.0.1")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_error("read the port of", Path::new("127.0.0.1")))
}

/// Remembers a started server for the `atexit` hook (installed once).
fn register(server: &LocalServer) {
    static HOOK: OnceLock<()> = OnceLock::new();
    if let Ok(mut started) = STARTED.lock() {
        started.push((server.bin.clone(), server.dir.clone(), server.owner));
    }
    HOOK.get_or_init(|| {
        // SAFETY: `stop_all` is an `extern "C" fn()` that does not unwind.
        unsafe {
            libc::atexit(stop_all);
        }
    });
}

/// The `atexit` hook: stops every server this process started and removes its directory.
extern "C" fn stop_all() {
    let started = match STARTED.lock() {
        Ok(mut started) => std::mem::take(&mut *started),
        Err(_) => return,
    };
    for (bin, dir, owner) in started {
        let _ = std::panic::catch_unwind(|| stop_and_remove(&bin, &dir, owner));
    }
}

fn stop_and_remove(bin: &Path, dir: &Path, owner: Option<(u32, u32)>) {
    if dir.join("data").join("postmaster.pid").exists() {
        let mut command = Command::new(bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(dir.join("data"))
            .args(["stop", "-m", "immediate", "-w", "-t", "30"]);
        let _ = run(&mut command, owner, "pg_ctl stop");
    }
    let _ = fs::remove_dir_all(dir);
}

/// Stops and removes the servers of test processes that died without their `atexit` hook
/// (killed): their directory's owner process is gone.
fn stop_abandoned(bin: &Path) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Some(pid) = fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let owner = postgres_owner().ok().flatten();
            stop_and_remove(bin, &dir, owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_put_in_the_url() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/postgres", "x"),
            "postgres://u:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
