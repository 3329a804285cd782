//! Finding the instance a crashed create may have made, in the account's instance listing.

use crate::api::Api;
use crate::call::CallError;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use reportflow_core::{AccountReportSpec, JobId, Millis};
use reportflow_wire::Instance;
use std::collections::{BTreeMap, BTreeSet};

/// Instances per listing page.
const PAGE_SIZE: u32 = 100;
/// Pages read at the most.
const MAX_PAGES: u32 = 1_000;
/// Clock difference tolerated between us and the upstream, in milliseconds.
const CLOCK_SLACK_MS: u64 = 5 * 60 * 1000;

/// Parses `RequestedAt` as the upstream writes it (`2020-9-19 11:05:12`, UTC, no padding).
pub(crate) fn parse_requested_at(text: &str) -> Option<Millis> {
    let numbers: Vec<i64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let [y, mo, d, h, mi, s] = numbers[..] else {
        return None;
    };
    let civil = DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(s).ok()?,
        0,
    )
    .ok()?;
    let ts = Offset::UTC.to_timestamp(civil).ok()?;
    u64::try_from(ts.as_millisecond()).ok().map(Millis)
}

/// True when `instance` is this spec's report, requested at or after `since`.
fn matches(spec: &AccountReportSpec, instance: &Instance, since: Millis) -> bool {
    let report =
        instance.report_id.as_deref().map(str::trim) == Some(spec.report_id.to_string().as_str());
    let format = instance
        .output_format
        .as_deref()
        .is_some_and(|f| f.trim().eq_ignore_ascii_case(spec.format.as_str()));
    let params: BTreeMap<String, BTreeSet<String>> = instance
        .parameters
        .iter()
        .map(|p| (p.name.clone(), p.values.iter().cloned().collect()))
        .collect();
    let recent = instance
        .requested_at
        .as_deref()
        .and_then(parse_requested_at)
        .is_some_and(|at| at.0 + CLOCK_SLACK_MS >= since.0);
    report && format && params == spec.params && recent
}

/// The location of an instance of `spec` requested at or after `since`, if the listing has one.
pub(crate) async fn find(
    api: &Api,
    id: JobId,
    spec: &AccountReportSpec,
    since: Millis,
) -> Result<Option<String>, CallError> {
    for page in 1..=MAX_PAGES {
        let instances = api
            .instances(id, &spec.account, spec.report_id, page, PAGE_SIZE)
            .await?;
        if let Some(found) = instances.iter().find(|i| matches(spec, i, since)) {
            return Ok(Some(api.instance_location(
                &spec.account,
                spec.report_id,
                &found.id,
            )));
        }
        if instances.len() < PAGE_SIZE as usize {
            break;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_at_is_read_as_the_upstream_writes_it() {
        assert_eq!(parse_requested_at("1970-1-1 00:00:01"), Some(Millis(1000)));
        assert_eq!(
            parse_requested_at("2020-9-19 11:05:12"),
            Some(Millis(1_600_513_512_000))
        );
        assert_eq!(
            parse_requested_at("2020-09-19 11:05:12"),
            Some(Millis(1_600_513_512_000))
        );
        assert_eq!(parse_requested_at("yesterday"), None);
        assert_eq!(parse_requested_at("2020-13-01 00:00:00"), None);
    }
}
