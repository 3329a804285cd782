//! The crate's single error type.

use crate::error_envelope::UpstreamError;

/// Everything that can go wrong turning bytes into our values or values into XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body carried one of the upstream's error envelopes (also inside a `200` body).
    #[error(transparent)]
    Upstream(UpstreamError),

    /// The body is not the documented shape of the document we expected.
    #[error(
        "could not read the {what} XML: {detail}; the upstream answered something that is not \
         the documented shape (check the base URL and the endpoint, and report the body if it persists)"
    )]
    Malformed {
        /// Which document we tried to read, e.g. `"report instance status"`.
        what: &'static str,
        /// What the XML reader or the shape check found.
        detail: String,
    },

    /// A request body could not be rendered; the message says which value is at fault.
    #[error("could not render a request body: {0}")]
    Render(String),
}

impl WireError {
    /// A [`WireError::Malformed`] for the document `what`.
    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        WireError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<UpstreamError> for WireError {
    fn from(error: UpstreamError) -> Self {
        WireError::Upstream(error)
    }
}
