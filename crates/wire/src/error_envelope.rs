//! The upstream's error envelopes, found with quick-xml's event reader wherever they sit.
//!
//! Shapes recognised (element names are case-sensitive, namespace prefixes are ignored):
//! - `<AnyRoot><ResponseStatus><ErrorCode>n</ErrorCode><Description>..</Description></ResponseStatus></AnyRoot>`
//! - `<AnyRoot><Error><Code>n</Code><Description>..</Description></Error></AnyRoot>`
//! - `<Errors><Error>..</Error></Errors>` and repeated `<Errors><Code/><Description/></Errors>`
//! - any of these nested inside an otherwise normal `200` body.
//!
//! The first error element to close wins.

use std::fmt;

use quick_xml::events::{BytesStart, Event};

use crate::xml::{decode, push_character_data, reader};

/// An error the upstream reported in its body: its numeric code (when it gave a number) and
/// its description.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub struct UpstreamError {
    /// The `ErrorCode`/`Code`, e.g. `19048`; `None` when absent or not a number.
    pub code: Option<u32>,
    /// The `Description` (trimmed); may be empty when the upstream gave only a code.
    pub description: String,
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "upstream error {code}: {}", self.description),
            None => write!(f, "upstream error: {}", self.description),
        }
    }
}

/// Finds an error envelope in `body`, in any of the documented shapes (also nested inside a
/// `200` body). `None` when the body carries none, or is not XML at all.
pub fn parse_error_envelope(body: &[u8]) -> Option<UpstreamError> {
    find_error(&decode(body))
}

/// An element whose children may describe an error.
struct Container {
    /// The nesting depth of the container element itself.
    depth: usize,
    /// Text of the first code child (`ErrorCode` or `Code`).
    code: Option<String>,
    /// Text of the first `Description` child.
    description: Option<String>,
}

impl Container {
    /// The error this container describes, if it describes one.
    fn into_error(self) -> Option<UpstreamError> {
        let raw_code = self.code.as_deref().map(str::trim).unwrap_or_default();
        let code = raw_code.parse::<u32>().ok();
        let mut description = self
            .description
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if code.is_none() && description.is_empty() {
            // A code that is not a number still says something; keep it as the text.
            description = raw_code.to_owned();
        }
        (code.is_some() || !description.is_empty()).then_some(UpstreamError { code, description })
    }
}

/// Which child of a container is being read.
#[derive(Clone, Copy)]
enum Field {
    /// `ErrorCode` or `Code`.
    Code,
    /// `Description`.
    Description,
}

/// A child of the innermost container whose text is being collected.
struct Collecting {
    field: Field,
    depth: usize,
    text: String,
}

/// `true` for the names of elements that hold an error's code and description.
fn is_container(name: &str) -> bool {
    matches!(name, "ResponseStatus" | "Error" | "Errors")
}

/// Which error field an element named `name` is, if any.
fn field_of(name: &str) -> Option<Field> {
    match name {
        "ErrorCode" | "Code" => Some(Field::Code),
        "Description" => Some(Field::Description),
        _ => None,
    }
}

/// The scan over one document's events.
#[derive(Default)]
struct Scan {
    depth: usize,
    containers: Vec<Container>,
    collecting: Option<Collecting>,
}

impl Scan {
    /// `true` when the innermost container sits `levels` above the current depth.
    fn in_container(&self, levels: usize) -> bool {
        self.containers
            .last()
            .is_some_and(|top| top.depth + levels == self.depth)
    }

    /// An element opened (at `self.depth`, already incremented).
    fn open(&mut self, start: &BytesStart<'_>) {
        if self.collecting.is_some() {
            return; // markup inside a code or description: keep only its text
        }
        let local = start.local_name();
        let name: &str = local.as_ref();
        if is_container(name) {
            self.containers.push(Container {
                depth: self.depth,
                code: None,
                description: None,
            });
        } else if let Some(field) = field_of(name).filter(|_| self.in_container(1)) {
            self.collecting = Some(Collecting {
                field,
                depth: self.depth,
                text: String::new(),
            });
        }
    }

    /// Character data arrived; only a code or description being read keeps it.
    fn text(&mut self, event: &Event<'_>) {
        if let Some(collecting) = &mut self.collecting {
            push_character_data(event, &mut collecting.text);
        }
    }

    /// The element at `self.depth` closed; returns the error it completed, if any.
    fn close(&mut self) -> Option<UpstreamError> {
        let mut found = None;
        match self.collecting.take() {
            Some(collecting) if collecting.depth == self.depth => {
                if let Some(top) = self.containers.last_mut() {
                    let slot = match collecting.field {
                        Field::Code => &mut top.code,
                        Field::Description => &mut top.description,
                    };
                    slot.get_or_insert(collecting.text);
                }
            }
            Some(collecting) => self.collecting = Some(collecting),
            None if self.in_container(0) => {
                found = self.containers.pop().and_then(Container::into_error);
            }
            None => {}
        }
        self.depth = self.depth.saturating_sub(1);
        found
    }
}

/// [`parse_error_envelope`] over already decoded text.
pub(crate) fn find_error(text: &str) -> Option<UpstreamError> {
    let mut reader = reader(text);
    let mut scan = Scan::default();
    loop {
        let event = reader.read_event().ok()?;
        match &event {
            Event::Start(start) => {
                scan.depth += 1;
                scan.open(start);
            }
            Event::Empty(start) => {
                scan.depth += 1;
                scan.open(start);
                if let Some(error) = scan.close() {
                    return Some(error);
                }
            }
            Event::End(_) => {
                if let Some(error) = scan.close() {
                    return Some(error);
                }
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => scan.text(&event),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{UpstreamError, parse_error_envelope};

    fn error(code: Option<u32>, description: &str) -> Option<UpstreamError> {
        Some(UpstreamError {
            code,
            description: description.to_owned(),
        })
    }

    #[test]
    fn display_names_code_and_description() {
        let e = UpstreamError {
            code: Some(19048),
            description: "in progress".to_owned(),
        };
        assert_eq!(e.to_string(), "upstream error 19048: in progress");
        let e = UpstreamError {
            code: None,
            description: "odd".to_owned(),
        };
        assert_eq!(e.to_string(), "upstream error: odd");
    }

    #[test]
    fn markup_inside_a_description_keeps_its_text() {
        let body =
            b"<R><Error><Code>1</Code><Description>a <b>bold</b> move</Description></Error></R>";
        assert_eq!(parse_error_envelope(body), error(Some(1), "a bold move"));
    }

    #[test]
    fn a_code_that_is_not_a_number_becomes_the_text() {
        let body = b"<R><Error><Code>E_BAD</Code></Error></R>";
        assert_eq!(parse_error_envelope(body), error(None, "E_BAD"));
    }

    #[test]
    fn an_error_element_without_code_or_description_is_not_an_error() {
        // Not a documented shape: a flag such as `<Error>false</Error>` must not turn a
        // normal body into a failure.
        assert_eq!(parse_error_envelope(b"<R><Error>false</Error></R>"), None);
    }

    #[test]
    fn an_empty_error_element_is_not_an_error() {
        assert_eq!(
            parse_error_envelope(b"<R><Error/><Errors></Errors></R>"),
            None
        );
    }

    #[test]
    fn code_outside_a_container_is_ignored() {
        let body = b"<R><Code>5</Code><Description>fine</Description></R>";
        assert_eq!(parse_error_envelope(body), None);
    }

    #[test]
    fn grandchildren_are_not_fields() {
        let body =
            b"<R><Error><Detail><Code>5</Code></Detail><Description>x</Description></Error></R>";
        assert_eq!(parse_error_envelope(body), error(None, "x"));
    }
}
