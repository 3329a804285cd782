//! `reports list` and `reports show`: the account's report catalogue, from the upstream.

use crate::cli::ReportsCommand;
use crate::context::{Context, Purpose, today};
use crate::error::{CliError, Outcome};
use crate::output::{Table, print, print_json};
use reportflow_driver::{DriverError, Engine, ReportDetail, sample_parameters};
use serde::Serialize;

/// Runs a `reports` command. The catalogue needs no store: a throwaway one is used, so this
/// works while a `run` holds the real one.
pub async fn reports(ctx: &Context, command: &ReportsCommand) -> Result<Outcome, CliError> {
    let account = ctx.account()?;
    let scratch = tempfile::tempdir().map_err(|e| {
        CliError::Runtime(format!(
            "cannot create a temporary folder: {e}; check TMPDIR and its free space"
        ))
    })?;
    let config = ctx.engine_config(Purpose::Catalogue {
        scratch: scratch.path(),
    })?;
    let engine = Engine::open(config).await?;
    match command {
        ReportsCommand::List => list(ctx, &engine, &account).await,
        ReportsCommand::Show { report_id } => show(ctx, &engine, &account, *report_id).await,
    }
}

#[derive(Serialize)]
struct ReportView {
    id: String,
    name: Option<String>,
    description: Option<String>,
}

async fn list(ctx: &Context, engine: &Engine, account: &str) -> Result<Outcome, CliError> {
    let reports = engine
        .report_types(account)
        .await
        .map_err(catalogue_error)?;
    let views: Vec<ReportView> = reports
        .into_iter()
        .map(|r| ReportView {
            id: r.id,
            name: r.name,
            description: r.description,
        })
        .collect();
    if ctx.global.json {
        print_json(&views)?;
        return Ok(Outcome::Success);
    }
    let mut table = Table::new(&["ID", "NAME", "DESCRIPTION"]);
    for v in &views {
        table.row(vec![
            v.id.clone(),
            v.name.clone().unwrap_or_default(),
            v.description.clone().unwrap_or_default(),
        ]);
    }
    print(&table.render());
    print("\nshow a report's parameters with `reportflow reports show ID`\n");
    Ok(Outcome::Success)
}

#[derive(Serialize)]
struct ParameterView {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `null` when the upstream did not say.
    required: Option<bool>,
    /// `null` when the upstream did not say.
    multi_select: Option<bool>,
    description: Option<String>,
    help: Option<String>,
    value_filter: Option<String>,
    values: Vec<ValueView>,
}

#[derive(Serialize)]
struct ValueView {
    internal_name: Option<String>,
    display_name: Option<String>,
}

impl ValueView {
    /// The value to send, with the name the upstream shows for it when that differs:
    /// `inservice (In Service)`; `None` when the upstream gave neither.
    fn cell(&self) -> Option<String> {
        match (&self.internal_name, &self.display_name) {
            (Some(internal), Some(display)) if display != internal => {
                Some(format!("{internal} ({display})"))
            }
            (Some(internal), _) => Some(internal.clone()),
            (None, Some(display)) => Some(format!("({display})")),
            (None, None) => None,
        }
    }
}

#[derive(Serialize)]
struct DetailView {
    id: String,
    name: Option<String>,
    description: Option<String>,
    parameters: Vec<ParameterView>,
    example: String,
}

async fn show(
    ctx: &Context,
    engine: &Engine,
    account: &str,
    report_id: u32,
) -> Result<Outcome, CliError> {
    let detail = engine
        .report_detail(account, report_id)
        .await
        .map_err(|e| match e {
            DriverError::Upstream(failure) if failure.http_status == Some(404) => {
                CliError::Usage(format!(
                    "account {account} has no report {report_id} ({failure}); list the report ids with `reportflow reports list`"
                ))
            }
            other => catalogue_error(other),
        })?;
    let view = detail_view(ctx, &detail, account);
    if ctx.global.json {
        print_json(&view)?;
        return Ok(Outcome::Success);
    }
    let mut text = format!("{}  {}\n", view.id, view.name.clone().unwrap_or_default());
    if let Some(d) = &view.description {
        text.push_str(&format!("{d}\n"));
    }
    text.push('\n');
    let mut table = Table::new(&[
        "NAME",
        "TYPE",
        "REQUIRED",
        "MULTI",
        "VALUES",
        "DESCRIPTION",
        "HELP",
    ]);
    for p in &view.parameters {
        let values: Vec<String> = p.values.iter().filter_map(ValueView::cell).collect();
        table.row(vec![
            p.name.clone(),
            p.kind.clone().unwrap_or_default(),
            stated(p.required),
            stated(p.multi_select),
            values.join(", "),
            p.description.clone().unwrap_or_default(),
            p.help.clone().unwrap_or_default(),
        ]);
    }
    text.push_str(&table.render());
    text.push_str(&format!(
        "\nsubmit with (sample values):\n  {}\n",
        view.example
    ));
    print(&text);
    Ok(Outcome::Success)
}

/// `yes` or `no` as the upstream stated it, `not stated` when it did not.
fn stated(flag: Option<bool>) -> String {
    match flag {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not stated",
    }
    .to_string()
}

/// The sample command for `detail`: its required parameters with plausible values, quoted for
/// a POSIX shell (parameter names may have spaces, as in the spec's own example).
fn example(ctx: &Context, detail: &ReportDetail, account: &str) -> String {
    let params: Vec<String> = sample_parameters(detail, account, today())
        .into_iter()
        .flat_map(|(name, values)| {
            values
                .into_iter()
                .map(move |value| format!("{name}={value}"))
        })
        .collect();
    let mut args = vec!["submit", "report", detail.summary.id.as_str()];
    for param in &params {
        args.push("--param");
        args.push(param);
    }
    ctx.command(&args)
}

fn detail_view(ctx: &Context, detail: &ReportDetail, account: &str) -> DetailView {
    DetailView {
        id: detail.summary.id.clone(),
        name: detail.summary.name.clone(),
        description: detail.summary.description.clone(),
        parameters: detail
            .parameters
            .iter()
            .map(|p| ParameterView {
                name: p.name.clone(),
                kind: p.kind.clone(),
                required: p.required,
                multi_select: p.multi_select_allowed,
                description: p.description.clone(),
                help: p.help_information.clone(),
                value_filter: p.value_filter.clone(),
                values: p
                    .values
                    .iter()
                    .map(|v| ValueView {
                        internal_name: v.internal_name.clone(),
                        display_name: v.display_name.clone(),
                    })
                    .collect(),
            })
            .collect(),
        example: example(ctx, detail, account),
    }
}

/// A failed catalogue request; a refusal of the credentials says so.
fn catalogue_error(error: DriverError) -> CliError {
    match error {
        DriverError::Upstream(failure) if failure.refuses_credentials() => {
            CliError::Runtime(format!("the upstream refused the credentials: {failure}"))
        }
        other => other.into(),
    }
}
