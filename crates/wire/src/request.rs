//! The request bodies reportflow sends: the account report `<Instance>` and the
//! `<BillingReport>`. Both render to XML strings and parse back to the same value.
//!
//! Text is kept exactly (no trimming) so that a body round-trips; `&`, `<` and `>` are escaped
//! and a carriage return is written as `&#13;`. Characters XML 1.0 cannot carry (other control
//! characters, U+FFFE, U+FFFF) are refused when rendering.

use serde::{Deserialize, Serialize};

use crate::error::WireError;
use crate::xml::{Shape, check_text, decode, read_shape, render, wrapped_list};

/// One report parameter as sent in a request (and echoed in an instance): a name and its
/// values. A multi-valued parameter repeats `<Value>` inside one `<Parameter>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Parameter {
    /// The parameter's `<Name>`, e.g. `AccountId`.
    #[serde(rename = "Name")]
    pub name: String,
    /// Its `<Value>`s, in order.
    #[serde(rename = "Value", default)]
    pub values: Vec<String>,
}

wrapped_list! {
    /// Reads `<Parameters><Parameter>..</Parameter>*</Parameters>`.
    pub(crate) fn parameter_list -> Vec<Parameter>, "Parameter"
}

/// Writes `<Parameters><Parameter>..</Parameter>*</Parameters>`.
fn write_parameter_list<S: serde::Serializer>(
    parameters: &[Parameter],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Wrapper<'a> {
        #[serde(rename = "Parameter")]
        items: &'a [Parameter],
    }
    Wrapper { items: parameters }.serialize(serializer)
}

/// What an account report request holds.
const INSTANCE_REQUEST: Shape = Shape {
    root: "Instance",
    content: &["OutputFormat"],
    what: "report instance request",
};

/// What a billing report request holds.
const BILLING_REQUEST: Shape = Shape {
    root: "BillingReport",
    content: &["DateRange"],
    what: "billing report request",
};

/// The body of `POST /accounts/{a}/reports/{r}/instances`:
/// `<Instance><OutputFormat/><Parameters/><ExpiresAt/></Instance>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "Instance")]
pub struct InstanceRequest {
    /// `<OutputFormat>`, e.g. `pdf`, `csv`, `xls`.
    #[serde(rename = "OutputFormat")]
    pub output_format: String,
    /// `<Parameters>`, one `<Parameter>` each.
    #[serde(
        rename = "Parameters",
        default,
        serialize_with = "write_parameter_list",
        deserialize_with = "parameter_list"
    )]
    pub parameters: Vec<Parameter>,
    /// `<ExpiresAt>` as `YYYY-MM-DD`; omitted when `None`.
    #[serde(rename = "ExpiresAt", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl InstanceRequest {
    /// Renders the body. Fails only for text XML 1.0 cannot carry.
    pub fn to_xml(&self) -> Result<String, WireError> {
        check_text("OutputFormat", &self.output_format)?;
        for parameter in &self.parameters {
            check_text("parameter Name", &parameter.name)?;
            for value in &parameter.values {
                check_text("parameter Value", value)?;
            }
        }
        if let Some(expires_at) = &self.expires_at {
            check_text("ExpiresAt", expires_at)?;
        }
        render(self)
    }

    /// Parses a body rendered by [`InstanceRequest::to_xml`] (or any `<Instance>` request).
    pub fn from_xml(body: &[u8]) -> Result<Self, WireError> {
        read_shape(&decode(body), &INSTANCE_REQUEST)
    }
}

/// The body of `POST /accounts/{a}/billingReports`:
/// `<BillingReport><Type/><DateRange><StartDate/><EndDate/></DateRange></BillingReport>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BillingReportRequest {
    /// `<Type>`, e.g. `BDR`.
    pub report_type: String,
    /// `<StartDate>` as `YYYY-MM-DD`.
    pub start_date: String,
    /// `<EndDate>` as `YYYY-MM-DD`.
    pub end_date: String,
}

/// The XML shape of [`BillingReportRequest`].
#[derive(Serialize, Deserialize)]
#[serde(rename = "BillingReport")]
struct BillingReportXml {
    #[serde(rename = "Type")]
    report_type: String,
    #[serde(rename = "DateRange")]
    date_range: DateRangeXml,
}

/// `<DateRange>` of [`BillingReportXml`].
#[derive(Serialize, Deserialize)]
struct DateRangeXml {
    #[serde(rename = "StartDate")]
    start_date: String,
    #[serde(rename = "EndDate")]
    end_date: String,
}

impl BillingReportRequest {
    /// Renders the body. Fails only for text XML 1.0 cannot carry.
    pub fn to_xml(&self) -> Result<String, WireError> {
        check_text("Type", &self.report_type)?;
        check_text("StartDate", &self.start_date)?;
        check_text("EndDate", &self.end_date)?;
        render(&BillingReportXml {
            report_type: self.report_type.clone(),
            date_range: DateRangeXml {
                start_date: self.start_date.clone(),
                end_date: self.end_date.clone(),
            },
        })
    }

    /// Parses a body rendered by [`BillingReportRequest::to_xml`] (or any `<BillingReport>`).
    pub fn from_xml(body: &[u8]) -> Result<Self, WireError> {
        let xml: BillingReportXml = read_shape(&decode(body), &BILLING_REQUEST)?;
        Ok(BillingReportRequest {
            report_type: xml.report_type,
            start_date: xml.date_range.start_date,
            end_date: xml.date_range.end_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{BillingReportRequest, InstanceRequest, Parameter};
    use crate::WireError;

    #[test]
    fn control_characters_are_refused() {
        let request = InstanceRequest {
            output_format: "pdf".to_owned(),
            parameters: vec![Parameter {
                name: "A".to_owned(),
                values: vec!["x\u{1}y".to_owned()],
            }],
            expires_at: None,
        };
        match request.to_xml() {
            Err(WireError::Render(message)) => {
                assert!(message.contains("parameter Value"), "{message}");
                assert!(message.contains("U+0001"), "{message}");
            }
            other => panic!("expected a render error, got {other:?}"),
        }
        let billing = BillingReportRequest {
            report_type: "BDR\u{0}".to_owned(),
            start_date: "2020-05-21".to_owned(),
            end_date: "2020-05-29".to_owned(),
        };
        assert!(matches!(billing.to_xml(), Err(WireError::Render(m)) if m.contains("Type")));
    }

    #[test]
    fn carriage_returns_survive_a_round_trip() {
        let request = InstanceRequest {
            output_format: "a\r\nb\rc".to_owned(),
            parameters: vec![],
            expires_at: Some(String::new()),
        };
        let xml = request.to_xml().expect("renders");
        assert_eq!(InstanceRequest::from_xml(xml.as_bytes()), Ok(request));
    }
}
