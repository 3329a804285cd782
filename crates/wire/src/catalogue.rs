//! The report catalogue: `GET /accounts/{a}/reports` (the list) and
//! `GET /accounts/{a}/reports/{r}` (one report with its parameters).

use serde::{Deserialize, Serialize, Serializer};

use crate::error::WireError;
use crate::text;
use crate::xml::{DECLARATION, Shape, check_text, read_response, render, wrapped_list};

/// One entry of the report list: `ReportsResponse/Reports/Report`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportSummary {
    /// `<Id>`, e.g. `2`.
    pub id: String,
    /// `<Name>`, e.g. `Full Phone Number Details`.
    pub name: Option<String>,
    /// `<Description>`.
    pub description: Option<String>,
}

/// One report with the parameters it takes: `ReportResponse/Report`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportDetail {
    /// `<Id>`, `<Name>` and `<Description>`, as in the report list.
    pub summary: ReportSummary,
    /// `<Parameters>`, one entry per `<Parameter>`; empty when absent.
    pub parameters: Vec<ReportParameter>,
}

/// A `<Report>` as both catalogue documents carry it (the list without parameters).
#[derive(Deserialize)]
struct ReportXml {
    #[serde(rename = "Id", deserialize_with = "text::required")]
    id: String,
    #[serde(rename = "Name", default, deserialize_with = "text::optional")]
    name: Option<String>,
    #[serde(rename = "Description", default, deserialize_with = "text::optional")]
    description: Option<String>,
    #[serde(rename = "Parameters", default, deserialize_with = "report_parameters")]
    parameters: Vec<ReportParameter>,
}

impl ReportXml {
    /// Splits the report into its summary and its parameters.
    fn into_parts(self) -> (ReportSummary, Vec<ReportParameter>) {
        let summary = ReportSummary {
            id: self.id,
            name: self.name,
            description: self.description,
        };
        (summary, self.parameters)
    }
}

/// A parameter a report takes. Every field but `name` may be absent, and an absent one stays
/// `None`: the upstream did not say (a missing `<Required>` is not "not required").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct ReportParameter {
    /// `<Name>`, the name to send in a request's `<Parameter>`.
    #[serde(rename = "Name", deserialize_with = "text::required")]
    pub name: String,
    /// `<Type>`: `Account ID`, `Site ID`, `SipPeer ID`, `String`, `Integer`, `Boolean`,
    /// `Enum`, a date, or a value not listed here.
    #[serde(
        rename = "Type",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// `<Required>`, read leniently (`true`/`false` in any case).
    #[serde(
        rename = "Required",
        default,
        deserialize_with = "text::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub required: Option<bool>,
    /// `<Description>`.
    #[serde(
        rename = "Description",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// `<MultiSelectAllowed>`, read leniently.
    #[serde(
        rename = "MultiSelectAllowed",
        default,
        deserialize_with = "text::optional_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub multi_select_allowed: Option<bool>,
    /// `<HelpInformation>`.
    #[serde(
        rename = "HelpInformation",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub help_information: Option<String>,
    /// `<ValueFilter>`.
    #[serde(
        rename = "ValueFilter",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub value_filter: Option<String>,
    /// `<Values>`, the allowed values of an enumerated parameter; empty when absent.
    #[serde(
        rename = "Values",
        default,
        deserialize_with = "parameter_values",
        serialize_with = "write_parameter_values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<ParameterValue>,
}

/// An allowed value of a parameter: `Values/Value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct ParameterValue {
    /// `<InternalName>`, the value to send.
    #[serde(
        rename = "InternalName",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub internal_name: Option<String>,
    /// `<DisplayName>`, the value to show.
    #[serde(
        rename = "DisplayName",
        default,
        deserialize_with = "text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
}

/// Writes `<Values><Value>..</Value>*</Values>`.
fn write_parameter_values<S: Serializer>(
    values: &[ParameterValue],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Wrapper<'a> {
        #[serde(rename = "Value")]
        items: &'a [ParameterValue],
    }
    Wrapper { items: values }.serialize(serializer)
}

wrapped_list! {
    /// Reads `<Reports><Report>..</Report>*</Reports>`.
    fn reports -> Vec<ReportXml>, "Report"
}

wrapped_list! {
    /// Reads `<Parameters><Parameter>..</Parameter>*</Parameters>` of a report detail.
    fn report_parameters -> Vec<ReportParameter>, "Parameter"
}

wrapped_list! {
    /// Reads `<Values><Value>..</Value>*</Values>`.
    fn parameter_values -> Vec<ParameterValue>, "Value"
}

/// `<ReportsResponse>`: the reports inside `<Reports>`, or directly under the root (as in
/// php-bandwidth-iris's report detail body, which has this root).
#[derive(Deserialize)]
struct ReportsResponse {
    #[serde(rename = "Reports", default, deserialize_with = "reports")]
    reports: Vec<ReportXml>,
    #[serde(rename = "Report", default)]
    unwrapped: Vec<ReportXml>,
}

/// `<ReportResponse>`.
#[derive(Deserialize)]
struct ReportResponse {
    #[serde(rename = "Report")]
    report: ReportXml,
}

/// What the report list holds.
const REPORT_LIST: Shape = Shape {
    root: "ReportsResponse",
    content: &["Reports", "Report"],
    what: "report list",
};

/// What a report detail holds (php-bandwidth-iris's test body has it under `<ReportsResponse>`).
const REPORT_DETAIL: Shape = Shape {
    root: "ReportResponse",
    content: &["Report"],
    what: "report detail",
};

/// Parses the report list (`<ReportsResponse>`); zero, one or many `<Report>`s, inside
/// `<Reports>` or directly under the root.
pub fn parse_report_list(body: &[u8]) -> Result<Vec<ReportSummary>, WireError> {
    let response: ReportsResponse = read_response(body, &REPORT_LIST)?;
    Ok(response
        .reports
        .into_iter()
        .chain(response.unwrapped)
        .map(|report| report.into_parts().0)
        .collect())
}

/// Parses one report's detail (`<ReportResponse>`, or another root holding one `<Report>`).
pub fn parse_report_detail(body: &[u8]) -> Result<ReportDetail, WireError> {
    let response: ReportResponse = read_response(body, &REPORT_DETAIL)?;
    let (summary, parameters) = response.report.into_parts();
    Ok(ReportDetail {
        summary,
        parameters,
    })
}

/// `<ReportResponse>` as rendered.
#[derive(Serialize)]
#[serde(rename = "ReportResponse")]
struct ReportResponseOut<'a> {
    #[serde(rename = "Report")]
    report: ReportOut<'a>,
}

/// `<Report>` as rendered.
#[derive(Serialize)]
struct ReportOut<'a> {
    #[serde(rename = "Id")]
    id: &'a str,
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "Description", skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(rename = "Parameters")]
    parameters: ParametersOut<'a>,
}

/// `<Parameters>` as rendered.
#[derive(Serialize)]
struct ParametersOut<'a> {
    #[serde(rename = "Parameter")]
    items: &'a [ReportParameter],
}

impl ReportDetail {
    /// Renders the detail as the upstream documents it: the XML declaration, then
    /// `<ReportResponse><Report>..</Report></ReportResponse>`; absent fields are left out.
    /// Fails only for text XML 1.0 cannot carry.
    pub fn to_xml(&self) -> Result<String, WireError> {
        self.check_text()?;
        let body = render(&ReportResponseOut {
            report: ReportOut {
                id: &self.summary.id,
                name: self.summary.name.as_deref(),
                description: self.summary.description.as_deref(),
                parameters: ParametersOut {
                    items: &self.parameters,
                },
            },
        })?;
        Ok(format!("{DECLARATION}{body}"))
    }

    /// Refuses any text of the detail XML 1.0 cannot carry.
    fn check_text(&self) -> Result<(), WireError> {
        let optional = |field, text: &Option<String>| match text {
            Some(text) => check_text(field, text),
            None => Ok(()),
        };
        check_text("report Id", &self.summary.id)?;
        optional("report Name", &self.summary.name)?;
        optional("report Description", &self.summary.description)?;
        for p in &self.parameters {
            check_text("parameter Name", &p.name)?;
            optional("parameter Type", &p.kind)?;
            optional("parameter Description", &p.description)?;
            optional("parameter HelpInformation", &p.help_information)?;
            optional("parameter ValueFilter", &p.value_filter)?;
            for v in &p.values {
                optional("value InternalName", &v.internal_name)?;
                optional("value DisplayName", &v.display_name)?;
            }
        }
        Ok(())
    }
}
