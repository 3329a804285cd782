//! Relative dates, named ranges and partitions, against a fixed today (pure functions).

use proptest::prelude::*;
use reportflow_core::{
    BillingReportSpec, Date, DateExpr, DateOrigin, JobKey, JobSpec, MAX_PARTITIONS, RangeExpr,
    Resolver, SpecProblem, Split,
};

const TODAY: Date = Date::constant(2026, 11, 26);

fn date(y: i16, m: i8, d: i8) -> Date {
    Date::new(y, m, d).expect("a valid date")
}

fn resolve(text: &str, today: Date) -> Date {
    DateExpr::parse("--from", text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .resolve("--from", today)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn every_relative_form_resolves_against_today() {
    let cases = [
        ("today", date(2026, 11, 26)),
        ("yesterday", date(2026, 11, 25)),
        ("today-7d", date(2026, 11, 19)),
        ("today+3d", date(2026, 11, 29)),
        ("TODAY+5D", date(2026, 12, 1)),
        (" month-start ", date(2026, 11, 1)),
        ("last-month-start", date(2026, 10, 1)),
        ("last-month-end", date(2026, 10, 31)),
        ("last-month-end+1d", date(2026, 11, 1)),
        ("yesterday-0d", date(2026, 11, 25)),
        ("2026-02-28", date(2026, 2, 28)),
    ];
    for (text, expected) in cases {
        assert_eq!(resolve(text, TODAY), expected, "{text}");
    }
}

#[test]
fn month_boundaries_and_leap_days_are_right() {
    // The first of a month: yesterday and last month are the month before.
    assert_eq!(resolve("yesterday", date(2026, 3, 1)), date(2026, 2, 28));
    assert_eq!(resolve("yesterday", date(2028, 3, 1)), date(2028, 2, 29));
    assert_eq!(
        resolve("last-month-end", date(2028, 3, 15)),
        date(2028, 2, 29)
    );
    assert_eq!(
        resolve("last-month-start", date(2027, 1, 1)),
        date(2026, 12, 1)
    );
    assert_eq!(
        resolve("last-month-end", date(2027, 1, 1)),
        date(2026, 12, 31)
    );
    assert_eq!(
        RangeExpr::LastMonth.resolve(date(2028, 3, 31)),
        (date(2028, 2, 1), date(2028, 2, 29))
    );
    assert_eq!(
        RangeExpr::LastMonth.resolve(date(2026, 3, 1)),
        (date(2026, 2, 1), date(2026, 2, 28))
    );
    assert_eq!(
        RangeExpr::MonthToDate.resolve(date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 3, 1))
    );
    assert_eq!(
        RangeExpr::Last7Days.resolve(date(2026, 3, 3)),
        (date(2026, 2, 24), date(2026, 3, 2))
    );
    assert_eq!(
        RangeExpr::Yesterday.resolve(date(2026, 1, 1)),
        (date(2025, 12, 31), date(2025, 12, 31))
    );
}

#[test]
fn bad_expressions_are_refused_with_the_forms_that_work() {
    for bad in [
        "tomorrow",
        "today-",
        "today-7",
        "today-d",
        "today-7w",
        "today--7d",
        "today 7d",
        "todayx",
        "",
    ] {
        let problem = DateExpr::parse("--to", bad).expect_err(bad);
        assert!(
            matches!(problem, SpecProblem::BadDate { .. }),
            "{bad}: {problem:?}"
        );
        assert!(problem.to_string().contains("today-7d"), "{problem}");
    }
    let far = DateExpr::parse("--to", "today+99999d").expect_err("too far");
    assert!(far.to_string().contains("at most 36600 days"), "{far}");
    assert_eq!(
        DateExpr::parse("--to", "2026-11-31")
            .expect_err("November has 30 days")
            .to_string(),
        "--to \"2026-11-31\" is not a date: November 2026 has 30 days"
    );
    assert!(
        RangeExpr::parse("--range", "last-week")
            .expect_err("unknown")
            .to_string()
            .contains("use one of yesterday, last-7-days, last-month, month-to-date")
    );
    assert!(
        Split::parse("--split", "hour")
            .expect_err("unknown")
            .to_string()
            .contains("use day, week or month")
    );
}

#[test]
fn expressions_print_canonically_and_parse_back() {
    for text in [
        "today",
        "today-7d",
        "today+3d",
        "last-month-end+1d",
        "2026-01-31",
    ] {
        let expr = DateExpr::parse("f", text).expect("parses");
        assert_eq!(expr.to_string(), text);
        assert_eq!(DateExpr::parse("f", &expr.to_string()), Ok(expr));
    }
    assert_eq!(
        DateExpr::parse("f", "Today-07d")
            .expect("parses")
            .to_string(),
        "today-7d"
    );
}

#[test]
fn partitions_by_day_week_and_month() {
    let days = Split::Day
        .partitions(date(2026, 2, 1), date(2026, 2, 28), MAX_PARTITIONS)
        .expect("fits");
    assert_eq!(days.len(), 28);
    assert!(days.iter().all(|(a, b)| a == b));
    // 2026-11-01 is a Sunday: the first week is that day alone.
    let weeks = Split::Week
        .partitions(date(2026, 11, 1), date(2026, 11, 30), MAX_PARTITIONS)
        .expect("fits");
    assert_eq!(
        weeks,
        vec![
            (date(2026, 11, 1), date(2026, 11, 1)),
            (date(2026, 11, 2), date(2026, 11, 8)),
            (date(2026, 11, 9), date(2026, 11, 15)),
            (date(2026, 11, 16), date(2026, 11, 22)),
            (date(2026, 11, 23), date(2026, 11, 29)),
            (date(2026, 11, 30), date(2026, 11, 30)),
        ]
    );
    let months = Split::Month
        .partitions(date(2027, 12, 15), date(2028, 3, 2), MAX_PARTITIONS)
        .expect("fits");
    assert_eq!(
        months,
        vec![
            (date(2027, 12, 15), date(2027, 12, 31)),
            (date(2028, 1, 1), date(2028, 1, 31)),
            (date(2028, 2, 1), date(2028, 2, 29)),
            (date(2028, 3, 1), date(2028, 3, 2)),
        ]
    );
    assert_eq!(
        Split::Day.partitions(date(2026, 1, 1), date(2026, 1, 1), 1),
        Ok(vec![(date(2026, 1, 1), date(2026, 1, 1))])
    );
}

#[test]
fn too_many_partitions_or_a_reversed_range_make_none() {
    let problem = Split::Day
        .partitions(date(2020, 1, 1), date(2026, 12, 31), MAX_PARTITIONS)
        .expect_err("over the cap");
    assert_eq!(
        problem.to_string(),
        "splitting 2020-01-01..2026-12-31 by day makes more than 1000 jobs, the most one submit may make; submit a shorter range or split it by a longer period"
    );
    assert!(
        Split::Month
            .partitions(date(2020, 1, 1), date(2026, 12, 31), MAX_PARTITIONS)
            .is_ok()
    );
    assert!(matches!(
        Split::Week.partitions(date(2026, 2, 2), date(2026, 2, 1), MAX_PARTITIONS),
        Err(SpecProblem::StartAfterEnd { .. })
    ));
}

fn billing(start: Date, end: Date) -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: "9900000".into(),
        report_type: "BDR".into(),
        start,
        end,
    })
}

#[test]
fn the_same_expression_on_the_same_day_gives_the_same_key() {
    let key = |today: Date| {
        let mut r = Resolver::new(today, "UTC");
        let (start, end) = r.range("range", RangeExpr::Yesterday);
        (JobKey::derived(&billing(start, end)), r.origin())
    };
    let (first, origin) = key(TODAY);
    let (second, _) = key(TODAY);
    let (tomorrow, _) = key(date(2026, 11, 27));
    assert_eq!(first, second);
    assert_ne!(first, tomorrow, "the next night is a new job");
    // The key is the one an absolute spec of the same dates has: a resubmit with absolute
    // dates finds the same job.
    assert_eq!(
        first,
        JobKey::derived(&billing(date(2026, 11, 25), date(2026, 11, 25)))
    );
    assert_eq!(first.as_str(), "billing-9900000-BDR-2026-11-25-2026-11-25");
    assert_eq!(
        origin,
        Some(DateOrigin {
            expressions: vec![("range".into(), "yesterday".into())],
            zone: "UTC".into(),
            resolved_on: TODAY,
        })
    );
}

#[test]
fn the_resolver_keeps_only_relative_expressions() {
    let mut r = Resolver::new(TODAY, "Europe/Berlin");
    let from = DateExpr::parse("from", "2026-11-01").expect("absolute");
    assert_eq!(r.date("from", &from), Ok(date(2026, 11, 1)));
    assert_eq!(r.origin(), None, "absolute dates leave no origin");
    assert_eq!(r.param("Tier", "2"), Ok("2".to_string()));
    assert_eq!(r.param("Name", "today is fine"), Ok("today is fine".into()));
    assert_eq!(r.param("StartDate", "2026-11-02"), Ok("2026-11-02".into()));
    assert_eq!(r.origin(), None);
    assert_eq!(
        r.param("EndDate", "2026-11-31")
            .expect_err("no such day")
            .to_string(),
        "parameter EndDate \"2026-11-31\" is not a date: November 2026 has 30 days"
    );
    assert_eq!(r.param("StartDate", "month-start"), Ok("2026-11-01".into()));
    let to = DateExpr::parse("to", "yesterday").expect("relative");
    assert_eq!(r.date("to", &to), Ok(date(2026, 11, 25)));
    let origin = r.origin().expect("relative dates leave an origin");
    assert_eq!(
        origin.to_string(),
        "param.StartDate=month-start to=yesterday (resolved on 2026-11-26, Europe/Berlin)"
    );
}

fn any_date() -> impl Strategy<Value = Date> {
    // 1990-01-01 plus up to ~80 years.
    (0i32..29_000).prop_map(|n| date(1990, 1, 1).saturating_add(jiff::Span::new().days(n)))
}

fn any_range() -> impl Strategy<Value = RangeExpr> {
    prop::sample::select(RangeExpr::ALL.to_vec())
}

fn any_split() -> impl Strategy<Value = Split> {
    prop::sample::select(Split::ALL.to_vec())
}

proptest! {
    #[test]
    fn every_named_range_is_ordered_and_ends_by_today(today in any_date(), range in any_range()) {
        let (start, end) = range.resolve(today);
        prop_assert!(start <= end, "{range}: {start} > {end}");
        prop_assert!(end <= today);
        match range {
            RangeExpr::LastMonth => {
                prop_assert_eq!(start.day(), 1);
                prop_assert_eq!(end, end.last_of_month());
                prop_assert_eq!(start.first_of_month(), end.first_of_month());
                prop_assert!(end < today.first_of_month());
            }
            RangeExpr::Last7Days => {
                prop_assert_eq!(start.saturating_add(jiff::Span::new().days(6)), end);
            }
            RangeExpr::MonthToDate => {
                prop_assert_eq!(start, today.first_of_month());
                prop_assert_eq!(end, today);
            }
            RangeExpr::Yesterday => prop_assert_eq!(start, end),
        }
    }

    #[test]
    fn partitions_cover_the_range_exactly_once(
        start in any_date(),
        len in 0i32..800,
        split in any_split(),
    ) {
        let end = start.saturating_add(jiff::Span::new().days(len));
        let parts = split.partitions(start, end, MAX_PARTITIONS).expect("within the cap");
        prop_assert_eq!(parts.first().map(|p| p.0), Some(start));
        prop_assert_eq!(parts.last().map(|p| p.1), Some(end));
        for (a, b) in &parts {
            prop_assert!(a <= b);
            match split {
                Split::Day => prop_assert_eq!(a, b),
                Split::Week => {
                    prop_assert!(b.since(*a).map(|s| s.get_days()).unwrap_or(99) < 7);
                    prop_assert!(*b == end || b.weekday() == jiff::civil::Weekday::Sunday);
                    prop_assert!(*a == start || a.weekday() == jiff::civil::Weekday::Monday);
                }
                Split::Month => {
                    prop_assert_eq!(a.first_of_month(), b.first_of_month());
                    prop_assert!(*b == end || *b == b.last_of_month());
                    prop_assert!(*a == start || a.day() == 1);
                }
            }
        }
        // Consecutive: each partition starts the day after the previous one ends, so no day
        // is in two partitions and none is left out.
        for pair in parts.windows(2) {
            prop_assert_eq!(pair[0].1.tomorrow().ok(), Some(pair[1].0));
        }
    }

    #[test]
    fn relative_dates_move_by_whole_days(today in any_date(), offset in -400i32..400) {
        let text = format!("today{offset:+}d");
        let expr = DateExpr::parse("f", &text).expect("parses");
        let resolved = expr.resolve("f", today).expect("in the calendar");
        prop_assert_eq!(resolved, today.saturating_add(jiff::Span::new().days(offset)));
        let yesterday = DateExpr::parse("f", "yesterday").expect("parses").resolve("f", today).expect("resolves");
        prop_assert_eq!(yesterday.tomorrow().ok(), Some(today));
        let end = DateExpr::parse("f", "last-month-end").expect("parses").resolve("f", today).expect("resolves");
        prop_assert_eq!(end.tomorrow().ok(), Some(today.first_of_month()));
    }
}

#[test]
fn labels_are_safe_names() {
    use reportflow_core::Label;
    assert_eq!(
        Label::new("nightly-2026-11-26").map(|l| l.to_string()),
        Ok("nightly-2026-11-26".to_string())
    );
    for bad in [
        "",
        "..",
        ".hidden",
        "-x",
        "a/b",
        "a b",
        "../../etc",
        "x\u{0}",
        &"a".repeat(101),
    ] {
        let e = Label::new(bad).expect_err(bad);
        assert!(e.to_string().starts_with("the label "), "{e}");
    }
    assert_eq!(
        Label::from_file_stem("nightly billing").map(|l| l.to_string()),
        Some("nightly-billing".into())
    );
    assert_eq!(
        Label::from_file_stem("..weird/ü").map(|l| l.to_string()),
        Some("weird--".into())
    );
    assert_eq!(Label::from_file_stem("..."), None);
}
