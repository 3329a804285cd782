//! Account report instances: `GET .../instances/{i}` (one) and the instance listings
//! `GET .../reports/{r}/instances` and `GET .../reports/instances`.

use serde::Deserialize;

use crate::error::WireError;
use crate::request::{Parameter, parameter_list};
use crate::status::InstanceStatus;
use crate::text;
use crate::xml::{Shape, read_response, wrapped_list};

/// One report instance: `ReportInstanceResponse/Instance` or an entry of
/// `ReportInstancesResponse/Instances`. Everything but `id` may be absent from a listing's
/// entry; [`parse_instance`] also requires the `status`.
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
    /// `<Status>`; always `Some` from [`parse_instance`] (a status document without one is
    /// refused); `None` in a listing's entry that has none (or an empty one).
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

/// What an instance status document holds.
const INSTANCE: Shape = Shape {
    root: "ReportInstanceResponse",
    content: &["Instance"],
    what: "report instance status",
};

/// What an instance listing holds.
const INSTANCE_LIST: Shape = Shape {
    root: "ReportInstancesResponse",
    content: &["Instances"],
    what: "report instance listing",
};

/// Parses one instance's status document (`<ReportInstanceResponse>`, or another root holding
/// one `<Instance>`). The instance must have a `<Status>`: it is what the document is asked for.
pub fn parse_instance(body: &[u8]) -> Result<Instance, WireError> {
    let response: ReportInstanceResponse = read_response(body, &INSTANCE)?;
    if response.instance.status.is_none() {
        return Err(WireError::malformed(
            INSTANCE.what,
            format!(
                "instance {} has no <Status> (or an empty one)",
                response.instance.id
            ),
        ));
    }
    Ok(response.instance)
}

/// Parses an instance listing page (`<ReportInstancesResponse>`); zero, one or many
/// `<Instance>`s, in the order listed (the same id twice gives two entries).
pub fn parse_instance_list(body: &[u8]) -> Result<Vec<Instance>, WireError> {
    let response: ReportInstancesResponse = read_response(body, &INSTANCE_LIST)?;
    Ok(response.instances)
}
