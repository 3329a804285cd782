//! Rendering: aligned tables for people, JSON for programs.

use crate::error::CliError;
use reportflow_core::{DateOrigin, Job, JobKind, JobSpec, JobState, Millis};
use serde::Serialize;
use std::io::Write;

/// A table with a header row, printed with aligned columns.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (one cell per header).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, the last column unpadded.
    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        std::iter::once(&header)
            .chain(self.rows.iter())
            .map(|row| {
                let mut line = String::new();
                for (i, cell) in row.iter().enumerate().take(columns) {
                    if i + 1 == columns {
                        line.push_str(cell);
                    } else {
                        let pad = widths[i] - cell.chars().count();
                        line.push_str(cell);
                        line.push_str(&" ".repeat(pad + 2));
                    }
                }
                line.trim_end().to_string() + "\n"
            })
            .collect()
    }
}

/// Writes `text` to stdout, ignoring a closed pipe (`reportflow status | head`).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Runtime(format!("cannot render JSON: {e}")))?;
    print(&(text + "\n"));
    Ok(())
}

/// Writes `value` as one line of JSON to stdout.
pub fn print_json_line<T: Serialize>(value: &T) {
    if let Ok(text) = serde_json::to_string(value) {
        print(&(text + "\n"));
    }
}

/// A size for people: `812 B`, `48.2 KiB`, `3.1 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A point in time as RFC 3339 in UTC (`2026-11-26T15:04:05.123Z`).
pub fn rfc3339(at: Millis) -> String {
    i64::try_from(at.0)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| at.to_string())
}

/// A point in time for tables (`2026-11-26 15:04:05`, UTC).
pub fn short_time(at: Millis) -> String {
    i64::try_from(at.0)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// A job as `status --json` shows it.
#[derive(Debug, Serialize)]
pub struct JobView {
    /// The job id.
    pub id: u64,
    /// Its key.
    pub key: String,
    /// `account` or `billing`.
    pub kind: &'static str,
    /// The lower-case state name (`downloaded`, `nodata`, ...).
    pub state: &'static str,
    /// The account.
    pub account: String,
    /// The report id (account reports) or type (billing reports).
    pub report: String,
    /// The absolute path of the downloaded file.
    pub file: Option<String>,
    /// Its size in bytes.
    pub bytes: Option<u64>,
    /// Its sha256 (lower-case hex).
    pub sha256: Option<String>,
    /// Why the job ended without a file (failed, expired, cancelled).
    pub error: Option<String>,
    /// What a live job is waiting for (and, after failures, how many and when it tries again).
    pub detail: Option<String>,
    /// When a job waiting after a failure tries again (RFC 3339, UTC).
    pub retry_at: Option<String>,
    /// The attempt number (an explicit retry starts the next one).
    pub attempt: u32,
    /// Create requests sent upstream over the job's life.
    pub creations: u32,
    /// The upstream location, once known.
    pub location: Option<String>,
    /// When the job was submitted (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// The label it was submitted under.
    pub label: Option<String>,
    /// The first day it covers (a billing range, or an account report's StartDate).
    pub from: Option<String>,
    /// The last day it covers (a billing range, or an account report's EndDate).
    pub to: Option<String>,
    /// Where relative dates came from: the expressions, the zone and the day they were
    /// resolved on.
    pub origin: Option<DateOrigin>,
}

impl JobView {
    /// The view of `job`.
    pub fn of(job: &Job) -> JobView {
        let (account, report) = match &job.spec {
            JobSpec::Account(a) => (a.account.clone(), a.report_id.to_string()),
            JobSpec::Billing(b) => (b.account.clone(), b.report_type.clone()),
        };
        let file = match &job.state {
            JobState::Downloaded { file, .. } => Some(file),
            _ => None,
        };
        JobView {
            id: job.id.0,
            key: job.key.to_string(),
            kind: job.kind().as_str(),
            state: job.state.name().as_str(),
            account,
            report,
            file: file.map(|f| f.path.clone()),
            bytes: file.map(|f| f.bytes),
            sha256: file.map(|f| f.sha256.clone()),
            error: error_of(&job.state),
            detail: detail_of(job),
            retry_at: retry_at(job).map(rfc3339),
            attempt: job.attempt,
            creations: job.creations,
            location: job.state.upstream().map(|u| u.location.clone()),
            created_at: rfc3339(job.submitted_at),
            updated_at: rfc3339(job.updated_at),
            label: job.label.as_ref().map(ToString::to_string),
            from: day_of(job, "StartDate"),
            to: day_of(job, "EndDate"),
            origin: job.origin.clone(),
        }
    }

    /// The dates column: `2026-11-25..2026-11-25 (range=yesterday)`.
    pub fn dates(&self) -> String {
        let range = match (&self.from, &self.to) {
            (Some(from), Some(to)) => format!("{from}..{to}"),
            (Some(from), None) => format!("{from}.."),
            (None, Some(to)) => format!("..{to}"),
            (None, None) => "-".to_string(),
        };
        match &self.origin {
            Some(origin) => {
                let expressions: Vec<String> = origin
                    .expressions
                    .iter()
                    .map(|(field, expr)| format!("{field}={expr}"))
                    .collect();
                format!("{range} ({})", expressions.join(" "))
            }
            None => range,
        }
    }

    /// The last table column: the file, the error, or what the job waits for.
    pub fn outcome(&self) -> String {
        self.file
            .clone()
            .or_else(|| self.error.clone())
            .or_else(|| self.detail.clone())
            .unwrap_or_default()
    }

    /// The size column.
    pub fn size(&self) -> String {
        self.bytes.map(human_bytes).unwrap_or_else(|| "-".into())
    }
}

/// A billing range's first (`StartDate`) or last (`EndDate`) day, or an account report's
/// parameter of that name when it has one value.
fn day_of(job: &Job, param: &str) -> Option<String> {
    match &job.spec {
        JobSpec::Billing(b) if param == "StartDate" => Some(b.start.to_string()),
        JobSpec::Billing(b) => Some(b.end.to_string()),
        JobSpec::Account(a) => a
            .params
            .get(param)
            .filter(|values| values.len() == 1)
            .and_then(|values| values.first().cloned()),
    }
}

fn error_of(state: &JobState) -> Option<String> {
    match state {
        JobState::Failed { failure } => Some(failure.to_string()),
        JobState::Expired { reason } => Some(format!("expired: {reason}")),
        JobState::Cancelled => Some("cancelled by the user".to_string()),
        _ => None,
    }
}

/// When a job waiting after a failure (an unconfirmed create, a failed step) tries again.
fn retry_at(job: &Job) -> Option<Millis> {
    let failed = match &job.state {
        JobState::Requested { last_error, .. } => last_error.is_some(),
        _ => false,
    };
    if failed || job.backoff.is_some() {
        job.effect().due()
    } else {
        None
    }
}

fn detail_of(job: &Job) -> Option<String> {
    let mut detail = match &job.state {
        JobState::Requested { unconfirmed: 0, .. } => {
            "waiting to be created by an engine (`reportflow run` or `serve`)".to_string()
        }
        JobState::Requested {
            unconfirmed,
            in_doubt,
            last_error,
            ..
        } => {
            let mut text = format!(
                "{unconfirmed} create request(s) unconfirmed ({} allowed per attempt)",
                job.retry.max_unconfirmed_creates
            );
            if let Some(error) = last_error {
                text.push_str(&format!(", the last: {error}"));
            }
            if *in_doubt && job.kind() == JobKind::Account {
                text.push_str("; `run` first looks for the report in the instance listing");
            }
            text
        }
        JobState::Created { .. } => "created upstream; not polled yet".to_string(),
        JobState::Polling {
            polls, last_status, ..
        } => format!("status {last_status}, poll {polls}"),
        JobState::Ready { .. } | JobState::Completed { .. } => "ready to download".to_string(),
        JobState::NoData => "no data for the range".to_string(),
        _ => return None,
    };
    if let Some(b) = &job.backoff {
        detail.push_str(&format!(
            "; {} failed tries in a row ({} allowed), the last: {}",
            b.failures, job.retry.max_step_failures, b.last_error
        ));
    }
    if let Some(at) = retry_at(job) {
        detail.push_str(&format!("; tries again at {} UTC", short_time(at)));
    }
    Some(detail)
}

/// The jobs as a table: id, key, kind, state, size, and the file, error or detail; with a
/// label and the dates (and where they came from) when some job has a label or relative dates.
pub fn jobs_table(jobs: &[Job]) -> String {
    let extended = jobs.iter().any(|j| j.label.is_some() || j.origin.is_some());
    let headers: &[&'static str] = if extended {
        &[
            "ID",
            "KEY",
            "LABEL",
            "KIND",
            "STATE",
            "DATES",
            "BYTES",
            "FILE / ERROR",
        ]
    } else {
        &["ID", "KEY", "KIND", "STATE", "BYTES", "FILE / ERROR"]
    };
    let mut table = Table::new(headers);
    for job in jobs {
        let view = JobView::of(job);
        let mut row = vec![view.id.to_string(), view.key.clone()];
        if extended {
            row.push(view.label.clone().unwrap_or_else(|| "-".into()));
        }
        row.extend([view.kind.to_string(), view.state.to_string()]);
        if extended {
            row.push(view.dates());
        }
        row.extend([view.size(), view.outcome()]);
        table.row(row);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_sizes_read_well() {
        let mut t = Table::new(&["A", "LONGER"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        assert_eq!(t.render(), "A          LONGER\nwide cell  x\n");
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(49_357), "48.2 KiB");
        assert_eq!(rfc3339(Millis(0)), "1970-01-01T00:00:00Z");
        assert_eq!(short_time(Millis(1_000)), "1970-01-01 00:00:01");
    }
}
