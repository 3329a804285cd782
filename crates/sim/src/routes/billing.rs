//! Billing reports: create (201 or 204), status, zip file.

use http::StatusCode;
use http::header::LOCATION;

use super::{Ctx, codes};
use crate::body::{SimBody, Tracking};
use crate::files::{Source, billing_zip, size_in};
use crate::lock;
use crate::response::{ApiError, Resp, XML, attachment, set_header, with_body};
use crate::state::{Billing, BillingStatus, is_uuid, jitter, later};
use crate::stats::BillingKey;
use crate::xml::{XmlWriter, parse, parse_date};

/// The types of the seed.
const SEED_TYPES: [&str; 14] = [
    "BDR",
    "MDR",
    "INVOICE",
    "STMTBDR",
    "DIDSNAP",
    "DIDSNAP_MSG",
    "RECORDINGBDR",
    "RECORDINGSTMTBDR",
    "TRANSCRIPTIONBDR",
    "TRANSCRIPTIONSTMTBDR",
    "CNAMBDR",
    "CNAMSTMTBDR",
    "CONFBDR",
    "CONFSTMTBDR",
];

/// The further types of the spec (plus any `MSG_CAMPAIGN_*`).
const SPEC_TYPES: [&str; 8] = [
    "TFPEERINGSTMTBDR",
    "TNLOOKUPBDR",
    "TNLOOKUPSTMTBDR",
    "AMDBDR",
    "AMDSTMTBDR",
    "SIPURIBDR",
    "SIPURISTMTBDR",
    "UNPROVISIONED_CALLS_BDR",
];

fn known_type(t: &str) -> bool {
    SEED_TYPES.contains(&t)
        || SPEC_TYPES.contains(&t)
        || t.strip_prefix("MSG_CAMPAIGN_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
}

const CONSTRUCTING: &str = "The report archive is currently being constructed.";
const CONSTRUCTED: &str = "The report archive is constructed.";

fn bad(code: u32, description: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, description)
}

fn status_body(ctx: &Ctx<'_>, root: &str, status: &str, description: &str) -> String {
    XmlWriter::new(ctx.config.xml_declaration)
        .open(root)
        .leaf("ReportStatus", status)
        .leaf("Description", description)
        .close(root)
        .finish()
}

/// `POST /accounts/{a}/billingReports`.
pub(super) fn create(ctx: &Ctx<'_>, account: &str, body: &str) -> Result<Resp, ApiError> {
    let root = parse(body).map_err(|e| {
        bad(
            codes::INVALID_BILLING_REQUEST,
            format!("Malformed request body: {e}"),
        )
    })?;
    if root.name != "BillingReport" {
        return Err(bad(
            codes::INVALID_BILLING_REQUEST,
            format!("Expected a <BillingReport> element, found <{}>", root.name),
        ));
    }
    let report_type = root.child_text("Type").unwrap_or("");
    if !known_type(report_type) {
        return Err(bad(
            codes::INVALID_BILLING_REQUEST,
            format!("Report type {report_type:?} is not a billing report type"),
        ));
    }
    let range = root.child("DateRange");
    let date = |name: &str| range.and_then(|r| r.child_text(name)).and_then(parse_date);
    let (Some(start), Some(end)) = (date("StartDate"), date("EndDate")) else {
        return Err(bad(
            codes::INVALID_DATE_RANGE,
            "DateRange needs a StartDate and an EndDate in YYYY-MM-DD format".into(),
        ));
    };
    if start > end {
        return Err(bad(
            codes::INVALID_DATE_RANGE,
            format!("Invalid date range: StartDate {start} is after EndDate {end}"),
        ));
    }
    let key = BillingKey {
        account: account.to_owned(),
        report_type: report_type.to_owned(),
        start: start.to_string(),
        end: end.to_string(),
    };
    let config = ctx.config;
    let no_data = config.no_data.iter().any(|r| {
        r.report_type.as_deref().is_none_or(|t| t == report_type)
            && r.start <= start
            && end <= r.end
    });
    if no_data {
        ctx.app.stats.billing_created(key, true);
        return Ok(crate::response::empty(StatusCode::NO_CONTENT));
    }
    let location = {
        let mut store = lock(&ctx.app.store);
        let id = store.next_billing_id();
        let content_key = format!("billing/{id}");
        let processing = config.billing_processing_time.saturating_add(jitter(
            config.seed,
            &content_key,
            config.processing_jitter,
        ));
        let report = Billing {
            id: id.clone(),
            account: account.to_owned(),
            report_type: report_type.to_owned(),
            start,
            end,
            created: ctx.now,
            ready_at: later(ctx.now, processing),
            lifetime: config.billing_ready_lifetime,
            forced_expired: false,
            seed: config.seed,
            csv_size: size_in(config.billing_file_size, config.seed, &content_key),
        };
        let location = report.location(&ctx.app.base_url);
        store.billing.insert(id, report);
        location
    };
    ctx.app.stats.billing_created(key, false);
    let body = status_body(
        ctx,
        "BillingReportCreationResponse",
        "RECEIVED",
        CONSTRUCTING,
    );
    let mut resp = with_body(StatusCode::CREATED, XML, body);
    set_header(&mut resp, LOCATION, &location);
    Ok(resp)
}

/// The billing report of this account with this id, with its status now.
fn find(ctx: &Ctx<'_>, account: &str, id: &str) -> Result<(Billing, BillingStatus), ApiError> {
    if !is_uuid(id) {
        return Err(bad(codes::NOT_UUID, format!("{id} is not a valid UUID")));
    }
    let store = lock(&ctx.app.store);
    let report = store
        .billing
        .get(id)
        .filter(|b| b.account == account)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                codes::BILLING_NOT_FOUND,
                format!("Billing report {id} not found"),
            )
        })?;
    match report.status(ctx.now) {
        BillingStatus::Deleted => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::BILLING_DELETED,
            format!("Billing report {id} has already been deleted"),
        )),
        status => Ok((report.clone(), status)),
    }
}

/// `GET {location}`.
pub(super) fn status(ctx: &Ctx<'_>, account: &str, id: &str) -> Result<Resp, ApiError> {
    let (_, status) = find(ctx, account, id)?;
    let (literal, description) = match status {
        BillingStatus::Received => ("RECEIVED", CONSTRUCTING),
        BillingStatus::Processing => ("PROCESSING", CONSTRUCTING),
        _ if ctx.config.billing_complete_short => ("COMPLETE", CONSTRUCTED),
        _ => ("COMPLETED", CONSTRUCTED),
    };
    let body = status_body(ctx, "BillingReportRetrievalResponse", literal, description);
    Ok(with_body(StatusCode::OK, XML, body))
}

/// `GET {location}/file`: the zip, served as `application/xml` like the upstream does.
pub(super) fn file(ctx: &Ctx<'_>, account: &str, id: &str) -> Result<Resp, ApiError> {
    let (report, status) = find(ctx, account, id)?;
    if status != BillingStatus::Completed {
        return Err(bad(
            codes::BILLING_NOT_READY,
            format!("Billing report {id} is still being constructed"),
        ));
    }
    let zip = billing_zip_of(&report)?;
    let tracking = Tracking::new(
        ctx.app.stats.clone(),
        report.location(&ctx.app.base_url),
        report.file_name(),
    );
    let total = zip.len() as u64;
    Ok(attachment(
        SimBody::file(Source::Bytes(zip), total, tracking),
        XML,
        &report.file_name(),
    ))
}

/// The zip of a billing report.
pub(crate) fn billing_zip_of(report: &Billing) -> Result<bytes::Bytes, ApiError> {
    billing_zip(
        report.seed,
        &report.id,
        &report.csv_name(),
        report.start,
        report.csv_size,
    )
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::REMOTE_UNAVAILABLE,
            format!("Cannot build the archive: {e}"),
        )
    })
}
