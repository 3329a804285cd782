//! The file name of a download: read from `Content-Disposition`, then reduced to a base name
//! that is safe to create inside the output folder.

/// The longest name [`safe_file_name`] returns, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// The longest extension [`safe_file_name`] keeps when it has to shorten a name, in bytes.
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// The name used when neither the header nor the fallback gives a usable one.
const LAST_RESORT_NAME: &str = "report";

/// The file name a `Content-Disposition` header value gives, unsanitized.
///
/// Handles `attachment; filename=output.pdf`, quoted `filename="a b.pdf"` (backslash escapes),
/// and RFC 5987 `filename*=UTF-8''na%C3%AFve%20file.csv` (charset UTF-8 or ISO-8859-1), which
/// wins over `filename` when both are present and it decodes. Parameter names are matched in
/// any case. `None` when the header names no (non-blank) file. Pass the result through
/// [`safe_file_name`] before using it as a path.
pub fn content_disposition_filename(header: &str) -> Option<String> {
    let parameters = parameters(header);
    let value_of = |wanted: &str| {
        parameters
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    value_of("filename*")
        .and_then(decode_extended_value)
        .filter(|name| !name.trim().is_empty())
        .or_else(|| value_of("filename").map(str::to_owned))
        .filter(|name| !name.trim().is_empty())
}

/// Reduces `raw` to a safe base name for a file in the output folder.
///
/// Takes the last path component (`/` and `\` both separate), removes control characters
/// (NUL included) and invisible direction or format marks, replaces `<>:"|?*` with `_`, strips
/// leading dots (so the name is never `.`, `..` or hidden) and trailing dots, trims whitespace,
/// and bounds the length to 200 bytes at a character boundary, keeping a short extension.
/// Never empty: when nothing usable remains it sanitizes `fallback` the same way, and uses
/// `"report"` if that is empty too.
pub fn safe_file_name(raw: &str, fallback: &str) -> String {
    sanitize(raw)
        .or_else(|| sanitize(fallback))
        .unwrap_or_else(|| LAST_RESORT_NAME.to_owned())
}

/// The safe file name for a download: the `Content-Disposition` file name when there is one,
/// otherwise `fallback`, through [`safe_file_name`] either way.
pub fn file_name_from_disposition(header: Option<&str>, fallback: &str) -> String {
    let raw = header
        .and_then(content_disposition_filename)
        .unwrap_or_default();
    safe_file_name(&raw, fallback)
}

/// The `name=value` parameters of a header value, names lower-cased, quoted values unquoted.
/// Segments without `=` (the disposition type) are skipped.
fn parameters(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = header.chars().peekable();
    loop {
        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && c != ';') {
            name.push(c);
        }
        match chars.next() {
            Some('=') => {
                let value = read_value(&mut chars);
                out.push((name.trim().to_ascii_lowercase(), value));
            }
            Some(_) => {} // `;` after a segment without `=`
            None => return out,
        }
    }
}

/// Reads a parameter value (a quoted string or a bare token) and the `;` that ends it.
fn read_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
    let mut value = String::new();
    if chars.next_if_eq(&'"').is_some() {
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => break,
                c => value.push(c),
            }
        }
        // Skip anything between the closing quote and the next `;`.
        for c in chars.by_ref() {
            if c == ';' {
                break;
            }
        }
        value
    } else {
        for c in chars.by_ref() {
            if c == ';' {
                break;
            }
            value.push(c);
        }
        value.trim().to_owned()
    }
}

/// Decodes an RFC 5987 `charset'language'percent-encoded` value; `None` for an unknown
/// charset, a missing part, or bytes that are not valid in the charset.
fn decode_extended_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.trim().to_ascii_lowercase();
    let _language = parts.next()?;
    let bytes = percent_decode(parts.next()?);
    match charset.as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" => {
            Some(bytes.into_iter().map(char::from).collect())
        }
        _ => None,
    }
}

/// Decodes `%XY` escapes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex_value(*high).zip(hex_value(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            None => {
                out.extend(bytes.get(i));
                i += 1;
            }
        }
    }
    out
}

/// The value of one hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// `true` for characters a file name must not carry at all: control characters and the
/// invisible marks that change how a name displays (direction overrides, zero-width marks).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}')
}

/// `true` for characters some file systems refuse in a name.
fn is_reserved(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
}

/// `true` for what is trimmed from both ends of a name: whitespace and dots.
fn is_edge_junk(c: char) -> bool {
    c == '.' || c.is_whitespace()
}

/// The safe form of `raw`, `None` when nothing usable remains.
fn sanitize(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(|c| if is_reserved(c) { '_' } else { c })
        .collect();
    let last = cleaned
        .split(['/', '\\'])
        .rfind(|component| !component.trim().is_empty())?;
    let name = last.trim_matches(is_edge_junk);
    (!name.is_empty()).then(|| bound_length(name))
}

/// `name` shortened to [`MAX_NAME_BYTES`] at a character boundary, keeping a short extension.
/// `name` starts with neither a dot nor whitespace, so the result is never empty.
fn bound_length(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let extension = name.rsplit_once('.').filter(|(stem, extension)| {
        !stem.is_empty()
            && !extension.is_empty()
            && extension.len() <= MAX_KEPT_EXTENSION_BYTES
            && !extension.contains(char::is_whitespace)
    });
    match extension {
        Some((stem, extension)) => {
            let stem = prefix(stem, MAX_NAME_BYTES - extension.len() - 1);
            format!("{}.{extension}", stem.trim_end_matches(is_edge_junk))
        }
        None => prefix(name, MAX_NAME_BYTES)
            .trim_end_matches(is_edge_junk)
            .to_owned(),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{bound_length, percent_decode, prefix};

    #[test]
    fn percent_decoding_keeps_stray_percent_signs() {
        assert_eq!(percent_decode("a%20b"), b"a b");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%C3%AF"), "ï".as_bytes());
    }

    #[test]
    fn prefix_stops_at_a_character_boundary() {
        assert_eq!(prefix("aé", 2), "a");
        assert_eq!(prefix("aé", 3), "aé");
        assert_eq!(prefix("abc", 10), "abc");
    }

    #[test]
    fn shortening_keeps_the_extension() {
        let long = format!("{}.csv", "x".repeat(300));
        let short = bound_length(&long);
        assert_eq!(short.len(), 200);
        assert!(short.ends_with(".csv"));
        let no_extension = "y".repeat(300);
        assert_eq!(bound_length(&no_extension), "y".repeat(200));
        let long_extension = format!("a.{}", "z".repeat(300));
        assert_eq!(bound_length(&long_extension).len(), 200);
    }
}
