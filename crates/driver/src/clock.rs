//! The engine's only clock reads (and the CLI's: it uses [`today`] too).

use jiff::civil::Date;
use reportflow_core::Millis;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as the core counts time.
pub fn now() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Today's date in UTC.
pub fn today() -> Date {
    jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}
