//! What a run shows while it works, fed by [`Engine::events`]: progress bars on a terminal,
//! plain log lines otherwise, or one JSON event per line with `--json`.

use crate::logging;
use crate::output::{human_bytes, print_json_line};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reportflow_core::{JobId, StateName};
use reportflow_driver::{Engine, Event};
use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// Per-job lines shown at once under the overall bar.
const MAX_JOB_LINES: usize = 10;
/// The longest retry reason shown on a job's line.
const MAX_REASON: usize = 70;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// indicatif bars on stderr (a terminal).
    Bars,
    /// Log lines on stderr (no terminal: cron, CI, a pipe).
    Lines,
    /// One JSON event per line on stdout.
    Json,
}

impl Mode {
    /// `--json` wins; then bars when stderr is a terminal and not `--quiet`; else lines.
    pub fn choose(json: bool, quiet: bool) -> Mode {
        if json {
            Mode::Json
        } else if !quiet && std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// A running display; [`Progress::finish`] stops it once the run returned.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts showing `engine`'s events in `mode`. Call it before the run starts.
pub fn start(engine: &Engine, mode: Mode) -> Progress {
    let events = engine.events();
    let (stop, stopped) = oneshot::channel();
    let sink: Box<dyn Sink + Send> = match mode {
        Mode::Bars => Box::new(Bars::new()),
        Mode::Lines => Box::new(Lines::default()),
        Mode::Json => Box::new(Json),
    };
    let task = tokio::spawn(show(events, stopped, sink));
    Progress { stop, task }
}

impl Progress {
    /// Shows the events still queued, then clears the bars.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn show(
    mut events: broadcast::Receiver<Event>,
    mut stopped: oneshot::Receiver<()>,
    mut sink: Box<dyn Sink + Send>,
) {
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => sink.event(&event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "the progress display missed some events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = &mut stopped => {
                while let Ok(event) = events.try_recv() {
                    sink.event(&event);
                }
                break;
            }
        }
    }
    sink.done();
}

/// A way of showing events.
trait Sink {
    /// Shows one event.
    fn event(&mut self, event: &Event);
    /// The run is over.
    fn done(&mut self);
}

/// The names the display knows for jobs (from their `Changed` events).
#[derive(Default)]
struct Names(HashMap<JobId, String>);

impl Names {
    fn learn(&mut self, id: JobId, key: &str) {
        self.0.entry(id).or_insert_with(|| key.to_string());
    }

    fn of(&self, id: JobId) -> String {
        self.0
            .get(&id)
            .map_or_else(|| format!("job {id}"), |k| format!("job {id} {k}"))
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_REASON {
        text.to_string()
    } else {
        text.chars().take(MAX_REASON - 1).collect::<String>() + "…"
    }
}

fn downloaded(bytes: u64, total: Option<u64>) -> String {
    match total {
        Some(total) => format!(
            "downloading {} of {}",
            human_bytes(bytes),
            human_bytes(total)
        ),
        None => format!("downloading {}", human_bytes(bytes)),
    }
}

/// indicatif: an overall bar and one line per active job.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    lines: HashMap<JobId, ProgressBar>,
    states: HashMap<JobId, StateName>,
    names: Names,
    seen: HashSet<JobId>,
    total: u64,
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner:.green} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} jobs ended {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let overall = multi.add(ProgressBar::new(0).with_style(style));
        overall.enable_steady_tick(Duration::from_millis(120));
        logging::attach_bars(&multi);
        Bars {
            multi,
            overall,
            lines: HashMap::new(),
            states: HashMap::new(),
            names: Names::default(),
            seen: HashSet::new(),
            total: 0,
        }
    }

    fn saw(&mut self, id: JobId) {
        if self.seen.insert(id) && self.seen.len() as u64 > self.total {
            self.total = self.seen.len() as u64;
            self.overall.set_length(self.total);
        }
    }

    /// Sets a job's line (its state, then `doing`), adding it when there is room.
    fn line(&mut self, id: JobId, doing: &str) {
        let message = match self.states.get(&id) {
            Some(state) => format!("{:<10} {doing}", state.as_str()),
            None => doing.to_string(),
        };
        if !self.lines.contains_key(&id) {
            if self.lines.len() >= MAX_JOB_LINES {
                return;
            }
            let style = ProgressStyle::with_template("  {prefix} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = self.multi.add(ProgressBar::new_spinner().with_style(style));
            bar.set_prefix(self.names.of(id));
            self.lines.insert(id, bar);
        }
        if let Some(bar) = self.lines.get(&id) {
            bar.set_message(message);
        }
        let hidden = self
            .seen
            .len()
            .saturating_sub(self.lines.len() + self.overall.position() as usize);
        self.overall.set_message(if hidden > 0 {
            format!("(+{hidden} more)")
        } else {
            String::new()
        });
    }

    fn ended(&mut self, id: JobId, state: StateName) {
        self.states.remove(&id);
        if let Some(bar) = self.lines.remove(&id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.overall.inc(1);
        let _ = self
            .multi
            .println(format!("{:>11}  {}", state.as_str(), self.names.of(id)));
    }
}

impl Sink for Bars {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { live } => {
                self.total += *live as u64;
                self.overall.set_length(self.total);
            }
            Event::Changed { id, key, to, .. } => {
                self.names.learn(*id, key);
                self.saw(*id);
                if to.is_terminal() {
                    self.ended(*id, *to);
                } else {
                    self.states.insert(*id, *to);
                    self.line(*id, "");
                }
            }
            Event::Progress { id, bytes, total } => {
                self.saw(*id);
                self.line(*id, &downloaded(*bytes, *total));
            }
            Event::Retrying {
                id,
                reason,
                delay_ms,
            } => {
                self.saw(*id);
                let doing = format!("retrying in {delay_ms} ms: {}", shorten(reason));
                self.line(*id, &doing);
            }
        }
    }

    fn done(&mut self) {
        for (_, bar) in self.lines.drain() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
        logging::detach_bars();
    }
}

/// Plain log lines (tracing, on stderr).
#[derive(Default)]
struct Lines {
    names: Names,
}

impl Sink for Lines {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { live } => tracing::info!("run started with {live} live job(s)"),
            Event::Changed { id, key, from, to } => {
                self.names.learn(*id, key);
                tracing::info!("{}: {from} -> {to}", self.names.of(*id));
            }
            Event::Progress { id, bytes, total } => {
                tracing::debug!("{}: {}", self.names.of(*id), downloaded(*bytes, *total));
            }
            // The engine logs every retry itself (at warn, with the request); this adds the key.
            Event::Retrying {
                id,
                reason,
                delay_ms,
            } => tracing::debug!(
                "{}: {reason}; retrying in {delay_ms} ms",
                self.names.of(*id)
            ),
        }
    }

    fn done(&mut self) {}
}

/// One JSON object per line on stdout; states in lower case as `status --json` shows them.
struct Json;

impl Sink for Json {
    fn event(&mut self, event: &Event) {
        let Ok(mut value) = serde_json::to_value(event) else {
            return;
        };
        if let Event::Changed { from, to, .. } = event
            && let Some(object) = value.as_object_mut()
        {
            object.insert("from".into(), from.as_str().into());
            object.insert("to".into(), to.as_str().into());
        }
        print_json_line(&value);
    }

    fn done(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_shortened() {
        assert_eq!(shorten("short"), "short");
        assert_eq!(shorten(&"x".repeat(200)).chars().count(), MAX_REASON);
        assert_eq!(downloaded(2048, None), "downloading 2.0 KiB");
    }
}
