//! One test per legal transition of the core, and a sample of illegal ones.

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, CoreError, Date, Effect, Failure, FailureKind, Input,
    Job, JobId, JobKey, JobSpec, JobState, Millis, OutputFormat, Policies, Progress, StateName,
    StoredFile,
};
use std::collections::BTreeMap;

const T0: Millis = Millis(1_700_000_000_000);

fn account_job() -> Job {
    let spec = JobSpec::Account(AccountReportSpec {
        account: "9900000".into(),
        report_id: 2,
        format: OutputFormat::Csv,
        params: BTreeMap::new(),
        expires_at: None,
    });
    Job::new(
        JobId(7),
        JobKey::derived(&spec),
        spec,
        Policies::default(),
        T0,
    )
}

fn billing_job() -> Job {
    let spec = JobSpec::Billing(BillingReportSpec {
        account: "9900000".into(),
        report_type: "BDR".into(),
        start: Date::constant(2026, 5, 21),
        end: Date::constant(2026, 5, 29),
    });
    Job::new(
        JobId(8),
        JobKey::derived(&spec),
        spec,
        Policies::default(),
        T0,
    )
}

fn at(ms: u64) -> Millis {
    T0.plus_ms(ms)
}

fn step(job: &Job, input: Input, ms: u64) -> Job {
    match job.apply(input.clone(), at(ms)) {
        Ok(next) => next,
        Err(e) => panic!("{input:?} in {:?} was refused: {e}", job.state),
    }
}

fn created(job: Job) -> Job {
    let sent = step(&job, Input::CreateSending, 1);
    step(
        &sent,
        Input::CreateAccepted {
            location: "http://up/instances/1".into(),
        },
        2,
    )
}

/// A status answer: its meaning (as the wire crate reads it) and its literal.
fn seen(progress: Progress, raw: &str) -> Input {
    Input::StatusSeen {
        progress,
        raw: raw.into(),
    }
}

fn file() -> StoredFile {
    StoredFile {
        path: "/out/report.csv".into(),
        bytes: 42,
        sha256: "00ff".into(),
    }
}

fn failure() -> Failure {
    Failure {
        kind: FailureKind::Upstream,
        http_status: Some(400),
        code: Some(19032),
        message: "missing".into(),
    }
}

fn refused(job: &Job, input: Input) -> StateName {
    match job.apply(input, at(1_000_000)) {
        Err(CoreError::Rejected { state, .. }) => state,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_new_job_asks_for_a_create() {
    let job = account_job();
    assert_eq!(job.state, JobState::requested(T0));
    assert_eq!(job.effect(), Effect::Create { at: T0 });
    assert_eq!((job.attempt, job.creations, job.version), (1, 0, 0));
}

#[test]
fn create_sending_counts_the_creation_and_must_be_flushed() {
    let job = account_job();
    let sent = step(&job, Input::CreateSending, 5);
    assert_eq!(
        sent.state,
        JobState::Requested {
            unconfirmed: 1,
            in_doubt: true,
            next_at: T0,
            last_error: None
        }
    );
    assert_eq!(sent.creations, 1);
    assert_eq!(sent.version, 1);
    assert_eq!(sent.updated_at, at(5));
    assert!(Job::must_flush(&job, &sent));
}

#[test]
fn an_account_report_sent_but_unconfirmed_is_reconciled_first() {
    let sent = step(&account_job(), Input::CreateSending, 0);
    assert_eq!(sent.effect(), Effect::Reconcile { since: T0, at: T0 });
    assert_eq!(
        refused(&sent, Input::CreateSending),
        StateName::Requested,
        "no second create while the first one's answer is unknown"
    );
    let nothing = step(&sent, Input::ReconcileFoundNothing, 10);
    assert_eq!(nothing.effect(), Effect::Create { at: at(10) });
    assert_eq!(nothing.creations, 1, "the count of requests sent stays");
    assert_eq!(
        nothing.unconfirmed_creates(),
        1,
        "finding nothing does not reset the count"
    );
}

#[test]
fn a_billing_report_sent_but_unconfirmed_is_posted_again() {
    let sent = step(&billing_job(), Input::CreateSending, 0);
    assert_eq!(sent.effect(), Effect::Create { at: T0 });
    assert_eq!(
        refused(&sent, Input::ReconcileFoundNothing),
        StateName::Requested
    );
    let again = step(&sent, Input::CreateSending, 1);
    assert_eq!((again.unconfirmed_creates(), again.creations), (2, 2));
}

#[test]
fn create_accepted_records_the_location_durably() {
    let sent = step(&account_job(), Input::CreateSending, 1);
    let job = step(
        &sent,
        Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        2,
    );
    let JobState::Created { upstream } = &job.state else {
        panic!("{:?}", job.state)
    };
    assert_eq!(upstream.location, "http://up/i/1");
    assert_eq!(upstream.created_at, at(2));
    assert!(Job::must_flush(&sent, &job));
    let Effect::Poll { at: due, location } = job.effect() else {
        panic!()
    };
    assert_eq!(location, "http://up/i/1");
    assert_eq!(due, job.poll.next_poll_at(job.id, 0, at(2), at(2)));
    assert!(due > at(2));
}

#[test]
fn a_billing_204_ends_as_no_data() {
    let sent = step(&billing_job(), Input::CreateSending, 1);
    let job = step(&sent, Input::CreateNoData, 2);
    assert_eq!(job.state, JobState::NoData);
    assert_eq!(job.effect(), Effect::None);
    assert_eq!(
        refused(
            &step(&account_job(), Input::CreateSending, 1),
            Input::CreateNoData
        ),
        StateName::Requested
    );
}

#[test]
fn a_status_not_ready_moves_to_polling_with_a_later_due_time() {
    let job = created(account_job());
    let polling = step(&job, seen(Progress::NotReady, "Processing"), 3_000);
    let JobState::Polling {
        polls,
        next_poll_at,
        last_status,
        ..
    } = &polling.state
    else {
        panic!()
    };
    assert_eq!((*polls, last_status.as_str()), (1, "Processing"));
    assert_eq!(
        *next_poll_at,
        at(3_000).plus_ms(polling.poll.delay_ms(polling.id, 1))
    );
    assert!(!Job::must_flush(&job, &polling));
    let again = step(&polling, seen(Progress::NotReady, "Processing"), 6_000);
    let JobState::Polling { polls, .. } = again.state else {
        panic!()
    };
    assert_eq!(polls, 2);
}

#[test]
fn ready_and_completed_statuses_by_family() {
    let ready = step(&created(account_job()), seen(Progress::Ready, "Ready"), 3);
    assert!(matches!(ready.state, JobState::Ready { .. }));
    assert_eq!(
        ready.effect(),
        Effect::Download {
            at: at(3),
            location: "http://up/instances/1".into()
        }
    );
    for literal in ["COMPLETED", "COMPLETE"] {
        let done = step(&created(billing_job()), seen(Progress::Ready, literal), 3);
        assert!(
            matches!(done.state, JobState::Completed { .. }),
            "{literal}"
        );
    }
    let not_billing = step(
        &created(billing_job()),
        seen(Progress::NotReady, "Ready"),
        3,
    );
    assert_eq!(not_billing.state.name(), StateName::Polling);
}

#[test]
fn only_a_ready_status_may_ride_along_with_the_download_after_it() {
    let job = created(account_job());
    let ready = step(&job, seen(Progress::Ready, "Ready"), 3);
    assert!(Job::may_ride_along(&job, &ready, at(3)));
    let completed = step(
        &created(billing_job()),
        seen(Progress::Ready, "COMPLETED"),
        3,
    );
    assert!(Job::may_ride_along(
        &created(billing_job()),
        &completed,
        at(3)
    ));
    // Not a ready status: a status not ready waits for its next poll, an expired one ends the
    // job (a durability point), and a location is a durability point.
    let polling = step(&job, seen(Progress::NotReady, "Processing"), 3);
    assert!(!Job::may_ride_along(&job, &polling, at(3)));
    let expired = step(&job, seen(Progress::Expired, "Expired"), 3);
    assert!(!Job::may_ride_along(&job, &expired, at(3)));
    let requested = account_job();
    let sent = step(&requested, Input::CreateSending, 1);
    let located = step(
        &sent,
        Input::CreateAccepted {
            location: "http://up/instances/1".into(),
        },
        2,
    );
    assert!(!Job::may_ride_along(&sent, &located, at(2)));
    // A download due later (seen at 3, looked at before) does not ride.
    assert!(!Job::may_ride_along(&job, &ready, at(2)));
}

#[test]
fn expired_status_and_gone_outputs_end_as_expired() {
    let job = step(
        &created(account_job()),
        seen(Progress::Expired, "Expired"),
        3,
    );
    assert_eq!(job.state.name(), StateName::Expired);
    assert!(Job::must_flush(&created(account_job()), &job));
    let ready = step(&created(account_job()), seen(Progress::Ready, "Ready"), 3);
    let gone = step(
        &ready,
        Input::OutputGone {
            reason: "19049 output expired".into(),
        },
        4,
    );
    assert_eq!(
        gone.state,
        JobState::Expired {
            reason: "19049 output expired".into()
        }
    );
}

#[test]
fn a_file_stored_from_ready_is_downloaded() {
    let ready = step(&created(account_job()), seen(Progress::Ready, "ready"), 3);
    let done = step(&ready, Input::FileStored { file: file() }, 4);
    let JobState::Downloaded { file: stored, .. } = &done.state else {
        panic!()
    };
    assert_eq!(stored, &file());
    assert_eq!(done.effect(), Effect::None);
}

#[test]
fn a_202_on_the_file_goes_back_to_polling() {
    let ready = step(&created(account_job()), seen(Progress::Ready, "Ready"), 3);
    let back = step(&ready, Input::FileNotReady, 4);
    assert_eq!(back.state.name(), StateName::Polling);
}

#[test]
fn the_poll_deadline_fails_the_job_as_timed_out() {
    let job = created(account_job());
    let deadline_ms = job.poll.deadline_ms;
    assert_eq!(refused(&job, Input::DeadlinePassed), StateName::Created);
    let late = step(&job, Input::DeadlinePassed, deadline_ms + 2);
    let JobState::Failed { failure } = &late.state else {
        panic!()
    };
    assert_eq!(failure.kind, FailureKind::TimedOut);
    let late_status = step(
        &job,
        seen(Progress::NotReady, "Processing"),
        deadline_ms + 2,
    );
    assert_eq!(late_status.state.name(), StateName::Failed);
    let polling = step(&job, seen(Progress::NotReady, "Processing"), 10);
    let JobState::Polling { next_poll_at, .. } = polling.state.clone() else {
        panic!()
    };
    assert!(next_poll_at <= job.deadline().unwrap_or(Millis(0)));
}

#[test]
fn permanent_errors_fail_and_cancel_cancels_from_any_live_state() {
    for job in [
        account_job(),
        step(&account_job(), Input::CreateSending, 0),
        created(billing_job()),
    ] {
        let failed = step(&job, Input::PermanentError { failure: failure() }, 9);
        assert_eq!(failed.state, JobState::Failed { failure: failure() });
        assert_eq!(step(&job, Input::Cancel, 9).state, JobState::Cancelled);
    }
}

#[test]
fn retry_starts_a_new_attempt_of_an_ended_job() {
    let failed = step(
        &created(account_job()),
        Input::PermanentError { failure: failure() },
        9,
    );
    let again = step(&failed, Input::Retry, 20);
    assert_eq!(again.state, JobState::requested(at(20)));
    assert_eq!(
        (again.attempt, again.attempt_started_at, again.creations),
        (2, at(20), 1)
    );
    assert!(Job::must_flush(&failed, &again));
    for ended in [
        step(&account_job(), Input::Cancel, 1),
        step(
            &step(&billing_job(), Input::CreateSending, 1),
            Input::CreateNoData,
            2,
        ),
        step(
            &created(account_job()),
            Input::OutputGone {
                reason: "gone".into(),
            },
            3,
        ),
    ] {
        assert_eq!(
            step(&ended, Input::Retry, 5).state.name(),
            StateName::Requested
        );
    }
}

#[test]
fn terminal_states_absorb_every_other_input() {
    let ready = step(&created(account_job()), seen(Progress::Ready, "Ready"), 3);
    let done = step(&ready, Input::FileStored { file: file() }, 4);
    for input in [
        Input::Retry,
        Input::Cancel,
        Input::CreateSending,
        Input::FileStored { file: file() },
        seen(Progress::Ready, "Ready"),
        Input::PermanentError { failure: failure() },
    ] {
        assert_eq!(refused(&done, input), StateName::Downloaded);
    }
    let cancelled = step(&account_job(), Input::Cancel, 1);
    assert_eq!(refused(&cancelled, Input::Cancel), StateName::Cancelled);
}

#[test]
fn a_sample_of_inputs_that_make_no_sense() {
    let job = account_job();
    assert_eq!(
        refused(&job, seen(Progress::Ready, "Ready")),
        StateName::Requested
    );
    assert_eq!(
        refused(
            &job,
            Input::CreateAccepted {
                location: "http://x".into()
            }
        ),
        StateName::Requested
    );
    assert_eq!(refused(&job, Input::Retry), StateName::Requested);
    let sent = step(&job, Input::CreateSending, 0);
    assert_eq!(
        refused(
            &sent,
            Input::CreateAccepted {
                location: " ".into()
            }
        ),
        StateName::Requested
    );
    assert_eq!(
        refused(&sent, Input::FileStored { file: file() }),
        StateName::Requested
    );
    let c = created(account_job());
    assert_eq!(
        refused(&c, Input::FileStored { file: file() }),
        StateName::Created
    );
    assert_eq!(
        refused(
            &c,
            Input::CreateAccepted {
                location: "http://y".into()
            }
        ),
        StateName::Created
    );
    assert_eq!(refused(&c, Input::FileNotReady), StateName::Created);
    assert_eq!(refused(&c, Input::CreateSending), StateName::Created);
    let ready = step(&c, seen(Progress::Ready, "Ready"), 3);
    assert_eq!(
        refused(&ready, seen(Progress::Ready, "Ready")),
        StateName::Ready
    );
    assert_eq!(refused(&ready, Input::DeadlinePassed), StateName::Ready);
}

#[test]
fn a_refusal_says_what_to_do() {
    let done = step(
        &step(&account_job(), Input::CreateSending, 0),
        Input::PermanentError { failure: failure() },
        1,
    );
    let err = done.apply(Input::Cancel, at(2)).expect_err("terminal");
    assert_eq!(
        err.to_string(),
        "a job in state `failed` cannot take `cancel`: the job has ended; only `retry` starts it again"
    );
}
