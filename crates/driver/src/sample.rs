//! Plausible values for a report's required parameters (for the demo and for trying reports).

use jiff::civil::Date;
use reportflow_wire::ReportDetail;
use std::collections::{BTreeMap, BTreeSet};

/// A value for every required parameter of `detail`, chosen from its type: the account for
/// account ids, `1` for other ids and integers, `true` for booleans, the first allowed value of
/// an enumeration, `today` for dates, `all` for text.
pub fn sample_parameters(
    detail: &ReportDetail,
    account: &str,
    today: Date,
) -> BTreeMap<String, BTreeSet<String>> {
    detail
        .parameters
        .iter()
        .filter(|p| p.required.unwrap_or(false))
        .map(|p| {
            let kind = p.kind.as_deref().unwrap_or("String").to_ascii_lowercase();
            let first_allowed = p.values.iter().find_map(|v| v.internal_name.clone());
            let value = match (kind.as_str(), first_allowed) {
                ("account id", _) => account.to_string(),
                (_, Some(allowed)) => allowed,
                ("site id" | "sippeer id" | "integer", None) => "1".to_string(),
                ("boolean", None) => "true".to_string(),
                (k, None) if k.contains("date") || k.contains("yyyy") => today.to_string(),
                _ => "all".to_string(),
            };
            (p.name.clone(), BTreeSet::from([value]))
        })
        .collect()
}
