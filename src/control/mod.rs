//! The local control API of a running engine: while `serve` or `run` holds a directory store,
//! it answers the other commands on a Unix domain socket inside the store directory
//! ([`protocol::SOCKET_NAME`], mode 0600), so that a pipeline can submit and look at any time.
//!
//! - [`protocol`]: what goes over the socket (JSON lines, one store operation per request);
//! - [`server`]: the engine's side (bound while the engine holds the store, removed after);
//! - [`client`]: the commands' side, a [`reportflow_store::JobStore`] over the socket, and
//!   [`client::open_jobs`], which finds the socket (or the store itself when no engine runs)
//!   and removes a stale socket left by an engine that was killed.

pub mod client;
pub mod protocol;
pub mod server;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The longest path a Unix socket address holds (Linux: 108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where the control socket of a store is reached: its path in the store directory or, when
/// that path is too long for a socket address, the same file through an open descriptor of
/// the directory (`/proc/self/fd/N/...`, Linux), kept open as long as the address is used.
pub struct SocketAddress {
    /// The path to bind or connect to.
    pub path: PathBuf,
    /// The socket's path in the store directory, for messages and for removing it.
    pub file: PathBuf,
    /// The directory, held open while `path` goes through it.
    _dir: Option<File>,
}

impl SocketAddress {
    /// The address of the control socket of the store in `dir`.
    pub fn of(dir: &Path) -> io::Result<SocketAddress> {
        let file = dir.join(protocol::SOCKET_NAME);
        if file.as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(SocketAddress {
                path: file.clone(),
                file,
                _dir: None,
            });
        }
        if cfg!(target_os = "linux") {
            let handle = File::open(dir)?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&handle);
            return Ok(SocketAddress {
                path: PathBuf::from(format!("/proc/self/fd/{fd}/{}", protocol::SOCKET_NAME)),
                file,
                _dir: Some(handle),
            });
        }
        Err(io::Error::other(format!(
            "the path {} is longer than a socket address can be ({MAX_SOCKET_PATH} bytes); use a store directory with a shorter path",
            file.display()
        )))
    }
}
