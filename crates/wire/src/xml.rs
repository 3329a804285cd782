//! Machinery shared by the parsers and renderers: bytes to text, character data from events,
//! the shape check (root element and content), the typed-document entry point every response
//! parser goes through, and rendering with its text check.

use std::borrow::Cow;

use std::sync::{Mutex, PoisonError};

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::WireError;
use crate::error_envelope::find_error;

/// The body as text: UTF-8 (invalid sequences replaced), without a byte-order mark.
pub(crate) fn decode(body: &[u8]) -> Cow<'_, str> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    String::from_utf8_lossy(body)
}

/// An event reader over `text`.
pub(crate) fn reader(text: &str) -> Reader<&[u8]> {
    Reader::from_str(text)
}

/// Appends the character data `event` carries to `out`: text (end-of-lines normalized),
/// CDATA, or a character or predefined entity reference (an unknown one is kept as written).
pub(crate) fn push_character_data(event: &Event<'_>, out: &mut String) {
    match event {
        Event::Text(text) => out.push_str(&text.xml10_content()),
        Event::CData(cdata) => out.push_str(&cdata.xml10_content()),
        Event::GeneralRef(reference) => {
            let resolved = match reference.resolve_char_ref() {
                Ok(Some(ch)) => Some(Cow::Owned(ch.to_string())),
                Ok(None) => resolve_predefined_entity(reference).map(Cow::Borrowed),
                Err(_) => None,
            };
            match resolved {
                Some(text) => out.push_str(&text),
                None => {
                    out.push('&');
                    out.push_str(reference);
                    out.push(';');
                }
            }
        }
        _ => {}
    }
}

/// The local name of the first element of `text`, `None` when it holds no element.
fn root_name(text: &str) -> Result<Option<String>, quick_xml::Error> {
    let mut reader = reader(text);
    loop {
        match reader.read_event()? {
            Event::Start(start) | Event::Empty(start) => {
                return Ok(Some(local_name(&start)));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// The local name of an element, as text.
fn local_name(start: &BytesStart<'_>) -> String {
    let local = start.local_name();
    let name: &str = local.as_ref();
    name.to_owned()
}

/// `true` when the root element of `text` has a child named one of `names`.
fn root_has_child(text: &str, names: &[&str]) -> Result<bool, quick_xml::Error> {
    let mut reader = reader(text);
    let mut depth = 0usize;
    loop {
        match reader.read_event()? {
            Event::Start(start) => {
                if depth == 1 && names.contains(&local_name(&start).as_str()) {
                    return Ok(true);
                }
                depth += 1;
            }
            Event::Empty(start) if depth == 1 && names.contains(&local_name(&start).as_str()) => {
                return Ok(true);
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(false);
                }
            }
            Event::Eof => return Ok(false),
            _ => {}
        }
    }
}

/// How many distinct (document, root) pairs [`note_other_root`] remembers; past that it stays
/// silent rather than grow with whatever an upstream sends.
const NOTED_ROOTS_LIMIT: usize = 64;

/// The (document, root) pairs already logged by [`note_other_root`].
static NOTED_ROOTS: Mutex<Vec<(&str, String)>> = Mutex::new(Vec::new());

/// Logs, once per process for each document and root name, that a body was read although its
/// root element is not the documented one; `true` when it logged.
fn note_other_root(what: &'static str, found: &str, expected: &'static str) -> bool {
    let mut noted = NOTED_ROOTS.lock().unwrap_or_else(PoisonError::into_inner);
    if noted.len() >= NOTED_ROOTS_LIMIT || noted.iter().any(|(w, r)| *w == what && r == found) {
        return false;
    }
    noted.push((what, found.to_owned()));
    tracing::debug!(
        "read the {what} although its root element is <{found}>, not the documented <{expected}> \
         (its content is what a {what} holds; logged once)"
    );
    true
}

/// What a document must hold to be read: its documented root element, and the children that
/// carry its content. The root's name is checked only loosely: a body whose root has another
/// name is read all the same when the root holds one of `content` (Bandwidth's own SDK ignores
/// the root's name, and its test bodies differ from the spec in it).
pub(crate) struct Shape {
    /// The documented root element, e.g. `ReportResponse`.
    pub root: &'static str,
    /// The children of the root, one of which must be present when the root has another name.
    pub content: &'static [&'static str],
    /// Which document this is, for messages, e.g. `"report detail"`.
    pub what: &'static str,
}

/// Reads `text` as the document `shape` describes.
pub(crate) fn read_shape<T: DeserializeOwned>(text: &str, shape: &Shape) -> Result<T, WireError> {
    let what = shape.what;
    match root_name(text) {
        Ok(Some(name)) if name == shape.root => {}
        Ok(Some(name)) => match root_has_child(text, shape.content) {
            Ok(true) => {
                note_other_root(what, &name, shape.root);
            }
            Ok(false) => {
                return Err(WireError::malformed(
                    what,
                    format!(
                        "the root element is <{name}>, expected <{}>, and it holds no <{}>",
                        shape.root,
                        shape.content.join("> or <")
                    ),
                ));
            }
            Err(error) => return Err(WireError::malformed(what, error)),
        },
        Ok(None) => return Err(WireError::malformed(what, "the body holds no XML element")),
        Err(error) => return Err(WireError::malformed(what, error)),
    }
    quick_xml::de::from_str(text).map_err(|error| WireError::malformed(what, error))
}

/// Reads a response body: an error envelope anywhere in it wins (as [`WireError::Upstream`]),
/// otherwise it must be the document `shape` describes.
pub(crate) fn read_response<T: DeserializeOwned>(
    body: &[u8],
    shape: &Shape,
) -> Result<T, WireError> {
    let text = decode(body);
    if let Some(error) = find_error(&text) {
        return Err(WireError::Upstream(error));
    }
    read_shape(&text, shape)
}

/// The declaration the upstream starts its bodies with (and so do rendered documents).
pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// Serializes a body with quick-xml.
pub(crate) fn render<T: Serialize>(body: &T) -> Result<String, WireError> {
    quick_xml::se::to_string(body).map_err(|error| WireError::Render(error.to_string()))
}

/// Refuses text XML 1.0 cannot carry: control characters other than tab, line feed and
/// carriage return, and the non-characters U+FFFE and U+FFFF.
pub(crate) fn check_text(field: &'static str, text: &str) -> Result<(), WireError> {
    let bad = text.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    });
    match bad {
        None => Ok(()),
        Some(c) => Err(WireError::Render(format!(
            "the {field} {text:?} contains the character U+{:04X}, which XML 1.0 cannot carry; \
             remove it from the job's input",
            u32::from(c)
        ))),
    }
}

/// Defines a `deserialize_with` function reading a wrapper element (such as `<Reports>`) into
/// the `Vec` of its `<tag>` children. Absent, empty, one or many children all parse; children
/// with other names are skipped.
macro_rules! wrapped_list {
    ($(#[$meta:meta])* $vis:vis fn $name:ident -> Vec<$item:ty>, $tag:literal) => {
        $(#[$meta])*
        $vis fn $name<'de, D>(deserializer: D) -> Result<Vec<$item>, D::Error>
        where
            D: serde::Deserializer<'de>,
        {
            #[derive(serde::Deserialize)]
            struct Wrapper {
                #[serde(rename = $tag, default)]
                items: Vec<$item>,
            }
            let wrapper: Wrapper = serde::Deserialize::deserialize(deserializer)?;
            Ok(wrapper.items)
        }
    };
}
pub(crate) use wrapped_list;

#[cfg(test)]
mod tests {
    use super::{NOTED_ROOTS_LIMIT, note_other_root, root_has_child};

    #[test]
    fn another_root_is_noted_once_per_document_and_name() {
        assert!(note_other_root("test document", "RootA", "Documented"));
        assert!(!note_other_root("test document", "RootA", "Documented"));
        assert!(note_other_root("test document", "RootB", "Documented"));
        assert!(note_other_root(
            "other test document",
            "RootA",
            "Documented"
        ));
        // Bounded: names an upstream makes up do not grow the list without end.
        for n in 0..NOTED_ROOTS_LIMIT {
            note_other_root("test document", &format!("Made{n}"), "Documented");
        }
        assert!(!note_other_root("test document", "OneMore", "Documented"));
    }

    #[test]
    fn only_children_of_the_root_count_as_content() {
        let has = |text, names: &[&str]| root_has_child(text, names).expect("XML");
        assert!(has("<R><A/></R>", &["A"]));
        assert!(has("<R><B/><A>x</A></R>", &["A"]));
        assert!(!has("<R><B><A/></B></R>", &["A"]));
        assert!(!has("<A/>", &["A"]));
        assert!(!has("<R/>", &["A"]));
    }
}
