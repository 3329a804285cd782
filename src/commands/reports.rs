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
    let engine = Engine::open(config)?;
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
    required: bool,
    multi_select: bool,
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
    let view = detail_view(&detail, account);
    if ctx.global.json {
        print_json(&view)?;
        return Ok(Outcome::Success);
    }
    let mut text = format!("{}  {}\n", view.id, view.name.clone().unwrap_or_default());
    if let Some(d) = &view.description {
        text.push_str(&format!("{d}\n"));
    }
    text.push('\n');
    let mut table = Table::new(&["NAME", "TYPE", "REQUIRED", "MULTI", "VALUES", "HELP"]);
    for p in &view.parameters {
        let values: Vec<String> = p
            .values
            .iter()
            .filter_map(|v| v.internal_name.clone())
            .collect();
        table.row(vec![
            p.name.clone(),
            p.kind.clone().unwrap_or_default(),
            yes_no(p.required),
            yes_no(p.multi_select),
            values.join(","),
            p.help.clone().or(p.description.clone()).unwrap_or_default(),
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

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn detail_view(detail: &ReportDetail, account: &str) -> DetailView {
    let mut example = format!("reportflow submit report {}", detail.summary.id);
    for (name, values) in sample_parameters(detail, account, today()) {
        for value in values {
            example.push_str(&format!(" --param {name}={value}"));
        }
    }
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
                required: p.required.unwrap_or(false),
                multi_select: p.multi_select_allowed.unwrap_or(false),
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
        example,
    }
}

/// A failed catalogue request; a refusal of the credentials says so.
fn catalogue_error(error: DriverError) -> CliError {
    match error {
        DriverError::Upstream(failure) if failure.refuses_credentials() => {
            CliError::Runtime(format!(
                "the upstream refused the credentials: {failure}; check BANDWIDTH_USERNAME/PASSWORD or BANDWIDTH_CLIENT_ID/SECRET"
            ))
        }
        other => other.into(),
    }
}
