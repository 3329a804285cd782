//! The report catalogue: `GET /accounts/{a}/reports` (the list) and
//! `GET /accounts/{a}/reports/{r}` (one report with its parameters).

use serde::Deserialize;

use crate::error::WireError;
use crate::text;
use crate::xml::{read_response, wrapped_list};

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

/// A parameter a report takes. Every field but `name` may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct ReportParameter {
    /// `<Name>`, the name to send in a request's `<Parameter>`.
    #[serde(rename = "Name", deserialize_with = "text::required")]
    pub name: String,
    /// `<Type>`: `Account ID`, `Site ID`, `SipPeer ID`, `String`, `Integer`, `Boolean`,
    /// `Enum`, a date, or a value not listed here.
    #[serde(rename = "Type", default, deserialize_with = "text::optional")]
    pub kind: Option<String>,
    /// `<Required>`, read leniently (`true`/`false` in any case).
    #[serde(rename = "Required", default, deserialize_with = "text::optional_bool")]
    pub required: Option<bool>,
    /// `<Description>`.
    #[serde(rename = "Description", default, deserialize_with = "text::optional")]
    pub description: Option<String>,
    /// `<MultiSelectAllowed>`, read leniently.
    #[serde(
        rename = "MultiSelectAllowed",
        default,
        deserialize_with = "text::optional_bool"
    )]
    pub multi_select_allowed: Option<bool>,
    /// `<HelpInformation>`.
    #[serde(
        rename = "HelpInformation",
        default,
        deserialize_with = "text::optional"
    )]
    pub help_information: Option<String>,
    /// `<ValueFilter>`.
    #[serde(rename = "ValueFilter", default, deserialize_with = "text::optional")]
    pub value_filter: Option<String>,
    /// `<Values>`, the allowed values of an enumerated parameter; empty when absent.
    #[serde(rename = "Values", default, deserialize_with = "parameter_values")]
    pub values: Vec<ParameterValue>,
}

/// An allowed value of a parameter: `Values/Value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct ParameterValue {
    /// `<InternalName>`, the value to send.
    #[serde(rename = "InternalName", default, deserialize_with = "text::optional")]
    pub internal_name: Option<String>,
    /// `<DisplayName>`, the value to show.
    #[serde(rename = "DisplayName", default, deserialize_with = "text::optional")]
    pub display_name: Option<String>,
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

/// `<ReportsResponse>`.
#[derive(Deserialize)]
struct ReportsResponse {
    #[serde(rename = "Reports", default, deserialize_with = "reports")]
    reports: Vec<ReportXml>,
}

/// `<ReportResponse>`.
#[derive(Deserialize)]
struct ReportResponse {
    #[serde(rename = "Report")]
    report: ReportXml,
}

/// Parses the report list (`<ReportsResponse>`); zero, one or many `<Report>`s.
pub fn parse_report_list(body: &[u8]) -> Result<Vec<ReportSummary>, WireError> {
    let response: ReportsResponse = read_response(body, "ReportsResponse", "report list")?;
    Ok(response
        .reports
        .into_iter()
        .map(|report| report.into_parts().0)
        .collect())
}

/// Parses one report's detail (`<ReportResponse>`).
pub fn parse_report_detail(body: &[u8]) -> Result<ReportDetail, WireError> {
    let response: ReportResponse = read_response(body, "ReportResponse", "report detail")?;
    let (summary, parameters) = response.report.into_parts();
    Ok(ReportDetail {
        summary,
        parameters,
    })
}
