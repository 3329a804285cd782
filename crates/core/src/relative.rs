//! Dates as people write them in nightly pipelines: absolute (`2026-11-30`) or relative to
//! today (`yesterday`, `today-7d`, `last-month-end`), named ranges (`last-month`), and the
//! partition of a range into one job per day, week or month (a backfill).
//!
//! Everything here is a pure function of the text and of `today`, which the caller computes
//! once, at submit time, in the time zone it was asked for. The core never reads a clock.

use crate::SpecProblem;
use crate::spec::parse_date;
use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest day offset a relative date may carry (`today+36600d`, about a century).
const MAX_OFFSET_DAYS: i32 = 36_600;

/// The most jobs one partitioned range may make, unless the caller allows fewer.
pub const MAX_PARTITIONS: usize = 1_000;

/// The forms a relative date may take, for messages.
pub(crate) const RELATIVE_FORMS: &str =
    "today, yesterday, today-7d, today+3d, month-start, last-month-start, last-month-end";

/// The day a relative date counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// Today (in the zone the submit resolves in).
    Today,
    /// The day before today.
    Yesterday,
    /// The first day of this month.
    MonthStart,
    /// The first day of last month.
    LastMonthStart,
    /// The last day of last month.
    LastMonthEnd,
}

impl Anchor {
    const ALL: [Anchor; 5] = [
        Self::LastMonthStart,
        Self::LastMonthEnd,
        Self::MonthStart,
        Self::Yesterday,
        Self::Today,
    ];

    /// The name as written (`last-month-end`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Yesterday => "yesterday",
            Self::MonthStart => "month-start",
            Self::LastMonthStart => "last-month-start",
            Self::LastMonthEnd => "last-month-end",
        }
    }

    /// The day this anchor names when today is `today`.
    pub fn on(self, today: Date) -> Date {
        let last_month_end = today.first_of_month().yesterday().unwrap_or(today);
        match self {
            Self::Today => today,
            Self::Yesterday => today.yesterday().unwrap_or(today),
            Self::MonthStart => today.first_of_month(),
            Self::LastMonthStart => last_month_end.first_of_month(),
            Self::LastMonthEnd => last_month_end,
        }
    }
}

/// A date as written: a calendar date, or an anchor moved by a number of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateExpr {
    /// `2026-11-30`.
    Absolute(Date),
    /// `today`, `yesterday-1d`, `last-month-end+1d`, ...
    Relative {
        /// The day counted from.
        anchor: Anchor,
        /// Days after it (negative: before).
        offset_days: i32,
    },
}

impl DateExpr {
    /// Parses a date as written in `field` (a flag or batch field name, for the message):
    /// `YYYY-MM-DD`, or a relative date (`today`, `yesterday`, `today-7d`, `today+3d`,
    /// `month-start`, `last-month-start`, `last-month-end`, each with an optional `+Nd`/`-Nd`).
    /// Letter case and surrounding white space do not matter.
    pub fn parse(field: &str, text: &str) -> Result<DateExpr, SpecProblem> {
        let trimmed = text.trim();
        if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            return parse_date(field, text).map(DateExpr::Absolute);
        }
        let lower = trimmed.to_ascii_lowercase();
        let bad = || SpecProblem::BadDate {
            field: field.to_string(),
            value: text.to_string(),
        };
        let anchor = Anchor::ALL
            .into_iter()
            .find(|a| lower.starts_with(a.as_str()))
            .ok_or_else(bad)?;
        let rest = &lower[anchor.as_str().len()..];
        let offset_days = if rest.is_empty() {
            0
        } else {
            let (sign, digits) = match rest.as_bytes()[0] {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return Err(bad()),
            };
            let digits = digits.strip_suffix('d').ok_or_else(bad)?;
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let n: i32 = digits.parse().map_err(|_| bad())?;
            if n > MAX_OFFSET_DAYS {
                return Err(SpecProblem::DateOffsetTooLarge {
                    field: field.to_string(),
                    value: text.to_string(),
                    max: MAX_OFFSET_DAYS,
                });
            }
            sign * n
        };
        Ok(DateExpr::Relative {
            anchor,
            offset_days,
        })
    }

    /// True for a date written relative to today.
    pub fn is_relative(&self) -> bool {
        matches!(self, DateExpr::Relative { .. })
    }

    /// The calendar date this expression names when today is `today`. Only a date beyond
    /// the calendar's end (year 9999) fails.
    pub fn resolve(&self, field: &str, today: Date) -> Result<Date, SpecProblem> {
        match *self {
            DateExpr::Absolute(date) => Ok(date),
            DateExpr::Relative {
                anchor,
                offset_days,
            } => anchor
                .on(today)
                .checked_add(offset_days.days())
                .map_err(|_| SpecProblem::DateOffsetTooLarge {
                    field: field.to_string(),
                    value: self.to_string(),
                    max: MAX_OFFSET_DAYS,
                }),
        }
    }
}

impl fmt::Display for DateExpr {
    /// The canonical spelling: `2026-11-30`, `today`, `today-7d`, `last-month-end+1d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateExpr::Absolute(date) => write!(f, "{date}"),
            DateExpr::Relative {
                anchor,
                offset_days: 0,
            } => f.write_str(anchor.as_str()),
            DateExpr::Relative {
                anchor,
                offset_days,
            } => write!(f, "{}{offset_days:+}d", anchor.as_str()),
        }
    }
}

/// A named range of days, resolved against today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeExpr {
    /// Yesterday alone.
    Yesterday,
    /// The seven whole days before today (today-7d to yesterday).
    Last7Days,
    /// Last calendar month.
    LastMonth,
    /// This month's first day to today.
    MonthToDate,
}

impl RangeExpr {
    /// Every range, in the order shown to users.
    pub const ALL: [RangeExpr; 4] = [
        Self::Yesterday,
        Self::Last7Days,
        Self::LastMonth,
        Self::MonthToDate,
    ];

    /// The name as written (`last-7-days`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yesterday => "yesterday",
            Self::Last7Days => "last-7-days",
            Self::LastMonth => "last-month",
            Self::MonthToDate => "month-to-date",
        }
    }

    /// Parses a range name in any letter case.
    pub fn parse(field: &str, text: &str) -> Result<RangeExpr, SpecProblem> {
        let lower = text.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == lower)
            .ok_or_else(|| SpecProblem::UnknownRange {
                field: field.to_string(),
                value: text.to_string(),
            })
    }

    /// The first and last day (inclusive) of the range when today is `today`.
    pub fn resolve(self, today: Date) -> (Date, Date) {
        let yesterday = Anchor::Yesterday.on(today);
        match self {
            Self::Yesterday => (yesterday, yesterday),
            Self::Last7Days => (today.saturating_add((-7).days()), yesterday),
            Self::LastMonth => (
                Anchor::LastMonthStart.on(today),
                Anchor::LastMonthEnd.on(today),
            ),
            Self::MonthToDate => (today.first_of_month(), today),
        }
    }
}

impl fmt::Display for RangeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a range is cut into one job per partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// One job per day.
    Day,
    /// One job per ISO week (Monday to Sunday), the first and last cut at the range's ends.
    Week,
    /// One job per calendar month, the first and last cut at the range's ends.
    Month,
}

impl Split {
    /// Every way to split, in the order shown to users.
    pub const ALL: [Split; 3] = [Self::Day, Self::Week, Self::Month];

    /// The name as written (`day`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Parses `day`, `week` or `month` in any letter case.
    pub fn parse(field: &str, text: &str) -> Result<Split, SpecProblem> {
        let lower = text.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == lower)
            .ok_or_else(|| SpecProblem::UnknownSplit {
                field: field.to_string(),
                value: text.to_string(),
            })
    }

    /// The last day of the partition that starts on `day`.
    fn end_of(self, day: Date) -> Date {
        match self {
            Self::Day => day,
            Self::Week => {
                let to_sunday = 7 - i32::from(day.weekday().to_monday_one_offset());
                day.saturating_add(to_sunday.days())
            }
            Self::Month => day.last_of_month(),
        }
    }

    /// The partitions of `start..=end` (inclusive), in order: each day of the range in exactly
    /// one of them. Refused when the range is reversed or makes more than `max` partitions
    /// (nothing of it is then returned).
    pub fn partitions(
        self,
        start: Date,
        end: Date,
        max: usize,
    ) -> Result<Vec<(Date, Date)>, SpecProblem> {
        if start > end {
            return Err(SpecProblem::StartAfterEnd { start, end });
        }
        let mut parts = Vec::new();
        let mut day = start;
        loop {
            let last = self.end_of(day).min(end);
            if parts.len() == max {
                return Err(SpecProblem::TooManyPartitions {
                    split: self.as_str().to_string(),
                    start,
                    end,
                    max,
                });
            }
            parts.push((day, last));
            match last.tomorrow() {
                Ok(next) if last < end => day = next,
                _ => return Ok(parts),
            }
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job's dates came from: the expressions as written, the zone they were resolved in
/// and the day that was "today" there. Stored with the job and shown by `status`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateOrigin {
    /// Each field that was written relatively (or split), with its expression, in the order
    /// they were resolved: `("range", "last-month")`, `("split", "day")`,
    /// `("param.StartDate", "month-start")`.
    pub expressions: Vec<(String, String)>,
    /// The time zone `today` was taken in (an IANA name such as `Europe/Berlin`, or `UTC`).
    pub zone: String,
    /// Today's date in that zone when the job was submitted.
    pub resolved_on: Date,
}

impl fmt::Display for DateOrigin {
    /// `range=last-month split=day (resolved on 2026-11-26, UTC)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, expr)) in self.expressions.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{field}={expr}")?;
        }
        write!(f, " (resolved on {}, {})", self.resolved_on, self.zone)
    }
}

/// Resolves the dates of one request against one `today`, remembering every relative
/// expression it met, so that the job can store where its dates came from.
#[derive(Clone, Debug)]
pub struct Resolver {
    today: Date,
    zone: String,
    expressions: Vec<(String, String)>,
}

impl Resolver {
    /// A resolver for requests submitted on `today` in `zone` (the zone's name, for the record).
    pub fn new(today: Date, zone: impl Into<String>) -> Resolver {
        Resolver {
            today,
            zone: zone.into(),
            expressions: Vec::new(),
        }
    }

    /// Today, as this resolver sees it.
    pub fn today(&self) -> Date {
        self.today
    }

    /// The date `expr` names; a relative one is remembered under `field`.
    pub fn date(&mut self, field: &str, expr: &DateExpr) -> Result<Date, SpecProblem> {
        let date = expr.resolve(field, self.today)?;
        if expr.is_relative() {
            self.note(field, &expr.to_string());
        }
        Ok(date)
    }

    /// The days `range` names, remembered under `field`.
    pub fn range(&mut self, field: &str, range: RangeExpr) -> (Date, Date) {
        self.note(field, range.as_str());
        range.resolve(self.today)
    }

    /// A report parameter's value: a relative date becomes its `YYYY-MM-DD` (remembered as
    /// `param.NAME`); a value written `YYYY-MM-DD` must be a real date; anything else is
    /// kept as given.
    pub fn param(&mut self, name: &str, value: &str) -> Result<String, SpecProblem> {
        let field = format!("parameter {name}");
        let trimmed = value.trim();
        let looks_like_date = trimmed.len() == 10
            && trimmed.as_bytes()[4] == b'-'
            && trimmed.as_bytes()[7] == b'-'
            && trimmed.starts_with(|c: char| c.is_ascii_digit());
        if looks_like_date {
            return parse_date(&field, trimmed).map(|d| d.to_string());
        }
        match DateExpr::parse(&field, trimmed) {
            Ok(expr @ DateExpr::Relative { .. }) => {
                let date = expr.resolve(&field, self.today)?;
                self.note(&format!("param.{name}"), &expr.to_string());
                Ok(date.to_string())
            }
            Err(problem @ SpecProblem::DateOffsetTooLarge { .. }) => Err(problem),
            _ => Ok(value.to_string()),
        }
    }

    /// Remembers something about how the dates were made (`split=day`).
    pub fn note(&mut self, field: &str, value: &str) {
        let entry = (field.to_string(), value.to_string());
        if !self.expressions.contains(&entry) {
            self.expressions.push(entry);
        }
    }

    /// Where the dates came from, or `None` when every date was written absolutely (such a
    /// job is stored exactly as before relative dates existed).
    pub fn origin(&self) -> Option<DateOrigin> {
        (!self.expressions.is_empty()).then(|| DateOrigin {
            expressions: self.expressions.clone(),
            zone: self.zone.clone(),
            resolved_on: self.today,
        })
    }
}

/// Why a well-formed `YYYY-MM-DD` is not a date, e.g. "November 2026 has 30 days".
pub(crate) fn why_not_a_date(year: i16, month: i8, day: i8) -> String {
    if !(1..=12).contains(&month) {
        return format!("there is no month {month:02}; months run from 01 to 12");
    }
    if day == 0 {
        return "days run from 01; there is no day 00".to_string();
    }
    let Ok(first) = Date::new(year, month, 1) else {
        return format!("the year {year:04} is outside the calendar");
    };
    let name = first.strftime("%B");
    let days = first.days_in_month();
    if month == 2 && !first.in_leap_year() {
        format!("{name} {year:04} has {days} days ({year:04} is not a leap year)")
    } else {
        format!("{name} {year:04} has {days} days")
    }
}
