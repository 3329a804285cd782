//! The 18 account reports of the seed, their parameters, and validation of instance parameters.

/// The type of a report parameter, as rendered in `<Type>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamKind {
    AccountId,
    SiteId,
    SipPeerId,
    Text,
    Integer,
    Boolean,
    Enum,
    Date,
}

impl ParamKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            ParamKind::AccountId => "Account ID",
            ParamKind::SiteId => "Site ID",
            ParamKind::SipPeerId => "SipPeer ID",
            ParamKind::Text => "String",
            ParamKind::Integer => "Integer",
            ParamKind::Boolean => "Boolean",
            ParamKind::Enum => "Enum",
            ParamKind::Date => "Date",
        }
    }
}

/// One parameter of a report.
#[derive(Debug)]
pub(crate) struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    pub description: &'static str,
    pub multi: bool,
    pub help: Option<&'static str>,
    pub value_filter: Option<&'static str>,
    /// `(InternalName, DisplayName)` of the allowed values of an `Enum`.
    pub values: &'static [(&'static str, &'static str)],
}

/// One account report.
#[derive(Debug)]
pub(crate) struct ReportDef {
    pub id: u32,
    pub name: &'static str,
    pub description: &'static str,
    pub params: &'static [ParamDef],
}

const fn param(
    name: &'static str,
    kind: ParamKind,
    required: bool,
    description: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        kind,
        required,
        description,
        multi: false,
        help: None,
        value_filter: None,
        values: &[],
    }
}

const ACCOUNT: ParamDef = ParamDef {
    help: Some("The account the report covers."),
    ..param(
        "AccountId",
        ParamKind::AccountId,
        true,
        "Account the report is about",
    )
};
const SITE: ParamDef = ParamDef {
    value_filter: Some("AccountId"),
    ..param(
        "SiteId",
        ParamKind::SiteId,
        false,
        "Limit the report to one sub-account (site)",
    )
};
const SIP_PEER: ParamDef = ParamDef {
    value_filter: Some("SiteId"),
    ..param(
        "SipPeerId",
        ParamKind::SipPeerId,
        false,
        "Limit the report to one SIP peer (location)",
    )
};
const START: ParamDef = ParamDef {
    help: Some("YYYY-MM-DD"),
    ..param(
        "StartDate",
        ParamKind::Date,
        true,
        "First day covered by the report",
    )
};
const END: ParamDef = ParamDef {
    help: Some("YYYY-MM-DD"),
    ..param(
        "EndDate",
        ParamKind::Date,
        true,
        "Last day covered by the report",
    )
};
const TN_STATUS: ParamDef = ParamDef {
    multi: true,
    values: &[
        ("Inservice", "In service"),
        ("Available", "Available"),
        ("Aging", "Aging"),
        ("PortInPendingFoc", "Port-in pending FOC"),
    ],
    ..param(
        "TnStatus",
        ParamKind::Enum,
        false,
        "Only numbers in these statuses",
    )
};
const ORDER_STATUS: ParamDef = ParamDef {
    multi: true,
    values: &[
        ("COMPLETE", "Complete"),
        ("PENDING", "Pending"),
        ("CANCELLED", "Cancelled"),
        ("FAILED", "Failed"),
    ],
    ..param(
        "OrderStatus",
        ParamKind::Enum,
        false,
        "Only orders in these statuses",
    )
};

/// The reports of the seed, in its order.
pub(crate) static REPORTS: [ReportDef; 18] = [
    ReportDef {
        id: 2,
        name: "Full Phone Number Details",
        description: "Complete information about all phone numbers within the report’s scope",
        params: &[ACCOUNT, SITE, SIP_PEER, TN_STATUS],
    },
    ReportDef {
        id: 4,
        name: "Phone Number Inventory",
        description: "A list of all phone numbers associated with an account",
        params: &[ACCOUNT, SITE],
    },
    ReportDef {
        id: 6,
        name: "E911 Phone Number Details",
        description: "E911 information associated with phone numbers within the report’s scope",
        params: &[ACCOUNT, SITE, SIP_PEER],
    },
    ReportDef {
        id: 8,
        name: "Port-out Orders",
        description: "Phone number details for historic or current port-out orders",
        params: &[ACCOUNT, START, END, ORDER_STATUS],
    },
    ReportDef {
        id: 14,
        name: "Port-in Orders",
        description: "Phone number details for historic or current port-in orders",
        params: &[ACCOUNT, START, END, ORDER_STATUS],
    },
    ReportDef {
        id: 16,
        name: "UC Account Summary",
        description: "Detailed account information for a given UC account",
        params: &[
            ACCOUNT,
            ParamDef {
                help: Some("The UC account identifier, as shown in the dashboard"),
                ..param("UcAccount", ParamKind::Text, true, "The UC account")
            },
        ],
    },
    ReportDef {
        id: 24,
        name: "User Information",
        description: "Information about all active and inactive users for a given account",
        params: &[
            ACCOUNT,
            param(
                "IncludeInactive",
                ParamKind::Boolean,
                false,
                "Also list inactive users",
            ),
        ],
    },
    ReportDef {
        id: 30,
        name: "Disconnected Phone Numbers",
        description: "Information about all phone numbers that have been disconnected from the account",
        params: &[ACCOUNT, START, END],
    },
    ReportDef {
        id: 31,
        name: "External Phone Number Details",
        description: "Complete information about customer provided phone numbers within the report’s scope",
        params: &[ACCOUNT, SITE],
    },
    ReportDef {
        id: 34,
        name: "End-User Phone Number Assignment",
        description: "A list of phone numbers and their end-user assignment statuses",
        params: &[
            ACCOUNT,
            ParamDef {
                values: &[("ASSIGNED", "Assigned"), ("UNASSIGNED", "Unassigned")],
                ..param(
                    "AssignmentStatus",
                    ParamKind::Enum,
                    false,
                    "Only numbers with this assignment status",
                )
            },
        ],
    },
    ReportDef {
        id: 36,
        name: "Alternate Caller ID E911 Report",
        description: "E911 detail information for accounts that use an alternative identifier for the end user",
        params: &[ACCOUNT],
    },
    ReportDef {
        id: 42,
        name: "E911 Addresses",
        description: "A list of all E911 addresses provisioned to an account. The list of addresses shown are only for Dynamic Location Routing-enabled accounts.",
        params: &[ACCOUNT, SITE],
    },
    ReportDef {
        id: 47,
        name: "Number Utilization Telephone Number List Report",
        description: "This report will list all of the Telephone Numbers that appear to be under-utilized and unassigned",
        params: &[
            ACCOUNT,
            ParamDef {
                help: Some("Whole number of days, e.g. 90"),
                ..param(
                    "InactiveDays",
                    ParamKind::Integer,
                    true,
                    "Days without traffic before a number counts as under-utilized",
                )
            },
        ],
    },
    ReportDef {
        id: 48,
        name: "Iris Account Number Utilization Report",
        description: "This account report will provide insight into the current utilization and assignment data associated with the Bandwidth Dashboard TN inventory",
        params: &[ACCOUNT, SITE, START, END],
    },
    ReportDef {
        id: 50,
        name: "Protected Phone Numbers Report",
        description: "This report will provide a simple report that lists all of the protected TNs on an account, as well as their status",
        params: &[ACCOUNT],
    },
    ReportDef {
        id: 59,
        name: "New Numbers",
        description: "Phone number details for historic or current new number orders",
        params: &[ACCOUNT, START, END, ORDER_STATUS],
    },
    ReportDef {
        id: 64,
        name: "International TN Inventory Summary",
        description: "Summary of international telephone numbers",
        params: &[
            ACCOUNT,
            ParamDef {
                multi: true,
                help: Some("ISO 3166 alpha-3 country codes, e.g. GBR"),
                ..param(
                    "Country",
                    ParamKind::Text,
                    false,
                    "Only numbers in these countries",
                )
            },
        ],
    },
    ReportDef {
        id: 65,
        name: "Telephone Number Route Plan Report",
        description: "This report lists all of the route plans that are active for the indicated account",
        params: &[ACCOUNT, SIP_PEER],
    },
];

/// The report with this id.
pub(crate) fn report(id: u32) -> Option<&'static ReportDef> {
    REPORTS.iter().find(|r| r.id == id)
}

/// Output formats accepted on create (case-insensitive); instances echo them in lower case.
pub(crate) const OUTPUT_FORMATS: [&str; 4] = ["pdf", "csv", "xls", "html"];

/// A problem found in a create request: an error code and its description.
pub(crate) type Problem = (u32, String);

/// Missing required parameter.
pub(crate) const MISSING_PARAMETER: u32 = 19032;
/// Unknown parameter or invalid value (chosen by the simulator; not published upstream).
pub(crate) const INVALID_PARAMETER: u32 = 19033;

fn valid_value(kind: ParamKind, def: &ParamDef, value: &str) -> bool {
    match kind {
        ParamKind::AccountId | ParamKind::SiteId | ParamKind::SipPeerId | ParamKind::Integer => {
            !value.is_empty() && value.len() <= 18 && value.bytes().all(|b| b.is_ascii_digit())
        }
        ParamKind::Boolean => {
            value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
        }
        ParamKind::Enum => def.values.iter().any(|(internal, _)| *internal == value),
        ParamKind::Date => crate::xml::parse_date(value).is_some(),
        ParamKind::Text => !value.trim().is_empty(),
    }
}

/// Checks the parameters of a create against the report's definitions; returns every problem.
pub(crate) fn check_parameters(
    report: &ReportDef,
    params: &[(String, Vec<String>)],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, (name, values)) in params.iter().enumerate() {
        let Some(def) = report.params.iter().find(|d| d.name == name) else {
            problems.push((
                INVALID_PARAMETER,
                format!(
                    "Parameter {name} is not a parameter of report {}",
                    report.id
                ),
            ));
            continue;
        };
        if params[..i].iter().any(|(n, _)| n == name) {
            problems.push((
                INVALID_PARAMETER,
                format!("Parameter {name} is given more than once"),
            ));
        } else if values.is_empty() {
            problems.push((INVALID_PARAMETER, format!("Parameter {name} has no value")));
        } else if values.len() > 1 && !def.multi {
            problems.push((
                INVALID_PARAMETER,
                format!("Parameter {name} takes one value, {} given", values.len()),
            ));
        } else if let Some(bad) = values.iter().find(|v| !valid_value(def.kind, def, v)) {
            problems.push((
                INVALID_PARAMETER,
                format!(
                    "Value {bad:?} is not a valid {} for parameter {name}",
                    def.kind.label()
                ),
            ));
        }
    }
    for def in report.params.iter().filter(|d| d.required) {
        if !params.iter().any(|(n, _)| n == def.name) {
            problems.push((
                MISSING_PARAMETER,
                format!("Required parameter {} is missing", def.name),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_reports_with_unique_ids() {
        let mut ids: Vec<u32> = REPORTS.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 18);
        assert!(REPORTS.iter().all(|r| r.params[0].name == "AccountId"));
    }

    #[test]
    fn parameter_checks() {
        let r = report(8).expect("report 8");
        let ok = vec![
            ("AccountId".to_string(), vec!["1".to_string()]),
            ("StartDate".to_string(), vec!["2024-01-01".to_string()]),
            ("EndDate".to_string(), vec!["2024-01-31".to_string()]),
            (
                "OrderStatus".to_string(),
                vec!["COMPLETE".to_string(), "PENDING".to_string()],
            ),
        ];
        assert!(check_parameters(r, &ok).is_empty());
        let bad = vec![
            ("AccountId".to_string(), vec!["x".to_string()]),
            ("Bogus".to_string(), vec!["1".to_string()]),
        ];
        let problems = check_parameters(r, &bad);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.0 == MISSING_PARAMETER));
    }
}
