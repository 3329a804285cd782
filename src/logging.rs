//! Log lines on stderr (tracing), kept clear of the progress bars while they are drawn.

use indicatif::MultiProgress;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The progress bars being drawn, if any: log lines are printed above them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Sets up logging: `-q` shows only errors, default shows reportflow's info lines and everyone's
/// warnings, `-v` debug, `-vv` trace. `REPORTFLOW_LOG` (a tracing filter) overrides all of it.
/// `json`: one JSON object per line (a service's logs, `serve --json`).
pub fn init(verbose: u8, quiet: bool, json: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,reportflow=info,reportflow_driver=warn,reportflow_sim=warn",
        (false, 1) => "info,reportflow=debug,reportflow_driver=info",
        (false, _) => "debug,reportflow=trace",
    };
    let filter = std::env::var("REPORTFLOW_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAboveBars)
        .with_target(verbose > 0);
    let _ = if json {
        logs.json().with_current_span(false).try_init()
    } else {
        logs.with_ansi(io::stderr().is_terminal()).try_init()
    };
}

/// Routes log lines above `bars` until [`detach_bars`].
pub fn attach_bars(bars: &MultiProgress) {
    if let Ok(mut slot) = BARS.lock() {
        *slot = Some(bars.clone());
    }
}

/// Log lines go straight to stderr again.
pub fn detach_bars() {
    if let Ok(mut slot) = BARS.lock() {
        *slot = None;
    }
}

/// Writes to stderr, suspending the progress bars around each write.
#[derive(Clone, Copy)]
struct StderrAboveBars;

impl Write for StderrAboveBars {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bars = BARS.lock().ok().and_then(|slot| slot.clone());
        match bars {
            Some(bars) => bars
                .suspend(|| io::stderr().write_all(buf))
                .map(|()| buf.len()),
            None => io::stderr().write_all(buf).map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for StderrAboveBars {
    type Writer = StderrAboveBars;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
