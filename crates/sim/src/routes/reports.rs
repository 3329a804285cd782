//! Account reports: catalogue, instance creation, status, listings and files.

use http::StatusCode;
use http::header::{CONTENT_TYPE, LOCATION};
use jiff::civil::Date;

use super::{Ctx, codes};
use crate::app::App;
use crate::body::{SimBody, Tracking};
use crate::catalogue::{self, OUTPUT_FORMATS, ReportDef};
use crate::files::{Source, size_in};
use crate::lock;
use crate::response::{ApiError, Resp, XML, attachment, empty, set_header, xml};
use crate::state::{Instance, InstanceStatus, Store, jitter, later};
use crate::stats::InstanceKey;
use crate::xml::{XmlWriter, parse, parse_date, requested_at, today};

/// The furthest `ExpiresAt` may lie ahead of today.
const MAX_EXPIRY_DAYS: i64 = 30;
/// Listing page size when none is given, and the largest allowed.
const DEFAULT_PAGE_SIZE: usize = 30;
const MAX_PAGE_SIZE: usize = 1000;

fn not_found(code: u32, description: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, description)
}

fn find_report(report: &str) -> Result<&'static ReportDef, ApiError> {
    report
        .parse::<u32>()
        .ok()
        .and_then(catalogue::report)
        .ok_or_else(|| not_found(codes::UNKNOWN_REPORT, format!("Report {report} not found")))
}

/// The instance of this account and report, or the documented 404.
fn find_instance<'s>(
    store: &'s Store,
    account: &str,
    report: &str,
    instance: &str,
) -> Result<&'s Instance, ApiError> {
    let def = find_report(report)?;
    instance
        .parse::<u64>()
        .ok()
        .and_then(|id| store.instances.get(&id))
        .filter(|i| i.account == account && i.report_id == def.id)
        .ok_or_else(|| {
            not_found(
                codes::UNKNOWN_INSTANCE,
                format!("Report instance {instance} not found"),
            )
        })
}

/// `GET /accounts/{a}/reports`.
pub(super) fn catalogue(ctx: &Ctx<'_>) -> Resp {
    let mut w = XmlWriter::new(ctx.config.xml_declaration);
    w.open("ReportsResponse").open("Reports");
    for r in &catalogue::REPORTS {
        w.open("Report")
            .leaf("Id", r.id)
            .leaf("Name", r.name)
            .leaf("Description", r.description)
            .close("Report");
    }
    xml(
        StatusCode::OK,
        w.close("Reports").close("ReportsResponse").finish(),
    )
}

/// `GET /accounts/{a}/reports/{r}`.
pub(super) fn detail(ctx: &Ctx<'_>, report: &str) -> Result<Resp, ApiError> {
    let r = find_report(report)?;
    let mut w = XmlWriter::new(ctx.config.xml_declaration);
    w.open("ReportResponse")
        .open("Report")
        .leaf("Id", r.id)
        .leaf("Name", r.name)
        .leaf("Description", r.description)
        .open("Parameters");
    for p in r.params {
        w.open("Parameter")
            .leaf("Name", p.name)
            .leaf("Type", p.kind.label())
            .leaf("Required", p.required)
            .leaf("Description", p.description)
            .leaf("MultiSelectAllowed", p.multi);
        if let Some(help) = p.help {
            w.leaf("HelpInformation", help);
        }
        if let Some(filter) = p.value_filter {
            w.leaf("ValueFilter", filter);
        }
        if !p.values.is_empty() {
            w.open("Values");
            for (internal, display) in p.values {
                w.open("Value")
                    .leaf("InternalName", internal)
                    .leaf("DisplayName", display)
                    .close("Value");
            }
            w.close("Values");
        }
        w.close("Parameter");
    }
    w.close("Parameters")
        .close("Report")
        .close("ReportResponse");
    Ok(xml(StatusCode::OK, w.finish()))
}

fn status_literal<'c>(ctx: &'c Ctx<'_>, status: InstanceStatus) -> &'c str {
    match status {
        InstanceStatus::InProgress => &ctx.config.in_progress_status,
        InstanceStatus::Ready => "Ready",
        InstanceStatus::Expired => "Expired",
    }
}

fn write_instance(w: &mut XmlWriter, ctx: &Ctx<'_>, i: &Instance, today: Date) {
    w.open("Instance")
        .leaf("Id", i.id)
        .leaf("ReportId", i.report_id)
        .leaf("ReportName", i.report_name)
        .leaf("OutputFormat", &i.format)
        .leaf("RequestedByUserName", &i.requested_by)
        .leaf("RequestedAt", requested_at(i.requested_at))
        .open("Parameters");
    for (name, values) in &i.parameters {
        w.open("Parameter").leaf("Name", name);
        for v in values {
            w.leaf("Value", v);
        }
        w.close("Parameter");
    }
    w.close("Parameters")
        .leaf("Status", status_literal(ctx, i.status(ctx.now, today)))
        .leaf("ExpiresAt", i.expires_at)
        .close("Instance");
}

/// `page` and `size` of a listing query.
fn paging(query: Option<&str>) -> Result<(usize, usize), ApiError> {
    let mut page = 1;
    let mut size = DEFAULT_PAGE_SIZE;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let target = match key {
            "page" => &mut page,
            "size" => &mut size,
            _ => continue,
        };
        *target = value.parse().map_err(|_| bad_paging())?;
    }
    if page == 0 || size == 0 || size > MAX_PAGE_SIZE {
        return Err(bad_paging());
    }
    Ok((page, size))
}

fn bad_paging() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::INVALID_PAGING,
        format!("page must be a number from 1, size a number from 1 to {MAX_PAGE_SIZE}"),
    )
}

/// `GET .../reports/{r}/instances` (one report) or `GET .../reports/instances` (all).
pub(super) fn listing(
    ctx: &Ctx<'_>,
    account: &str,
    report: Option<&str>,
    query: Option<&str>,
) -> Result<Resp, ApiError> {
    let report_id = report.map(find_report).transpose()?.map(|r| r.id);
    let (page, size) = paging(query)?;
    let today = today();
    let mut w = XmlWriter::new(ctx.config.xml_declaration);
    w.open("ReportInstancesResponse").open("Instances");
    {
        let store = lock(&ctx.app.store);
        let matching = store
            .instances
            .values()
            .filter(|i| i.account == account && report_id.is_none_or(|r| r == i.report_id));
        for i in matching.skip((page - 1).saturating_mul(size)).take(size) {
            write_instance(&mut w, ctx, i, today);
        }
    }
    w.close("Instances").close("ReportInstancesResponse");
    Ok(xml(StatusCode::OK, w.finish()))
}

/// A validated create request.
struct CreateRequest {
    format: String,
    parameters: Vec<(String, Vec<String>)>,
    expires_at: Date,
}

fn parse_create(ctx: &Ctx<'_>, report: &ReportDef, body: &str) -> Result<CreateRequest, ApiError> {
    let root = parse(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::MALFORMED_BODY,
            format!("Malformed request body: {e}"),
        )
    })?;
    if root.name != "Instance" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::MALFORMED_BODY,
            format!("Expected an <Instance> element, found <{}>", root.name),
        ));
    }
    let mut problems = Vec::new();
    let format = match root.child_text("OutputFormat") {
        Some(f) if OUTPUT_FORMATS.contains(&f.to_ascii_lowercase().as_str()) => {
            f.to_ascii_lowercase()
        }
        other => {
            problems.push((
                codes::INVALID_FORMAT,
                format!(
                    "OutputFormat {:?} is not one of {}",
                    other.unwrap_or(""),
                    OUTPUT_FORMATS.join(", ")
                ),
            ));
            String::new()
        }
    };
    let mut parameters = Vec::new();
    for p in root.children.iter().filter(|c| c.name == "Parameters") {
        for param in p.children("Parameter") {
            let values = param.children("Value").map(|v| v.text.trim().to_owned());
            match param.child_text("Name") {
                Some(name) if !name.is_empty() => {
                    parameters.push((name.to_owned(), values.collect()))
                }
                _ => problems.push((
                    catalogue::INVALID_PARAMETER,
                    "A Parameter has no Name".to_owned(),
                )),
            }
        }
    }
    problems.extend(catalogue::check_parameters(report, &parameters));
    let today = today();
    let latest = today
        .checked_add(jiff::Span::new().days(MAX_EXPIRY_DAYS))
        .unwrap_or(Date::MAX);
    let expires_at = match root.child_text("ExpiresAt") {
        None => today
            .checked_add(jiff::Span::new().days(i64::from(ctx.config.default_expiry_days)))
            .unwrap_or(latest),
        Some(text) => match parse_date(text) {
            Some(d) if d >= today && d <= latest => d,
            _ => {
                problems.push((
                    codes::INVALID_EXPIRES_AT,
                    format!(
                        "ExpiresAt {text:?} must be a YYYY-MM-DD date from {today} to {latest}"
                    ),
                ));
                today
            }
        },
    };
    if problems.is_empty() {
        Ok(CreateRequest {
            format,
            parameters,
            expires_at,
        })
    } else {
        Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            problems,
        })
    }
}

/// `POST .../reports/{r}/instances`: 201 with an absolute `Location`, no body.
pub(super) fn create(
    ctx: &Ctx<'_>,
    account: &str,
    report: &str,
    principal: &str,
    body: &str,
) -> Result<Resp, ApiError> {
    let def = find_report(report)?;
    let request = parse_create(ctx, def, body)?;
    let config = ctx.config;
    let mut canonical = request.parameters.clone();
    canonical.iter_mut().for_each(|(_, v)| v.sort());
    canonical.sort();
    let key = InstanceKey {
        account: account.to_owned(),
        report_id: def.id,
        format: request.format.clone(),
        parameters: canonical,
    };
    let location = {
        let mut store = lock(&ctx.app.store);
        let id = store.next_instance_id();
        let content_key = format!("instance/{id}");
        let processing = config.processing_time.saturating_add(jitter(
            config.seed,
            &content_key,
            config.processing_jitter,
        ));
        let instance = Instance {
            id,
            account: account.to_owned(),
            report_id: def.id,
            report_name: def.name,
            format: request.format,
            parameters: request.parameters,
            requested_by: principal.to_owned(),
            requested_at: jiff::Timestamp::now(),
            expires_at: request.expires_at,
            created_at: ctx.now,
            ready_at: later(ctx.now, processing),
            ready_lifetime: config.ready_lifetime,
            forced_expired: false,
            seed: config.seed,
            size: size_in(config.size_range_of(def.id), config.seed, &content_key),
        };
        let location = instance.location(&ctx.app.base_url);
        store.instances.insert(id, instance);
        location
    };
    ctx.app.stats.instance_created(key);
    let mut resp = empty(StatusCode::CREATED);
    set_header(&mut resp, CONTENT_TYPE, XML);
    set_header(&mut resp, LOCATION, &location);
    Ok(resp)
}

/// `GET .../instances/{i}`.
pub(super) fn status(
    ctx: &Ctx<'_>,
    account: &str,
    report: &str,
    instance: &str,
) -> Result<Resp, ApiError> {
    let mut w = XmlWriter::new(ctx.config.xml_declaration);
    w.open("ReportInstanceResponse");
    {
        let store = lock(&ctx.app.store);
        write_instance(
            &mut w,
            ctx,
            find_instance(&store, account, report, instance)?,
            today(),
        );
    }
    w.close("ReportInstanceResponse");
    Ok(xml(StatusCode::OK, w.finish()))
}

/// `GET .../instances/{i}/file`: 202 (19048) in progress, 404 (19049) expired, else the file
/// (200) or a 307 to a signed URL on the second origin.
pub(super) fn file(
    ctx: &Ctx<'_>,
    account: &str,
    report: &str,
    instance: &str,
) -> Result<Resp, ApiError> {
    let found = {
        let store = lock(&ctx.app.store);
        find_instance(&store, account, report, instance)?.clone()
    };
    match found.status(ctx.now, today()) {
        InstanceStatus::InProgress => Err(ApiError::new(
            StatusCode::ACCEPTED,
            codes::IN_PROGRESS,
            "Report generation in progress; Output not yet available",
        )),
        InstanceStatus::Expired => Err(not_found(
            codes::EXPIRED,
            "Report output has expired and is no longer available".to_owned(),
        )),
        InstanceStatus::Ready if ctx.config.redirect_files => {
            let mut resp = empty(StatusCode::TEMPORARY_REDIRECT);
            set_header(
                &mut resp,
                LOCATION,
                &super::download::signed_url(ctx, &found),
            );
            Ok(resp)
        }
        InstanceStatus::Ready => Ok(instance_file_response(ctx.app, &found)),
    }
}

/// `200` streaming an instance's file, with `Content-Disposition` and exact `Content-Length`.
pub(crate) fn instance_file_response(app: &App, instance: &Instance) -> Resp {
    let file_name = instance.file_name();
    let content_type = match instance.format.as_str() {
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "xls" => "application/vnd.ms-excel",
        "html" => "text/html",
        _ => "application/octet-stream",
    };
    let tracking = Tracking::new(
        app.stats.clone(),
        instance.location(&app.base_url),
        file_name.clone(),
    );
    let source = Source::generated(instance.seed, &instance.content_key());
    attachment(
        SimBody::file(source, instance.size, tracking),
        content_type,
        &file_name,
    )
}
