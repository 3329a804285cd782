//! Account report instances: `GET .../instances/{i}` (one) and the instance listings
//! `GET .../reports/{r}/instances` and `GET .../reports/instances`.

use serde::Deserialize;

use crate::error::WireError;
use crate::request::{Parameter, parameter_list};
use crate::status::InstanceStatus;
use crate::text;
use crate::xml::{read_response, wrapped_list};

/// One report instance: `ReportInstanceResponse/Instance` or an entry of
/// `ReportInstancesResponse/Instances`. Everything but `id` may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct Instance {
    /// `<Id>`, e.g. `100102`.
    #[serde(rename = "Id", deserialize_with = "text::required")]
    pub id: String,
    /// `<ReportId>`.
    #[serde(rename = "ReportId", default, deserialize_with = "text::optional")]
    pub report_id: Option<String>,
    /// `<ReportName>`.
    #[serde(rename = "ReportName", default, deserialize_with = "text::optional")]
    pub report_name: Option<String>,
    /// `<OutputFormat>`.
    #[serde(rename = "OutputFormat", default, deserialize_with = "text::optional")]
    pub output_format: Option<String>,
    /// `<RequestedByUserName>`.
    #[serde(
        rename = "RequestedByUserName",
        default,
        deserialize_with = "text::optional"
    )]
    pub requested_by_user_name: Option<String>,
    /// `<RequestedAt>` as the upstream wrote it (e.g. `2020-9-19 11:05:12`, UTC, unpadded).
    #[serde(rename = "RequestedAt", default, deserialize_with = "text::optional")]
    pub requested_at: Option<String>,
    /// `<Parameters>` as the instance echoes them (names and values kept exactly).
    #[serde(rename = "Parameters", default, deserialize_with = "parameter_list")]
    pub parameters: Vec<Parameter>,
    /// `<Status>`; `None` when absent or empty, which means "not ready yet" as well.
    #[serde(rename = "Status", default, deserialize_with = "text::optional_from")]
    pub status: Option<InstanceStatus>,
    /// `<ExpiresAt>` as `YYYY-MM-DD`.
    #[serde(rename = "ExpiresAt", default, deserialize_with = "text::optional")]
    pub expires_at: Option<String>,
}

impl Instance {
    /// `true` when the output can be downloaded now.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_some_and(InstanceStatus::is_ready)
    }
}

wrapped_list! {
    /// Reads `<Instances><Instance>..</Instance>*</Instances>`.
    fn instances -> Vec<Instance>, "Instance"
}

/// `<ReportInstanceResponse>`.
#[derive(Deserialize)]
struct ReportInstanceResponse {
    #[serde(rename = "Instance")]
    instance: Instance,
}

/// `<ReportInstancesResponse>`.
#[derive(Deserialize)]
struct ReportInstancesResponse {
    #[serde(rename = "Instances", default, deserialize_with = "instances")]
    instances: Vec<Instance>,
}

/// Parses one instance's status document (`<ReportInstanceResponse>`).
pub fn parse_instance(body: &[u8]) -> Result<Instance, WireError> {
    let response: ReportInstanceResponse =
        read_response(body, "ReportInstanceResponse", "report instance status")?;
    Ok(response.instance)
}

/// Parses an instance listing page (`<ReportInstancesResponse>`); zero, one or many
/// `<Instance>`s, in the order listed.
pub fn parse_instance_list(body: &[u8]) -> Result<Vec<Instance>, WireError> {
    let response: ReportInstancesResponse =
        read_response(body, "ReportInstancesResponse", "report instance listing")?;
    Ok(response.instances)
}
