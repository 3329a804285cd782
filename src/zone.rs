//! The time zone a submit resolves relative dates in, and what "today" is there.
//!
//! The zone is the first of: `--tz`, the batch file's `tz`, `REPORTFLOW_TZ`, UTC. Today is
//! read once per command, so every job of one submit sees the same day.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reportflow_core::{Date, Resolver};

/// The variable naming the default time zone of submits.
pub const TZ_VAR: &str = "REPORTFLOW_TZ";

/// The zone used when none is named.
pub const DEFAULT_ZONE: &str = "UTC";

/// The instant a submit happens, and the zones it was offered.
#[derive(Clone, Debug)]
pub struct SubmitClock {
    now: Timestamp,
    flag: Option<String>,
    env: Option<String>,
}

/// Where a zone name came from, for the message when it is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneSource {
    /// `--tz`.
    Flag,
    /// The batch file's `tz`.
    File,
    /// `REPORTFLOW_TZ`.
    Env,
}

impl SubmitClock {
    /// Now, with the zone of `--tz` (if given) and of `REPORTFLOW_TZ` (if set).
    pub fn now(flag: Option<&str>) -> SubmitClock {
        let env = std::env::var(TZ_VAR).ok();
        SubmitClock::at(Timestamp::now(), flag, env.as_deref())
    }

    /// A fixed instant (tests, fuzzing) with the given zones.
    pub fn at(now: Timestamp, flag: Option<&str>, env: Option<&str>) -> SubmitClock {
        let named = |z: Option<&str>| {
            z.map(str::trim)
                .filter(|z| !z.is_empty())
                .map(str::to_string)
        };
        SubmitClock {
            now,
            flag: named(flag),
            env: named(env),
        }
    }

    /// Noon (UTC) of `day`, no zone named: today is `day` in UTC and every zone within 11 hours
    /// of it.
    pub fn on(day: Date) -> SubmitClock {
        let noon = day
            .at(12, 0, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        SubmitClock::at(noon, None, None)
    }

    /// Today in UTC: the day expiry dates are checked against, as the engine checks them.
    pub fn utc_today(&self) -> Date {
        self.now.to_zoned_datetime(TimeZone::UTC).date()
    }

    /// A resolver for today in the zone that applies (`--tz`, else `file_zone`, else
    /// `REPORTFLOW_TZ`, else UTC), or the source of an unknown zone name and the message.
    pub fn resolver(&self, file_zone: Option<&str>) -> Result<Resolver, (ZoneSource, String)> {
        let file_zone = file_zone.map(str::trim).filter(|z| !z.is_empty());
        let (name, source) = match (&self.flag, file_zone, &self.env) {
            (Some(flag), _, _) => (flag.as_str(), Some(ZoneSource::Flag)),
            (None, Some(file), _) => (file, Some(ZoneSource::File)),
            (None, None, Some(env)) => (env.as_str(), Some(ZoneSource::Env)),
            (None, None, None) => (DEFAULT_ZONE, None),
        };
        let zone = lookup(name).map_err(|message| {
            let source = source.unwrap_or(ZoneSource::Flag);
            let message = match source {
                ZoneSource::Flag => format!("--tz {message}"),
                ZoneSource::File => format!("tz {message}"),
                ZoneSource::Env => format!("{TZ_VAR} {message}"),
            };
            (source, message)
        })?;
        let today = self.now.to_zoned_datetime(zone).date();
        Ok(Resolver::new(today, name))
    }
}

/// The zone named `name` (an IANA name such as `Europe/Berlin`, or `UTC`).
fn lookup(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("Z") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| {
        format!(
            "{name:?} is not a time zone this system knows; use an IANA name such as Europe/Berlin or America/New_York, or UTC"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn today_depends_on_the_zone_and_the_flag_wins() {
        // 23:30 UTC on the 26th is already the 27th in Berlin, still the 26th in New York.
        let now = instant("2026-11-26T23:30:00Z");
        let today = |clock: &SubmitClock, file: Option<&str>| {
            clock.resolver(file).expect("a known zone").today()
        };
        let none = SubmitClock::at(now, None, None);
        assert_eq!(today(&none, None), Date::constant(2026, 11, 26));
        assert_eq!(none.utc_today(), Date::constant(2026, 11, 26));
        let env = SubmitClock::at(now, None, Some("Europe/Berlin"));
        assert_eq!(today(&env, None), Date::constant(2026, 11, 27));
        assert_eq!(
            today(&env, Some("America/New_York")),
            Date::constant(2026, 11, 26),
            "the file's zone wins over the environment"
        );
        let flag = SubmitClock::at(now, Some("Asia/Tokyo"), Some("America/New_York"));
        assert_eq!(
            today(&flag, Some("America/New_York")),
            Date::constant(2026, 11, 27)
        );
        let origin = {
            let mut r = flag.resolver(None).expect("known");
            r.note("range", "yesterday");
            r.origin().expect("an origin")
        };
        assert_eq!(origin.zone, "Asia/Tokyo");
    }

    #[test]
    fn unknown_zones_name_their_source() {
        let now = instant("2026-11-26T12:00:00Z");
        let (source, message) = SubmitClock::at(now, Some("Mars/Olympus"), None)
            .resolver(None)
            .expect_err("unknown");
        assert_eq!(source, ZoneSource::Flag);
        assert!(
            message.starts_with("--tz \"Mars/Olympus\" is not a time zone"),
            "{message}"
        );
        let (source, message) = SubmitClock::at(now, None, Some("Nowhere"))
            .resolver(None)
            .expect_err("unknown");
        assert_eq!(source, ZoneSource::Env);
        assert!(
            message.starts_with("REPORTFLOW_TZ \"Nowhere\""),
            "{message}"
        );
        assert_eq!(
            SubmitClock::on(Date::constant(2028, 2, 29)).utc_today(),
            Date::constant(2028, 2, 29)
        );
    }
}
