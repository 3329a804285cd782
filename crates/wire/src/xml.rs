//! Reading machinery shared by the parsers: bytes to text, character data from events, the
//! root-element check, and the typed-document entry point every response parser goes through.

use std::borrow::Cow;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
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
                return Ok(Some(start.local_name().as_ref().to_owned()));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// Reads `text` as the document `what`, whose root element must be `<root>`.
pub(crate) fn read_shape<T: DeserializeOwned>(
    text: &str,
    root: &'static str,
    what: &'static str,
) -> Result<T, WireError> {
    match root_name(text) {
        Ok(Some(name)) if name == root => {}
        Ok(Some(name)) => {
            return Err(WireError::malformed(
                what,
                format!("the root element is <{name}>, expected <{root}>"),
            ));
        }
        Ok(None) => return Err(WireError::malformed(what, "the body holds no XML element")),
        Err(error) => return Err(WireError::malformed(what, error)),
    }
    quick_xml::de::from_str(text).map_err(|error| WireError::malformed(what, error))
}

/// Reads a response body: an error envelope anywhere in it wins (as [`WireError::Upstream`]),
/// otherwise it must be the document `what` with root element `<root>`.
pub(crate) fn read_response<T: DeserializeOwned>(
    body: &[u8],
    root: &'static str,
    what: &'static str,
) -> Result<T, WireError> {
    let text = decode(body);
    if let Some(error) = find_error(&text) {
        return Err(WireError::Upstream(error));
    }
    read_shape(&text, root, what)
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
