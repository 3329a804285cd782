//! XML in both directions: a small escaping writer for responses and a lenient tree reader
//! for request bodies. Dates as the upstream writes them.

use std::fmt::Write as _;

use jiff::civil::Date;
use quick_xml::events::Event;

/// The declaration written at the top of bodies when enabled.
pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// Escapes text for element content.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds an XML document; element names are ours (never escaped), text always is.
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub(crate) fn new(declaration: bool) -> Self {
        XmlWriter {
            out: if declaration {
                DECLARATION.to_owned()
            } else {
                String::new()
            },
        }
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.out, "<{tag}>");
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.out, "</{tag}>");
        self
    }

    pub(crate) fn leaf(&mut self, tag: &str, text: impl std::fmt::Display) -> &mut Self {
        let text = escape(&text.to_string());
        let _ = write!(self.out, "<{tag}>{text}</{tag}>");
        self
    }

    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// An element of a request body: its local name, its text, its children.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this name.
    pub(crate) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child with this name.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Parses a whole document into its root element; the error says what is wrong.
pub(crate) fn parse(body: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(start) => stack.push(Element {
                name: start.local_name().into_inner().to_owned(),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let element = Element {
                    name: start.local_name().into_inner().to_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err("unexpected end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => push_text(&mut stack, &text.xml10_content()),
            Event::CData(data) => push_text(&mut stack, &data.xml10_content()),
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?
                        .to_owned(),
                };
                push_text(&mut stack, &resolved);
            }
            Event::Eof => return Err("the document ends before its root element is closed".into()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn push_text(stack: &mut [Element], text: &str) {
    if let Some(top) = stack.last_mut() {
        top.text.push_str(text);
    }
}

/// Parses a strict `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<i16>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// `RequestedAt` as in the seed: `2020-9-19 11:05:12` (UTC, no zero padding on month/day).
pub(crate) fn requested_at(ts: jiff::Timestamp) -> String {
    let dt = jiff::tz::TimeZone::UTC.to_datetime(ts);
    format!(
        "{}-{}-{} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Today's date in UTC.
pub(crate) fn today() -> Date {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_instance_body() {
        let body = "<Instance>\n<OutputFormat>pdf</OutputFormat>\n<Parameters>\n<Parameter>\n<Name>Account</Name>\n<Value>1</Value>\n</Parameter>\n<Parameter><Name>Multi</Name><Value>a&amp;b</Value><Value>v&#50;</Value></Parameter>\n</Parameters>\n<ExpiresAt>2020-11-25</ExpiresAt>\n<!-- a comment -->\n</Instance>";
        let root = parse(body).expect("parses");
        assert_eq!(root.name, "Instance");
        assert_eq!(root.child_text("OutputFormat"), Some("pdf"));
        let params = root.child("Parameters").expect("params");
        let multi: Vec<_> = params
            .children("Parameter")
            .nth(1)
            .expect("second")
            .children("Value")
            .map(|v| v.text.clone())
            .collect();
        assert_eq!(multi, ["a&b", "v2"]);
        assert!(parse("<Instance><Open></Instance>").is_err());
        assert!(parse("<Instance>").is_err());
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date("2020-11-25"),
            Some(jiff::civil::date(2020, 11, 25))
        );
        for bad in [
            "2020-2-01",
            "2020-02-30",
            "20200201",
            "2020/02/01",
            " 2020-02-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn writer_escapes_text() {
        let mut w = XmlWriter::new(false);
        w.open("A").leaf("B", "x<&>\"'").close("A");
        assert_eq!(w.finish(), "<A><B>x&lt;&amp;&gt;&quot;&apos;</B></A>");
    }
}
