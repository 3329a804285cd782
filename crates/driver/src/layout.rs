//! File layouts: where under the output folder a downloaded file goes, written as a template
//! such as `{kind}/{type}/{from}_{to}.{ext}`.
//!
//! A template is checked whole when it is parsed (known placeholders, relative, no `..`, no
//! hidden names). Each job's values are checked when its path is made: a value that is not
//! safe as (part of) one path component is refused, never cleaned up into something else, so
//! no value can move a file out of the output folder. [`make_room`] then creates the folders,
//! refusing any that is not a real folder inside the output folder. Without a layout a file
//! keeps today's flat place: its sanitized upstream name in the output folder.

use crate::error::DriverError;
use reportflow_core::{Job, JobSpec, Millis};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The longest component a layout may produce, in bytes (the usual file system limit).
const MAX_COMPONENT: usize = 255;

/// The placeholders a template may use, with what each holds (for messages and `--help`).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("account", "the account id"),
    ("kind", "account or billing"),
    ("type", "the billing type (BDR, ...) or the report id"),
    (
        "from",
        "the first day (billing range, or the StartDate parameter)",
    ),
    (
        "to",
        "the last day (billing range, or the EndDate parameter)",
    ),
    ("key", "the job's key"),
    ("label", "the job's label (unlabelled when it has none)"),
    ("name", "the upstream's file name, sanitized"),
    ("ext", "the file name's extension (csv, pdf, zip, ...)"),
];

/// The label placeholder's value for a job without one.
const NO_LABEL: &str = "unlabelled";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Account,
    Kind,
    Type,
    From,
    To,
    Key,
    Label,
    Name,
    Ext,
}

impl Field {
    const ALL: [Field; 9] = [
        Self::Account,
        Self::Kind,
        Self::Type,
        Self::From,
        Self::To,
        Self::Key,
        Self::Label,
        Self::Name,
        Self::Ext,
    ];

    fn name(self) -> &'static str {
        PLACEHOLDERS[self as usize].0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A checked file layout template.
#[derive(Clone, PartialEq, Eq)]
pub struct FileLayout {
    template: String,
    /// Path components, each a sequence of literal text and placeholders.
    components: Vec<Vec<Piece>>,
}

impl fmt::Debug for FileLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileLayout({:?})", self.template)
    }
}

impl fmt::Display for FileLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

fn layout_error(template: &str, why: impl fmt::Display) -> DriverError {
    let known: Vec<String> = PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect();
    DriverError::Config(format!(
        "the file layout {template:?} cannot be used: {why}; write a relative path of folders and a file name using {} (e.g. \"{{kind}}/{{type}}/{{from}}_{{to}}.{{ext}}\")",
        known.join(", ")
    ))
}

impl FileLayout {
    /// Checks `template`: `/`-separated components of literal text and placeholders, relative,
    /// without empty, `.` or `..` components, no component starting with `.`, no `\`.
    pub fn parse(template: &str) -> Result<FileLayout, DriverError> {
        let bad = |why: &str| layout_error(template, why);
        if template.trim().is_empty() {
            return Err(bad("it is empty"));
        }
        if template.starts_with('/') {
            return Err(bad("it is an absolute path"));
        }
        if template.contains('\\') {
            return Err(bad("it holds a backslash; separate folders with /"));
        }
        if template.chars().any(char::is_control) {
            return Err(bad("it holds control characters"));
        }
        let mut components = Vec::new();
        for raw in template.split('/') {
            if raw.is_empty() {
                return Err(bad("it has an empty folder name (// or a / at the end)"));
            }
            if raw == "." || raw == ".." {
                return Err(bad("it uses . or .. as a folder"));
            }
            if raw.starts_with('.') {
                return Err(bad(
                    "a name in it starts with . (hidden files are not allowed)",
                ));
            }
            components.push(parse_component(template, raw)?);
        }
        Ok(FileLayout {
            template: template.to_string(),
            components,
        })
    }

    /// The template as given.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The path, relative to the output folder, of `job`'s file whose (sanitized) upstream
    /// name is `name`; refused when a value cannot be part of a path.
    pub fn path_for(&self, job: &Job, name: &str) -> Result<PathBuf, DriverError> {
        let mut path = PathBuf::new();
        for pieces in &self.components {
            let mut component = String::new();
            for piece in pieces {
                match piece {
                    Piece::Text(text) => component.push_str(text),
                    Piece::Field(field) => {
                        let value = value_of(*field, job, name);
                        check_value(self, job, *field, &value)?;
                        component.push_str(&value);
                    }
                }
            }
            if component.starts_with('.') || component == ".." {
                return Err(self.refused(job, &component, "it would be a hidden name"));
            }
            if component.len() > MAX_COMPONENT {
                return Err(self.refused(job, &component, "it is longer than 255 bytes"));
            }
            path.push(component);
        }
        Ok(path)
    }

    fn refused(&self, job: &Job, what: &str, why: &str) -> DriverError {
        DriverError::Config(format!(
            "the file layout {:?} gives job {} ({}) the name {what:?}, which cannot be used: {why}; choose another layout",
            self.template, job.id, job.key
        ))
    }
}

fn parse_component(template: &str, raw: &str) -> Result<Vec<Piece>, DriverError> {
    let mut pieces = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            Some(0) if rest.starts_with('}') => {
                return Err(layout_error(template, "it has a } without a {"));
            }
            Some(0) => {
                let close = rest
                    .find('}')
                    .ok_or_else(|| layout_error(template, "it has a { without a }"))?;
                let name = &rest[1..close];
                let field = Field::ALL
                    .into_iter()
                    .find(|f| f.name() == name)
                    .ok_or_else(|| {
                        layout_error(template, format!("{{{name}}} is not a placeholder"))
                    })?;
                pieces.push(Piece::Field(field));
                rest = &rest[close + 1..];
            }
            Some(at) => {
                pieces.push(Piece::Text(rest[..at].to_string()));
                rest = &rest[at..];
            }
            None => {
                pieces.push(Piece::Text(rest.to_string()));
                rest = "";
            }
        }
    }
    Ok(pieces)
}

/// A placeholder's value for `job`.
fn value_of(field: Field, job: &Job, name: &str) -> String {
    let param = |wanted: &str| match &job.spec {
        JobSpec::Account(a) => a
            .params
            .get(wanted)
            .filter(|values| values.len() == 1)
            .and_then(|values| values.first().cloned()),
        JobSpec::Billing(_) => None,
    };
    let submitted_day = || day_of(job.submitted_at);
    match field {
        Field::Account => job.spec.account().to_string(),
        Field::Kind => job.kind().as_str().to_string(),
        Field::Type => match &job.spec {
            JobSpec::Account(a) => a.report_id.to_string(),
            JobSpec::Billing(b) => b.report_type.clone(),
        },
        Field::From => match &job.spec {
            JobSpec::Billing(b) => b.start.to_string(),
            JobSpec::Account(_) => param("StartDate").unwrap_or_else(submitted_day),
        },
        Field::To => match &job.spec {
            JobSpec::Billing(b) => b.end.to_string(),
            JobSpec::Account(_) => param("EndDate").unwrap_or_else(submitted_day),
        },
        Field::Key => job.key.to_string(),
        Field::Label => job
            .label
            .as_ref()
            .map_or_else(|| NO_LABEL.to_string(), ToString::to_string),
        Field::Name => name.to_string(),
        Field::Ext => match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_string(),
            _ => match &job.spec {
                JobSpec::Account(a) => a.format.to_string(),
                JobSpec::Billing(_) => "zip".to_string(),
            },
        },
    }
}

/// The UTC day of a point in time (`YYYY-MM-DD`).
fn day_of(at: Millis) -> String {
    i64::try_from(at.0)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .date()
                .to_string()
        })
        .unwrap_or_else(|| "unknown-day".to_string())
}

/// Refuses a value that cannot be part of one path component.
fn check_value(
    layout: &FileLayout,
    job: &Job,
    field: Field,
    value: &str,
) -> Result<(), DriverError> {
    let why = if value.is_empty() {
        Some("it is empty")
    } else if value.contains('/') || value.contains('\\') {
        Some("it holds a path separator")
    } else if value == "." || value == ".." {
        Some("it names a folder of its own (. or ..)")
    } else if value.chars().any(char::is_control) {
        Some("it holds control characters")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(DriverError::Config(format!(
            "the file layout {:?} cannot name the file of job {} ({}): its {{{}}} is {value:?}, and {why}; choose a layout without {{{}}} (or give the job a plain key or label)",
            layout.template,
            job.id,
            job.key,
            field.name(),
            field.name()
        ))),
    }
}

/// The relative path of `job`'s file named `name` upstream: through `layout` when there is
/// one, else the name itself (the flat layout).
pub(crate) fn target(
    layout: Option<&FileLayout>,
    job: &Job,
    name: &str,
) -> Result<PathBuf, DriverError> {
    match layout {
        Some(layout) => layout.path_for(job, name),
        None => Ok(PathBuf::from(name)),
    }
}

/// Creates the folders of `relative` under `out_dir` (syncing each new one into its parent)
/// and returns the folder the file goes in and the file's name. Refuses a path that is not
/// plain components, and any folder on the way that exists as something other than a real
/// folder (a symbolic link could lead out of the output folder).
pub(crate) fn make_room(out_dir: &Path, relative: &Path) -> io::Result<(PathBuf, String)> {
    let outside = || {
        io::Error::other(format!(
            "the file path {} leaves the output folder",
            relative.display()
        ))
    };
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            _ => return Err(outside()),
        }
    }
    let Some((file, folders)) = parts.split_last() else {
        return Err(outside());
    };
    let mut dir = out_dir.to_path_buf();
    for folder in folders {
        let parent = dir.clone();
        dir.push(folder);
        match fs::create_dir(&dir) {
            Ok(()) => fs::File::open(&parent)?.sync_all()?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&dir)?;
                if !meta.is_dir() {
                    return Err(io::Error::other(format!(
                        "{} is not a real folder (a file or a symbolic link); the file layout only creates folders inside the output folder",
                        dir.display()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    let name = file.to_str().ok_or_else(outside)?.to_string();
    Ok((dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reportflow_core::{
        AccountReportSpec, BillingReportSpec, Date, JobId, JobKey, OutputFormat, Policies,
    };
    use std::collections::{BTreeMap, BTreeSet};

    fn billing_job(key: &str) -> Job {
        Job::new(
            JobId(4),
            JobKey::user(key).expect("key"),
            JobSpec::Billing(BillingReportSpec {
                account: "9900000".into(),
                report_type: "BDR".into(),
                start: Date::constant(2026, 11, 1),
                end: Date::constant(2026, 11, 30),
            }),
            Policies::default(),
            Millis(1_795_000_000_000),
        )
    }

    fn account_job(params: &[(&str, &str)]) -> Job {
        let params: BTreeMap<String, BTreeSet<String>> = params
            .iter()
            .map(|(n, v)| (n.to_string(), BTreeSet::from([v.to_string()])))
            .collect();
        Job::new(
            JobId(5),
            JobKey::user("k").expect("key"),
            JobSpec::Account(AccountReportSpec {
                account: "9900000".into(),
                report_id: 8,
                format: OutputFormat::Pdf,
                params,
                expires_at: None,
            }),
            Policies::default(),
            // 2026-11-24T..Z
            Millis(1_795_500_000_000),
        )
    }

    #[test]
    fn every_placeholder_fills_in() {
        let layout = FileLayout::parse("{account}/{kind}-{type}/{from}_{to}/{label}/{key}.{ext}")
            .expect("valid");
        let job = billing_job("nov");
        assert_eq!(
            layout.path_for(&job, "bdrs.zip").expect("a path"),
            PathBuf::from("9900000/billing-BDR/2026-11-01_2026-11-30/unlabelled/nov.zip")
        );
        let layout = FileLayout::parse("{kind}/{type}/{from}_{to}-{name}").expect("valid");
        let report = account_job(&[("StartDate", "2026-10-01"), ("EndDate", "2026-10-31")]);
        assert_eq!(
            layout.path_for(&report, "port-outs.pdf").expect("a path"),
            PathBuf::from("account/8/2026-10-01_2026-10-31-port-outs.pdf")
        );
        let snapshot = account_job(&[]);
        let path = FileLayout::parse("{from}.{ext}")
            .expect("valid")
            .path_for(&snapshot, "noext")
            .expect("a path");
        assert_eq!(
            path,
            PathBuf::from("2026-11-24.pdf"),
            "the day it was submitted"
        );
    }

    #[test]
    fn bad_templates_are_refused_whole() {
        for (template, says) in [
            ("", "it is empty"),
            ("/abs/{name}", "absolute"),
            ("a/../{name}", ". or .."),
            ("a//{name}", "empty folder"),
            ("a/{name}/", "empty folder"),
            (".hidden/{name}", "starts with ."),
            ("{nmae}", "{nmae} is not a placeholder"),
            ("{name", "{ without a }"),
            ("name}", "} without a {"),
            ("a\\{name}", "backslash"),
        ] {
            let e = FileLayout::parse(template).expect_err(template).to_string();
            assert!(e.contains(says), "{template}: {e}");
            assert!(e.contains("{kind}"), "names the placeholders: {e}");
        }
    }

    #[test]
    fn hostile_values_are_refused_not_cleaned() {
        let layout = FileLayout::parse("{key}/{name}").expect("valid");
        for key in ["../../etc", "a/b", "..", "a\\b"] {
            let e = layout
                .path_for(&billing_job(key), "x.zip")
                .expect_err(key)
                .to_string();
            assert!(e.contains("its {key} is"), "{key}: {e}");
        }
        let e = FileLayout::parse("{name}")
            .expect("valid")
            .path_for(&billing_job("k"), ".x")
            .expect_err("hidden");
        assert!(e.to_string().contains("hidden"), "{e}");
        let long = "x".repeat(300);
        assert!(
            FileLayout::parse("{key}{key}")
                .expect("valid")
                .path_for(&billing_job(&long[..150]), "a")
                .is_err()
        );
    }

    #[test]
    fn folders_are_made_inside_the_output_folder_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        let (folder, name) = make_room(out, Path::new("a/b/c.csv")).expect("made");
        assert_eq!(folder, out.join("a/b"));
        assert_eq!(name, "c.csv");
        assert!(folder.is_dir());
        assert!(make_room(out, Path::new("../x")).is_err());
        assert!(make_room(out, Path::new("/etc/x")).is_err());
        let elsewhere = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(elsewhere.path(), out.join("link")).expect("symlink");
        let e = make_room(out, Path::new("link/x.csv")).expect_err("a symlink");
        assert!(e.to_string().contains("not a real folder"), "{e}");
        fs::write(out.join("file"), b"").expect("write");
        assert!(make_room(out, Path::new("file/x.csv")).is_err());
        assert_eq!(
            fs::read_dir(elsewhere.path()).expect("read").count(),
            0,
            "nothing was made outside"
        );
    }
}
