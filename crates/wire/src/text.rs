//! `deserialize_with` helpers for element text in response documents: trimmed, empty read as
//! absent, booleans and statuses read leniently.

use serde::{Deserialize, Deserializer};

/// A required element's text, trimmed.
pub(crate) fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text.trim().to_owned())
}

/// An optional element's text, trimmed; an empty element reads as absent.
pub(crate) fn optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty()))
}

/// An optional value read through `From<&str>` (the open status sets).
pub(crate) fn optional_from<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    Ok(optional(deserializer)?.map(|text| T::from(&text)))
}

/// A required value read through `From<&str>` (the open status sets).
pub(crate) fn required_from<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    Ok(T::from(&required(deserializer)?))
}

/// An optional boolean: `true`/`false` in any case (also `yes`/`no`, `1`/`0`); anything else,
/// or an empty element, reads as absent.
pub(crate) fn optional_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    Ok(optional(deserializer)?.and_then(|text| parse_bool(&text)))
}

/// Reads a boolean leniently; `None` when `text` is not one.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if ["true", "yes", "1"]
        .iter()
        .any(|t| text.eq_ignore_ascii_case(t))
    {
        Some(true)
    } else if ["false", "no", "0"]
        .iter()
        .any(|t| text.eq_ignore_ascii_case(t))
    {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn booleans_in_any_case() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool(" TRUE "), Some(true));
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }
}
