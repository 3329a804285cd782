//! Model-based test of the core: random input sequences with random time steps, checked
//! against a small reference model, with random store round trips ("restarts") in between.

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, Effect, Failure, FailureKind, Input, Job, JobId,
    JobKey, JobKind, JobSpec, JobState, Millis, OutputFormat, Policies, PollPolicy, Progress,
    RetryPolicy, StateName, StoredFile,
};
use std::collections::BTreeMap;

const DEADLINE_MS: u64 = 600_000;
/// Small budgets, so that random sequences reach them.
const MAX_CREATES: u32 = 4;
const MAX_FAILURES: u32 = 3;
const MAX_ATTEMPTS: u32 = 2;

fn policies() -> Policies {
    Policies {
        poll: PollPolicy {
            first_delay_ms: 1_000,
            growth_percent: 150,
            cap_ms: 30_000,
            jitter_percent: 10,
            deadline_ms: DEADLINE_MS,
        },
        retry: RetryPolicy {
            first_delay_ms: 500,
            growth_percent: 200,
            cap_ms: 20_000,
            jitter_percent: 10,
            max_unconfirmed_creates: MAX_CREATES,
            max_step_failures: MAX_FAILURES,
            max_attempts: MAX_ATTEMPTS,
        },
    }
}

#[derive(Clone, Debug)]
struct Model {
    id: u64,
    kind: JobKind,
    name: StateName,
    unconfirmed: u32,
    in_doubt: bool,
    failures: u32,
    now: u64,
    created_at: u64,
    attempt: u32,
    creations: u32,
    version: u64,
    accepted: bool,
    previous: StateName,
}

#[derive(Clone, Debug)]
enum Step {
    Input { input: Input, advance_ms: u64 },
    Restart,
}

fn any_input() -> impl Strategy<Value = Input> {
    let failure = Failure {
        kind: FailureKind::Upstream,
        http_status: Some(400),
        code: Some(19032),
        message: "missing parameter".into(),
    };
    let progress = prop_oneof![
        Just(Progress::NotReady),
        Just(Progress::Ready),
        Just(Progress::Expired)
    ];
    prop_oneof![
        3 => Just(Input::CreateSending),
        3 => prop_oneof![Just(String::new()), Just("  ".to_string()), "http://u/[a-z0-9]{1,8}"]
            .prop_map(|location| Input::CreateAccepted { location }),
        2 => Just(Input::CreateUnanswered { reason: "connection reset".into() }),
        1 => Just(Input::ReconcileFoundNothing),
        1 => Just(Input::CreateNoData),
        6 => (progress, "[A-Za-z ]{0,10}").prop_map(|(progress, raw)| Input::StatusSeen { progress, raw }),
        1 => Just(Input::FileNotReady),
        2 => Just(Input::FileStored { file: StoredFile { path: "/out/r.pdf".into(), bytes: 10, sha256: "ab".into() } }),
        1 => Just(Input::OutputGone { reason: "19049".into() }),
        3 => Just(Input::StepFailed { reason: "HTTP 503".into() }),
        1 => Just(Input::PermanentError { failure }),
        1 => Just(Input::DeadlinePassed),
        1 => Just(Input::Cancel),
        2 => Just(Input::Retry),
    ]
}

/// A new attempt of the model's job.
fn new_attempt(n: &mut Model) {
    n.name = StateName::Requested;
    n.unconfirmed = 0;
    n.in_doubt = false;
    n.attempt += 1;
}

/// The output is gone: re-requested while attempts remain, else expired.
fn expire(n: &mut Model) {
    if n.attempt < MAX_ATTEMPTS {
        new_attempt(n);
    } else {
        n.name = StateName::Expired;
    }
}

fn expected(m: &Model, input: &Input, now: u64) -> Option<Model> {
    use StateName::*;
    let mut n = m.clone();
    n.previous = m.name;
    let past_deadline = now >= m.created_at + DEADLINE_MS;
    let terminal = m.name.is_terminal();
    let account = m.kind == JobKind::Account;
    let spent = m.unconfirmed >= MAX_CREATES;
    match input {
        Input::Retry if terminal && m.name != Downloaded => new_attempt(&mut n),
        _ if terminal => return None,
        Input::Retry => return None,
        Input::Cancel => n.name = Cancelled,
        Input::PermanentError { .. } => n.name = Failed,
        Input::StepFailed { .. } => {
            n.failures += 1;
            if n.failures >= MAX_FAILURES {
                n.name = Failed;
            } else if m.name == Requested && !account {
                n.in_doubt = false;
                if spent {
                    n.name = Failed;
                }
            }
        }
        Input::CreateSending if m.name == Requested => {
            if m.in_doubt && account {
                return None;
            }
            if spent {
                n.name = Failed;
            } else {
                n.unconfirmed += 1;
                n.in_doubt = true;
                n.creations += 1;
            }
        }
        _ if m.name == Requested && !m.in_doubt => return None,
        Input::CreateAccepted { location } if m.name == Requested => {
            if location.trim().is_empty() {
                return None;
            }
            n.name = Created;
            n.created_at = now;
        }
        Input::CreateNoData if m.name == Requested && !account => n.name = NoData,
        Input::CreateUnanswered { .. } if m.name == Requested => {
            if !account && spent {
                n.name = Failed;
            }
            n.in_doubt = account;
        }
        Input::ReconcileFoundNothing if m.name == Requested && account => {
            if spent {
                n.name = Failed;
            }
            n.in_doubt = false;
        }
        Input::StatusSeen { progress, .. } if matches!(m.name, Created | Polling) => {
            match (progress, m.kind) {
                (Progress::Ready, JobKind::Account) => n.name = Ready,
                (Progress::Ready, JobKind::Billing) => n.name = Completed,
                (Progress::Expired, _) => expire(&mut n),
                (Progress::NotReady, _) if past_deadline => n.name = Failed,
                (Progress::NotReady, _) => n.name = Polling,
            }
        }
        Input::DeadlinePassed if matches!(m.name, Created | Polling) && past_deadline => {
            n.name = Failed
        }
        Input::OutputGone { .. } if matches!(m.name, Created | Polling | Ready | Completed) => {
            expire(&mut n)
        }
        Input::FileNotReady if matches!(m.name, Ready | Completed) => {
            n.name = if past_deadline { Failed } else { Polling };
        }
        Input::FileStored { .. } if matches!(m.name, Ready | Completed) => n.name = Downloaded,
        _ => return None,
    }
    let setback = matches!(
        input,
        Input::StepFailed { .. }
            | Input::CreateSending
            | Input::CreateUnanswered { .. }
            | Input::ReconcileFoundNothing
    );
    if !setback || n.name.is_terminal() {
        n.failures = 0;
    }
    n.version += 1;
    Some(n)
}

struct RefMachine;

impl ReferenceStateMachine for RefMachine {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        (any::<u64>(), any::<bool>(), 0u64..1_000_000_000_000)
            .prop_map(|(id, billing, now)| Model {
                id,
                kind: if billing {
                    JobKind::Billing
                } else {
                    JobKind::Account
                },
                name: StateName::Requested,
                unconfirmed: 0,
                in_doubt: false,
                failures: 0,
                now,
                created_at: 0,
                attempt: 1,
                creations: 0,
                version: 0,
                accepted: true,
                previous: StateName::Requested,
            })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            10 => (any_input(), prop_oneof![Just(0u64), 0u64..5_000, 0u64..400_000])
                .prop_map(|(input, advance_ms)| Step::Input { input, advance_ms }),
            1 => Just(Step::Restart),
        ]
        .boxed()
    }

    fn apply(mut m: Model, step: &Step) -> Model {
        if let Step::Input { input, advance_ms } = step {
            m.now += advance_ms;
            match expected(&m, input, m.now) {
                Some(mut next) => {
                    next.accepted = true;
                    return next;
                }
                None => {
                    m.accepted = false;
                    m.previous = m.name;
                }
            }
        }
        m
    }
}

struct Sut {
    job: Job,
    resumed: Job,
    last_delay: Option<(u32, u64)>,
}

fn round_trip(job: &Job) -> Job {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(job, config).expect("a job encodes");
    bincode::serde::decode_from_slice(&bytes, config)
        .expect("a job decodes")
        .0
}

struct CoreTest;

impl StateMachineTest for CoreTest {
    type SystemUnderTest = Sut;
    type Reference = RefMachine;

    fn init_test(m: &Model) -> Sut {
        let spec = match m.kind {
            JobKind::Account => JobSpec::Account(AccountReportSpec {
                account: "9900000".into(),
                report_id: 2,
                format: OutputFormat::Pdf,
                params: BTreeMap::new(),
                expires_at: None,
            }),
            JobKind::Billing => JobSpec::Billing(BillingReportSpec {
                account: "9900000".into(),
                report_type: "BDR".into(),
                start: Date::constant(2026, 1, 1),
                end: Date::constant(2026, 1, 31),
            }),
        };
        let key = JobKey::derived(&spec);
        let job = Job::new(JobId(m.id), key, spec, policies(), Millis(m.now));
        Sut {
            resumed: job.clone(),
            job,
            last_delay: None,
        }
    }

    fn apply(mut sut: Sut, m: &Model, step: Step) -> Sut {
        let input = match step {
            Step::Restart => {
                sut.resumed = round_trip(&sut.resumed);
                assert_eq!(sut.resumed, sut.job, "a store round trip changes nothing");
                return sut;
            }
            Step::Input { input, .. } => input,
        };
        let before = sut.job.clone();
        let now = Millis(m.now);
        let result = before.apply(input.clone(), now);
        let resumed = sut.resumed.apply(input.clone(), now);
        assert_eq!(
            result, resumed,
            "a resumed job answers exactly like an uninterrupted one"
        );
        assert_eq!(
            result.is_ok(),
            m.accepted,
            "accepted per the model: {input:?} in {:?}",
            before.state
        );
        if before.state.is_terminal() && !matches!(input, Input::Retry) {
            assert!(result.is_err(), "terminal states absorb {input:?}");
        }
        let Ok(after) = result else {
            return sut;
        };
        sut.job = after.clone();
        sut.resumed = after.clone();
        assert_eq!(after.state.name(), m.name);
        assert_eq!(after.version, before.version + 1);
        assert_eq!(after.attempt, m.attempt);
        assert_eq!(after.creations, m.creations);
        if let JobState::Requested {
            unconfirmed,
            in_doubt,
            ..
        } = &after.state
        {
            assert_eq!((*unconfirmed, *in_doubt), (m.unconfirmed, m.in_doubt));
            assert!(*unconfirmed <= MAX_CREATES, "never past the create budget");
        }
        assert_eq!(
            after.backoff.as_ref().map_or(0, |b| b.failures),
            m.failures,
            "failures in a row"
        );
        if let (Some(b), Input::StepFailed { .. }) = (&after.backoff, &input) {
            assert!(b.retry_at > now, "a failed step waits");
        }
        if after.state.name() == StateName::Downloaded {
            assert!(matches!(
                before.state.name(),
                StateName::Ready | StateName::Completed
            ));
        }
        if let JobState::Polling {
            upstream,
            polls,
            next_poll_at,
            ..
        } = &after.state
        {
            // A failed step leaves the schedule as it was (its backoff decides the wait).
            if !matches!(input, Input::StepFailed { .. }) {
                check_delay(&mut sut, *polls, *next_poll_at, upstream.created_at, now);
            }
        } else {
            sut.last_delay = None;
        }
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        let effect = sut.job.effect();
        if let Some(b) = &sut.job.backoff {
            assert!(
                effect.due().is_some_and(|due| due >= b.retry_at),
                "no step before its backoff: {effect:?} {b:?}"
            );
        }
        if m.name == StateName::Requested && m.in_doubt && m.kind == JobKind::Account {
            assert!(matches!(effect, Effect::Reconcile { .. }), "{effect:?}");
        }
        assert_eq!(
            effect == Effect::None,
            m.name.is_terminal(),
            "{effect:?} in {:?}",
            m.name
        );
        assert_eq!(effect, sut.resumed.effect());
    }
}

/// Poll delays stay within the jitter bounds of the base delay, and never shrink.
fn check_delay(sut: &mut Sut, polls: u32, next: Millis, created_at: Millis, now: Millis) {
    let p = policies().poll;
    let deadline = created_at.plus_ms(p.deadline_ms);
    assert!(next <= deadline, "never polls after the deadline");
    assert!(next > now, "the next poll lies in the future");
    if next == deadline {
        sut.last_delay = None;
        return;
    }
    let delay = next.since(now);
    let base = p.base_delay_ms(polls);
    assert!(
        delay * 10 >= base * 9 && delay * 10 <= base * 11 + 10,
        "delay {delay} vs base {base}"
    );
    if let Some((prev_polls, prev_delay)) = sut.last_delay
        && polls == prev_polls + 1
    {
        assert!(
            delay >= prev_delay,
            "delays never shrink: {prev_delay} then {delay}"
        );
    }
    sut.last_delay = Some((polls, delay));
}

prop_state_machine! {
    #![proptest_config(Config { cases: 256, ..Config::default() })]
    #[test]
    fn core_follows_the_model(sequential 1..80 => CoreTest);
}

proptest! {
    #[test]
    fn delays_grow_to_the_cap_and_stay_in_jitter_bounds(id in any::<u64>(), first in 1u64..10_000, growth in 100u32..400, extra in 0u64..100_000, jitter in 0u32..=50) {
        let p = PollPolicy { first_delay_ms: first, growth_percent: growth, cap_ms: first + extra, jitter_percent: jitter, deadline_ms: 1 };
        prop_assert!(p.validate().is_ok());
        let mut last = 0;
        for n in 0..200 {
            let base = p.base_delay_ms(n);
            prop_assert!(base <= p.cap_ms);
            let d = p.delay_ms(JobId(id), n);
            prop_assert!(d >= last, "delay {} shrank to {}", last, d);
            prop_assert_eq!(d, p.delay_ms(JobId(id), n), "same job, same schedule");
            let lo = base as u128 * (100 - jitter as u128);
            let hi = base as u128 * (100 + jitter as u128);
            prop_assert!((d as u128) * 100 + 100 >= lo && (d as u128) * 100 <= hi + 100);
            last = d;
        }
        prop_assert_eq!(p.base_delay_ms(100_000), if growth == 100 { first } else { p.cap_ms });
    }
}
