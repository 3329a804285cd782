//! Batch files: many report jobs in one TOML file, checked whole before anything is stored.
//!
//! ```toml
//! account = "9900000"           # default account of every entry
//! out = "reports/nightly"       # output folder of `run` for this store (relative to the file)
//!
//! [[report]]
//! id = 8
//! format = "csv"
//! params = { AccountId = "9900000", StartDate = 2026-11-01, OrderStatus = ["COMPLETE", "PENDING"] }
//! expires = 2026-12-20
//! key = "port-outs-2026-11"
//!
//! [[billing]]
//! type = "BDR"
//! from = 2026-11-01
//! to = 2026-11-30
//!
//! [[billing]]                   # relative dates, resolved once when the file is submitted
//! type = "MDR"
//! range = "yesterday"           # or from = "today-7d", to = "yesterday"
//! split = "day"                 # optional: one job per day (week, month) of the range
//! ```
//!
//! At the top, `tz = "Europe/Berlin"` names the zone relative dates are resolved in (`--tz`
//! wins over it, it wins over `REPORTFLOW_TZ`), and `layout = "{kind}/{type}/{name}"` the file
//! layout of `run` for this store. Every problem is reported with its line; a file with any
//! problem stores nothing.

use crate::zone::SubmitClock;
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, CoreError, Date, DateExpr, DateOrigin, JobKey, JobSpec,
    Label, MAX_PARTITIONS, OutputFormat, RangeExpr, Resolver, SpecProblem, Split,
};
use reportflow_driver::FileLayout;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use toml::{Spanned, Value};

/// One job of a batch, checked.
#[derive(Clone, Debug)]
pub struct Entry {
    /// What to fetch.
    pub spec: JobSpec,
    /// The key given in the file, if any.
    pub key: Option<JobKey>,
    /// The key the job will have (given or derived).
    pub effective_key: JobKey,
    /// The line of the entry's first field.
    pub line: usize,
    /// Where its dates came from, when some were relative (or split).
    pub origin: Option<DateOrigin>,
}

/// A batch file that passed every check.
#[derive(Debug)]
pub struct Batch {
    /// The jobs, in file order, without repeats.
    pub entries: Vec<Entry>,
    /// The output folder the file asks for, made absolute.
    pub out: Option<PathBuf>,
    /// The file layout the file asks for.
    pub layout: Option<FileLayout>,
    /// The jobs' default label: the file's name without its extension.
    pub label: Option<Label>,
    /// Things worth saying that do not stop the batch, as `FILE:LINE: message`.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    account: Option<Spanned<Value>>,
    out: Option<Spanned<String>>,
    tz: Option<Spanned<String>>,
    layout: Option<Spanned<String>>,
    #[serde(default)]
    report: Vec<RawReport>,
    #[serde(default)]
    billing: Vec<RawBilling>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    id: Spanned<Value>,
    account: Option<Spanned<Value>>,
    format: Option<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<Value>>,
    expires: Option<Spanned<Value>>,
    key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBilling {
    #[serde(rename = "type")]
    report_type: Spanned<String>,
    account: Option<Spanned<Value>>,
    from: Option<Spanned<Value>>,
    to: Option<Spanned<Value>>,
    range: Option<Spanned<String>>,
    split: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Collects problems with their lines while a file is checked.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<(usize, String)>,
    warnings: Vec<(usize, String)>,
    /// Resolves relative dates: today in the file's zone.
    resolver: Resolver,
    /// Today in UTC, as the engine checks expiry dates.
    today: Date,
    /// Jobs made by splitting ranges so far (capped per command).
    partitions: usize,
}

impl<'a> Checker<'a> {
    fn line<T>(&self, spanned: &Spanned<T>) -> usize {
        line_of(self.text, spanned.span().start)
    }

    fn problem(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push((line, message.into()));
    }

    fn finish(mut list: Vec<(usize, String)>, file: &str) -> Vec<String> {
        list.sort();
        list.dedup();
        list.into_iter()
            .map(|(line, message)| format!("{file}:{line}: {message}"))
            .collect()
    }

    /// The account of an entry: its own, the file's, or the command line's.
    fn account(
        &mut self,
        own: Option<&Spanned<Value>>,
        file_account: Option<&Spanned<Value>>,
        default: Option<&str>,
        entry_line: usize,
    ) -> (Option<String>, usize) {
        if let Some(value) = own.or(file_account) {
            let line = self.line(value);
            return match value.get_ref() {
                Value::String(s) => (Some(s.trim().to_string()), line),
                Value::Integer(n) if *n >= 0 => (Some(n.to_string()), line),
                _ => {
                    self.problem(
                        line,
                        "the account must be a string of digits, e.g. \"9900000\"",
                    );
                    (None, line)
                }
            };
        }
        match default {
            Some(account) => (Some(account.to_string()), entry_line),
            None => {
                self.problem(
                    entry_line,
                    "no account: add `account = \"9900000\"` at the top of the file (or in the entry), or pass --account",
                );
                (None, entry_line)
            }
        }
    }

    /// A date field: a TOML date (`2026-11-01`) or a string holding one or a relative date
    /// (`"yesterday"`, `"today-7d"`), resolved with `resolver`.
    fn date(
        &mut self,
        resolver: &mut Resolver,
        field: &'static str,
        value: &Spanned<Value>,
    ) -> Option<Date> {
        let line = self.line(value);
        let text = match value.get_ref() {
            Value::String(s) => s.clone(),
            Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            _ => {
                self.problem(
                    line,
                    format!("{field} must be a date written YYYY-MM-DD or a relative date such as \"yesterday\""),
                );
                return None;
            }
        };
        match DateExpr::parse(field, &text).and_then(|expr| resolver.date(field, &expr)) {
            Ok(date) => Some(date),
            Err(e) => {
                self.problem(line, e.to_string());
                None
            }
        }
    }

    fn key(&mut self, key: Option<&Spanned<String>>) -> Result<Option<JobKey>, ()> {
        let Some(key) = key else { return Ok(None) };
        match JobKey::user(key.get_ref()) {
            Ok(k) => Ok(Some(k)),
            Err(e) => {
                let line = self.line(key);
                self.problem(line, e.to_string());
                Err(())
            }
        }
    }

    /// Checks a spec as the engine will, putting each problem (and warning) on the line of
    /// its field.
    fn validate(
        &mut self,
        spec: &JobSpec,
        entry_line: usize,
        line_for: impl Fn(&SpecProblem) -> usize,
    ) {
        match spec.validate(self.today) {
            Ok(warnings) => {
                for w in warnings {
                    self.warnings.push((entry_line, w.to_string()));
                }
            }
            Err(CoreError::InvalidSpec { problems }) => {
                for p in problems {
                    let line = line_for(&p);
                    self.problem(line, p.to_string());
                }
            }
            Err(other) => self.problem(entry_line, other.to_string()),
        }
    }

    fn report(
        &mut self,
        raw: &RawReport,
        file_account: Option<&Spanned<Value>>,
        default_account: Option<&str>,
    ) -> Option<Entry> {
        let before = self.problems.len();
        let mut resolver = self.resolver.clone();
        let entry_line = self.line(&raw.id);
        let (account, account_line) = self.account(
            raw.account.as_ref(),
            file_account,
            default_account,
            entry_line,
        );
        let report_id = match raw.id.get_ref() {
            Value::Integer(n) => u32::try_from(*n).ok(),
            Value::String(s) => s.trim().parse::<u32>().ok(),
            _ => None,
        };
        if report_id.is_none() {
            self.problem(
                entry_line,
                "the report id must be a whole number, e.g. `id = 2` (list them with `reportflow reports list`)",
            );
        }
        let format = match &raw.format {
            None => Some(OutputFormat::Csv),
            Some(f) => match f.get_ref().parse::<OutputFormat>() {
                Ok(format) => Some(format),
                Err(e) => {
                    let line = self.line(f);
                    self.problem(line, e.to_string());
                    None
                }
            },
        };
        let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut param_lines: HashMap<String, usize> = HashMap::new();
        for (name, value) in &raw.params {
            let line = self.line(value);
            param_lines.insert(name.get_ref().clone(), line);
            match param_values(value.get_ref()) {
                Some(values) => {
                    let mut resolved = BTreeSet::new();
                    for v in values {
                        match resolver.param(name.get_ref(), &v) {
                            Ok(v) => {
                                resolved.insert(v);
                            }
                            Err(e) => self.problem(line, e.to_string()),
                        }
                    }
                    params.insert(name.get_ref().clone(), resolved);
                }
                None => {
                    self.problem(
                        line,
                        format!(
                            "parameter {} must be a string, number, boolean, date or an array of them",
                            name.get_ref()
                        ),
                    );
                }
            }
        }
        let expires = raw
            .expires
            .as_ref()
            .and_then(|v| self.date(&mut resolver, "expires", v));
        let key = self.key(raw.key.as_ref());
        let expires_line = raw.expires.as_ref().map_or(entry_line, |e| self.line(e));
        // Stand-ins for fields already found wrong, so that the other fields are checked too.
        let spec = JobSpec::Account(AccountReportSpec {
            account: account.unwrap_or_else(|| "0".into()),
            report_id: report_id.unwrap_or(1),
            format: format.unwrap_or(OutputFormat::Csv),
            params,
            expires_at: expires,
        });
        self.validate(&spec, entry_line, |p| match p {
            SpecProblem::EmptyAccount | SpecProblem::NonNumericAccount(_) => account_line,
            SpecProblem::ExpiresInPast { .. } | SpecProblem::ExpiresTooFar { .. } => expires_line,
            SpecProblem::EmptyParameterValue { name } => {
                param_lines.get(name).copied().unwrap_or(entry_line)
            }
            _ => entry_line,
        });
        let key = key.ok()?;
        let origin = resolver.origin();
        (self.problems.len() == before).then(|| entry(spec, key, entry_line, origin))
    }

    fn billing(
        &mut self,
        raw: &RawBilling,
        file_account: Option<&Spanned<Value>>,
        default_account: Option<&str>,
    ) -> Vec<Entry> {
        let before = self.problems.len();
        let mut resolver = self.resolver.clone();
        let entry_line = self.line(&raw.report_type);
        let (account, account_line) = self.account(
            raw.account.as_ref(),
            file_account,
            default_account,
            entry_line,
        );
        let key = self.key(raw.key.as_ref());
        let range = self.range(&mut resolver, raw, entry_line);
        let split = raw.split.as_ref().and_then(|split| {
            let line = self.line(split);
            match Split::parse("split", split.get_ref()) {
                Ok(s) => {
                    if raw.key.is_some() {
                        self.problem(
                            line,
                            "split makes one job per partition, each with its own derived key; remove `key` (or `split`)",
                        );
                    }
                    resolver.note("split", s.as_str());
                    Some((s, line))
                }
                Err(e) => {
                    self.problem(line, e.to_string());
                    None
                }
            }
        });
        let Some(((start, end), range_line)) = range else {
            return Vec::new();
        };
        let parts = match split {
            None => vec![(start, end)],
            Some((split, line)) => {
                let budget = MAX_PARTITIONS.saturating_sub(self.partitions);
                match split.partitions(start, end, budget) {
                    Ok(parts) => {
                        self.partitions += parts.len();
                        parts
                    }
                    Err(SpecProblem::TooManyPartitions { split, .. }) => {
                        self.problem(
                            line,
                            SpecProblem::TooManyPartitions {
                                split,
                                start,
                                end,
                                max: MAX_PARTITIONS,
                            }
                            .to_string(),
                        );
                        return Vec::new();
                    }
                    // A reversed range: reported below, by the spec's own check.
                    Err(_) => vec![(start, end)],
                }
            }
        };
        let origin = resolver.origin();
        let mut entries = Vec::with_capacity(parts.len());
        for (start, end) in parts {
            let spec = JobSpec::Billing(BillingReportSpec {
                account: account.clone().unwrap_or_else(|| "0".into()),
                report_type: raw.report_type.get_ref().trim().to_ascii_uppercase(),
                start,
                end,
            });
            self.validate(&spec, entry_line, |p| match p {
                SpecProblem::EmptyAccount | SpecProblem::NonNumericAccount(_) => account_line,
                SpecProblem::StartAfterEnd { .. } => range_line,
                _ => entry_line,
            });
            if self.problems.len() > before {
                return Vec::new();
            }
            if let Ok(key) = &key {
                entries.push(entry(spec, key.clone(), entry_line, origin.clone()));
            }
        }
        if key.is_err() {
            return Vec::new();
        }
        entries
    }

    /// A billing entry's days: `range`, or `from` and `to`; with the line problems go on.
    fn range(
        &mut self,
        resolver: &mut Resolver,
        raw: &RawBilling,
        entry_line: usize,
    ) -> Option<((Date, Date), usize)> {
        match (&raw.range, &raw.from, &raw.to) {
            (Some(range), None, None) => {
                let line = self.line(range);
                match RangeExpr::parse("range", range.get_ref()) {
                    Ok(r) => Some((resolver.range("range", r), line)),
                    Err(e) => {
                        self.problem(line, e.to_string());
                        None
                    }
                }
            }
            (Some(range), _, _) => {
                let line = self.line(range);
                self.problem(line, "give either `range` or `from` and `to`, not both");
                None
            }
            (None, Some(from), Some(to)) => {
                let start = self.date(resolver, "from", from);
                let end = self.date(resolver, "to", to);
                Some(((start?, end?), self.line(from)))
            }
            (None, _, _) => {
                self.problem(
                    entry_line,
                    "a billing entry needs `from` and `to` (e.g. from = 2026-11-01, to = \"yesterday\") or a `range` (yesterday, last-7-days, last-month, month-to-date)",
                );
                None
            }
        }
    }
}

fn entry(spec: JobSpec, key: Option<JobKey>, line: usize, origin: Option<DateOrigin>) -> Entry {
    let effective_key = key.clone().unwrap_or_else(|| JobKey::derived(&spec));
    Entry {
        spec,
        key,
        effective_key,
        line,
        origin,
    }
}

/// The values of a parameter: one scalar or an array of scalars.
fn param_values(value: &Value) -> Option<BTreeSet<String>> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| BTreeSet::from([s])),
    }
}

/// Parses and checks the batch file `file` (its text `text`). `default_account` is the
/// command line's account; `clock` says when the submit happens and in which zones (relative
/// dates are resolved there; expiry dates are checked against today in UTC). Returns the jobs,
/// or every problem as `FILE:LINE: message`.
pub fn parse(
    file: &Path,
    text: &str,
    default_account: Option<&str>,
    clock: &SubmitClock,
) -> Result<Batch, Vec<String>> {
    let name = file.display().to_string();
    let raw: RawBatch = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![format!("{name}:{line}: {}", e.message().trim())]
    })?;
    let tz_line = raw
        .tz
        .as_ref()
        .map_or(1, |tz| line_of(text, tz.span().start));
    let resolver = clock
        .resolver(raw.tz.as_ref().map(|tz| tz.get_ref().as_str()))
        .map_err(|(_, message)| vec![format!("{name}:{tz_line}: {message}")])?;
    let mut checker = Checker {
        file: &name,
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
        resolver,
        today: clock.utc_today(),
        partitions: 0,
    };
    let mut entries = Vec::new();
    for report in &raw.report {
        entries.extend(checker.report(report, raw.account.as_ref(), default_account));
    }
    for billing in &raw.billing {
        entries.extend(checker.billing(billing, raw.account.as_ref(), default_account));
    }
    if raw.report.is_empty() && raw.billing.is_empty() {
        checker.problem(
            1,
            "the batch has no [[report]] or [[billing]] entry; see `reportflow submit batch --help`",
        );
    }
    let layout = raw.layout.as_ref().and_then(|layout| {
        FileLayout::parse(layout.get_ref())
            .map_err(|e| {
                let line = checker.line(layout);
                checker.problem(line, e.to_string());
            })
            .ok()
    });
    let entries = without_repeats(&mut checker, entries);
    let out = raw.out.as_ref().map(|out| {
        let relative = Path::new(out.get_ref());
        let base = file.parent().unwrap_or(Path::new("."));
        let joined = base.join(relative);
        std::path::absolute(&joined).unwrap_or(joined)
    });
    if !checker.problems.is_empty() {
        return Err(Checker::finish(checker.problems, checker.file));
    }
    let label = file
        .file_stem()
        .and_then(|stem| Label::from_file_stem(&stem.to_string_lossy()));
    Ok(Batch {
        entries,
        out,
        layout,
        label,
        warnings: Checker::finish(checker.warnings, checker.file),
    })
}

/// Drops entries that repeat an earlier one (same key, same request); a key used for two
/// different requests is a problem.
fn without_repeats(checker: &mut Checker<'_>, entries: Vec<Entry>) -> Vec<Entry> {
    let mut first: HashMap<JobKey, (usize, JobSpec)> = HashMap::new();
    let mut kept = Vec::new();
    for e in entries {
        match first.get(&e.effective_key) {
            Some((line, spec)) if *spec == e.spec => {
                let line = *line;
                checker.warnings.push((
                    e.line,
                    format!("repeats the entry at line {line}; it is one job"),
                ));
            }
            Some((line, _)) => {
                let line = *line;
                checker.problem(
                    e.line,
                    format!(
                        "the key {:?} is also used at line {line} for a different report; give each job its own key",
                        e.effective_key.as_str()
                    ),
                );
            }
            None => {
                first.insert(e.effective_key.clone(), (e.line, e.spec.clone()));
                kept.push(e);
            }
        }
    }
    kept
}

/// Problems the store knows of: a key that already names a job with another request.
pub async fn conflicts_with_store(
    file: &Path,
    batch: &Batch,
    store: &dyn reportflow_store::JobStore,
) -> Vec<String> {
    let mut problems = Vec::new();
    for e in &batch.entries {
        if let Ok(Some(job)) = store.get_by_key(&e.effective_key).await
            && job.spec != e.spec
        {
            problems.push(format!(
                "{}:{}: the key {:?} already names job {} in the store, which asks for something else; use another key",
                file.display(),
                e.line,
                e.effective_key.as_str(),
                job.id
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date the tests' batches are checked against.
    const TODAY: Date = Date::constant(2026, 11, 26);

    fn check(text: &str) -> Result<Batch, Vec<String>> {
        parse(Path::new("b.toml"), text, None, &SubmitClock::on(TODAY))
    }

    #[test]
    fn a_good_batch_gives_its_jobs() {
        let batch = check(
            r#"account = "9900000"
out = "nightly"

[[report]]
id = 8
params = { AccountId = "9900000", StartDate = 2026-11-01, EndDate = "2026-11-30", OrderStatus = ["COMPLETE", "PENDING"] }
expires = 2026-12-20
key = "port-outs"

[[report]]
id = "47"
format = "PDF"
params = { AccountId = 9900000, InactiveDays = 90 }

[[billing]]
type = "bdr"
from = 2026-11-01
to = 2026-11-30
"#,
        )
        .expect("valid");
        assert_eq!(batch.entries.len(), 3);
        assert!(
            batch
                .out
                .is_some_and(|o| o.is_absolute() && o.ends_with("nightly"))
        );
        let JobSpec::Account(a) = &batch.entries[0].spec else {
            panic!("account report first")
        };
        assert_eq!(a.params["OrderStatus"].len(), 2);
        assert_eq!(
            a.params["StartDate"].first().map(String::as_str),
            Some("2026-11-01")
        );
        assert_eq!(batch.entries[0].line, 5);
        let JobSpec::Billing(b) = &batch.entries[2].spec else {
            panic!("billing last")
        };
        assert_eq!(b.report_type, "BDR");
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let problems = check(
            r#"account = "99x"

[[report]]
id = 0
format = "docx"

[[report]]
id = 2
expires = 2020-01-01
params = { AccountId = [] }

[[billing]]
type = "BDR"
from = 2026-11-30
to = 2026-11-01

[[billing]]
type = "MDR"
from = "2026-02-30"
to = 2026-03-01
"#,
        )
        .expect_err("invalid");
        let text = problems.join("\n");
        assert!(
            text.contains("b.toml:5: the output format \"docx\" is unknown"),
            "{text}"
        );
        assert!(
            text.contains("b.toml:9: the expiry date 2020-01-01 is in the past"),
            "{text}"
        );
        assert!(
            text.contains("b.toml:10: the report parameter \"AccountId\" has an empty value"),
            "{text}"
        );
        assert!(
            text.contains("b.toml:14: the date range starts on 2026-11-30"),
            "{text}"
        );
        assert!(
            text.contains(
                "b.toml:19: from \"2026-02-30\" is not a date: February 2026 has 28 days"
            ),
            "{text}"
        );
        assert!(
            text.contains("b.toml:1: the account id \"99x\" is not a number"),
            "{text}"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_fields_name_their_line() {
        let problems = check("account = \"1\"\n\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nform = 1\n")
            .expect_err("unknown field");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("b.toml:7: unknown field `form`"),
            "{problems:?}"
        );
        let problems = check("account = \n").expect_err("syntax");
        assert!(problems[0].starts_with("b.toml:1: "), "{problems:?}");
        let problems = check("account = \"1\"\n").expect_err("empty");
        assert!(problems[0].contains("no [[report]] or [[billing]] entry"));
    }

    #[test]
    fn repeats_are_one_job_and_reused_keys_are_refused() {
        let batch = check(
            "account = \"1\"\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\n",
        )
        .expect("valid");
        assert_eq!(batch.entries.len(), 1);
        assert_eq!(batch.warnings.len(), 1, "{:?}", batch.warnings);
        let problems = check(
            "account = \"1\"\n[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nkey = \"k\"\n[[billing]]\ntype = \"MDR\"\nfrom = 2026-11-01\nto = 2026-11-02\nkey = \"k\"\n",
        )
        .expect_err("same key, two reports");
        assert!(
            problems[0].starts_with("b.toml:8: the key \"k\" is also used at line 3"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_account_may_come_from_the_command_line() {
        let text = "[[billing]]\ntype = \"BDR\"\nfrom = 2026-11-01\nto = 2026-11-02\n";
        assert!(check(text).is_err());
        assert!(
            parse(
                Path::new("b.toml"),
                text,
                Some("9900000"),
                &SubmitClock::on(TODAY)
            )
            .is_ok()
        );
    }
}
