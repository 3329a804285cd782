//! Validation of job specs and derivation of job keys.

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, CoreError, Date, JobKey, JobSpec, OutputFormat,
    SpecProblem, SpecWarning, parse_date,
};
use std::collections::{BTreeMap, BTreeSet};

const TODAY: Date = Date::constant(2026, 11, 26);

fn account(params: &[(&str, &[&str])], expires: Option<Date>) -> JobSpec {
    let params = params
        .iter()
        .map(|(n, vs)| {
            (
                n.to_string(),
                vs.iter().map(|v| v.to_string()).collect::<BTreeSet<_>>(),
            )
        })
        .collect::<BTreeMap<_, _>>();
    JobSpec::Account(AccountReportSpec {
        account: "9900000".into(),
        report_id: 2,
        format: OutputFormat::Pdf,
        params,
        expires_at: expires,
    })
}

fn billing(account: &str, t: &str, start: Date, end: Date) -> JobSpec {
    JobSpec::Billing(BillingReportSpec {
        account: account.into(),
        report_type: t.into(),
        start,
        end,
    })
}

fn problems(spec: &JobSpec) -> Vec<SpecProblem> {
    match spec.validate(TODAY) {
        Err(CoreError::InvalidSpec { problems }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_good_account_spec_passes() {
    let spec = account(
        &[("AccountId", &["9900000"]), ("Tier", &["1", "2"])],
        Some(TODAY),
    );
    assert_eq!(spec.validate(TODAY), Ok(vec![]));
    let last_day = account(&[], Some(Date::constant(2026, 12, 26)));
    assert_eq!(last_day.validate(TODAY), Ok(vec![]));
}

#[test]
fn expiry_dates_are_bounded() {
    let past = account(&[], Some(Date::constant(2026, 11, 25)));
    assert_eq!(
        problems(&past),
        vec![SpecProblem::ExpiresInPast {
            expires: Date::constant(2026, 11, 25),
            today: TODAY
        }]
    );
    let far = account(&[], Some(Date::constant(2026, 12, 27)));
    assert_eq!(
        problems(&far),
        vec![SpecProblem::ExpiresTooFar {
            expires: Date::constant(2026, 12, 27),
            latest: Date::constant(2026, 12, 26)
        }]
    );
}

#[test]
fn parameters_need_names_and_values() {
    let spec = account(&[("", &["1"]), ("Empty", &[]), ("Blank", &[" "])], None);
    assert_eq!(
        problems(&spec),
        vec![
            SpecProblem::EmptyParameterName,
            SpecProblem::EmptyParameterValue {
                name: "Blank".into()
            },
            SpecProblem::EmptyParameterValue {
                name: "Empty".into()
            },
        ]
    );
}

#[test]
fn accounts_must_be_digits_and_every_problem_is_reported() {
    let spec = billing(
        "",
        "bdr",
        Date::constant(2026, 2, 1),
        Date::constant(2026, 1, 1),
    );
    assert_eq!(
        problems(&spec),
        vec![
            SpecProblem::EmptyAccount,
            SpecProblem::StartAfterEnd {
                start: Date::constant(2026, 2, 1),
                end: Date::constant(2026, 1, 1)
            },
            SpecProblem::BadBillingType("bdr".into()),
        ]
    );
    let spec = billing("99x", "BDR", TODAY, TODAY);
    assert_eq!(
        problems(&spec),
        vec![SpecProblem::NonNumericAccount("99x".into())]
    );
}

#[test]
fn billing_types_unknown_but_well_formed_warn() {
    assert_eq!(
        billing("1", "BDR", TODAY, TODAY).validate(TODAY),
        Ok(vec![])
    );
    assert_eq!(
        billing("1", "MSG_CAMPAIGN_X", TODAY, TODAY).validate(TODAY),
        Ok(vec![])
    );
    assert_eq!(
        billing("1", "NEWKIND2", TODAY, TODAY).validate(TODAY),
        Ok(vec![SpecWarning::UnknownBillingType("NEWKIND2".into())])
    );
    for bad in ["", "2BDR", "B-DR", "Bdr", "BDR "] {
        assert_eq!(
            problems(&billing("1", bad, TODAY, TODAY)),
            vec![SpecProblem::BadBillingType(bad.into())]
        );
    }
}

#[test]
fn output_formats_and_dates_parse_with_precise_errors() {
    assert_eq!("PDF".parse::<OutputFormat>(), Ok(OutputFormat::Pdf));
    assert_eq!("csv".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
    assert_eq!(
        "docx".parse::<OutputFormat>(),
        Err(SpecProblem::UnknownOutputFormat("docx".into()))
    );
    assert_eq!(
        parse_date("--from", "2026-02-28"),
        Ok(Date::constant(2026, 2, 28))
    );
    for bad in ["2026-2-3", "26-02-03", "yesterday", "", "2026-02-03T00:00"] {
        assert_eq!(
            parse_date("--from", bad),
            Err(SpecProblem::BadDate {
                field: "--from".into(),
                value: bad.into()
            }),
            "{bad}"
        );
    }
    let msg = parse_date("--to", "26-11-01")
        .expect_err("not YYYY-MM-DD")
        .to_string();
    assert!(
        msg.starts_with(
            "--to \"26-11-01\" is not a date; write it as YYYY-MM-DD (e.g. 2026-01-31) or relative to today (today, yesterday, today-7d"
        ),
        "{msg}"
    );
}

#[test]
fn well_formed_dates_that_do_not_exist_say_why() {
    let why = |text: &str| {
        parse_date("--to", text)
            .expect_err("no such date")
            .to_string()
    };
    assert_eq!(
        why("2026-11-31"),
        "--to \"2026-11-31\" is not a date: November 2026 has 30 days"
    );
    assert_eq!(
        why("2026-02-29"),
        "--to \"2026-02-29\" is not a date: February 2026 has 28 days (2026 is not a leap year)"
    );
    assert_eq!(
        why("2028-02-30"),
        "--to \"2028-02-30\" is not a date: February 2028 has 29 days"
    );
    assert_eq!(
        why("2026-13-01"),
        "--to \"2026-13-01\" is not a date: there is no month 13; months run from 01 to 12"
    );
    assert_eq!(
        why("2026-00-10"),
        "--to \"2026-00-10\" is not a date: there is no month 00; months run from 01 to 12"
    );
    assert_eq!(
        why("2026-01-00"),
        "--to \"2026-01-00\" is not a date: days run from 01; there is no day 00"
    );
    assert_eq!(
        parse_date("--to", "2028-02-29"),
        Ok(Date::constant(2028, 2, 29))
    );
}

#[test]
fn derived_keys_are_canonical() {
    let a = account(&[("B", &["2", "1"]), ("A", &["x"])], None);
    let b = account(&[("A", &["x"]), ("B", &["1", "2"])], None);
    assert_eq!(JobKey::derived(&a), JobKey::derived(&b));
    let c = account(&[("A", &["x"]), ("B", &["1"])], None);
    assert_ne!(JobKey::derived(&a), JobKey::derived(&c));
    let d = account(&[("A", &["x"]), ("B", &["1", "2"])], Some(TODAY));
    assert_ne!(JobKey::derived(&a), JobKey::derived(&d));
    assert!(
        JobKey::derived(&a)
            .as_str()
            .starts_with("report-9900000-2-pdf-")
    );
    let bill = billing(
        "9900000",
        "BDR",
        Date::constant(2026, 5, 21),
        Date::constant(2026, 5, 29),
    );
    assert_eq!(
        JobKey::derived(&bill).as_str(),
        "billing-9900000-BDR-2026-05-21-2026-05-29"
    );
}

#[test]
fn user_keys_are_checked() {
    assert_eq!(
        JobKey::user("nightly-bdr").map(|k| k.to_string()),
        Ok("nightly-bdr".to_string())
    );
    for bad in ["", " padded", "tab\there", &"k".repeat(201)] {
        assert!(
            matches!(JobKey::user(bad), Err(CoreError::InvalidKey { .. })),
            "{bad:?}"
        );
    }
}
