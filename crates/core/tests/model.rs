//! Model-based test of the core: random input sequences with random time steps, checked
//! against a small reference model, with random store round trips ("restarts") in between.

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, Effect, Failure, FailureKind, Input, Job, JobId,
    JobKey, JobKind, JobSpec, JobState, Millis, OutputFormat, PollPolicy, StateName, StoredFile,
};
use std::collections::BTreeMap;

const DEADLINE_MS: u64 = 600_000;

fn policy() -> PollPolicy {
    PollPolicy {
        first_delay_ms: 1_000,
        growth_percent: 150,
        cap_ms: 30_000,
        jitter_percent: 10,
        deadline_ms: DEADLINE_MS,
    }
}

/// Status literals with what they must mean for (account, billing): 'r' ready, 'e' expired,
/// 'n' not ready. An oracle written independently of the core's classifier.
const STATUSES: &[(&str, char, char)] = &[
    ("Ready", 'r', 'n'),
    ("READY", 'r', 'n'),
    ("Expired", 'e', 'n'),
    ("Processing", 'n', 'n'),
    ("RECEIVED", 'n', 'n'),
    ("PROCESSING", 'n', 'n'),
    ("COMPLETED", 'n', 'r'),
    ("COMPLETE", 'n', 'r'),
    ("complete", 'n', 'r'),
    ("", 'n', 'n'),
    ("Something new", 'n', 'n'),
];

#[derive(Clone, Debug)]
struct Model {
    id: u64,
    kind: JobKind,
    name: StateName,
    sends: u32,
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
    prop_oneof![
        3 => Just(Input::CreateSending),
        3 => prop_oneof![Just(String::new()), Just("  ".to_string()), "http://u/[a-z0-9]{1,8}"]
            .prop_map(|location| Input::CreateAccepted { location }),
        1 => Just(Input::ReconcileFoundNothing),
        1 => Just(Input::CreateNoData),
        6 => (0..STATUSES.len()).prop_map(|i| Input::StatusSeen { raw: STATUSES[i].0.to_string() }),
        1 => Just(Input::FileNotReady),
        2 => Just(Input::FileStored { file: StoredFile { path: "/out/r.pdf".into(), bytes: 10, sha256: "ab".into() } }),
        1 => Just(Input::OutputGone { reason: "19049".into() }),
        1 => Just(Input::PermanentError { failure }),
        1 => Just(Input::DeadlinePassed),
        1 => Just(Input::Cancel),
        2 => Just(Input::Retry),
    ]
}

fn expected(m: &Model, input: &Input, now: u64) -> Option<Model> {
    use StateName::*;
    let mut n = m.clone();
    n.previous = m.name;
    let past_deadline = now >= m.created_at + DEADLINE_MS;
    let terminal = m.name.is_terminal();
    match input {
        Input::Retry if terminal && m.name != Downloaded => {
            n.name = Requested;
            n.sends = 0;
            n.attempt += 1;
        }
        _ if terminal => return None,
        Input::Retry => return None,
        Input::Cancel => n.name = Cancelled,
        Input::PermanentError { .. } => n.name = Failed,
        Input::CreateSending if m.name == Requested => {
            n.sends += 1;
            n.creations += 1;
        }
        _ if m.name == Requested && m.sends == 0 => return None,
        Input::CreateAccepted { location } if m.name == Requested => {
            if location.trim().is_empty() {
                return None;
            }
            n.name = Created;
            n.created_at = now;
        }
        Input::ReconcileFoundNothing if m.name == Requested && m.kind == JobKind::Account => {
            n.sends = 0;
        }
        Input::CreateNoData if m.name == Requested && m.kind == JobKind::Billing => n.name = NoData,
        Input::StatusSeen { raw } if matches!(m.name, Created | Polling) => {
            let (_, account, billing) = STATUSES.iter().find(|s| s.0 == raw).copied()?;
            let meaning = if m.kind == JobKind::Account {
                account
            } else {
                billing
            };
            n.name = match meaning {
                'r' if m.kind == JobKind::Account => Ready,
                'r' => Completed,
                'e' => Expired,
                _ if past_deadline => Failed,
                _ => Polling,
            };
        }
        Input::DeadlinePassed if matches!(m.name, Created | Polling) && past_deadline => {
            n.name = Failed
        }
        Input::OutputGone { .. } if matches!(m.name, Created | Polling | Ready | Completed) => {
            n.name = Expired
        }
        Input::FileNotReady if matches!(m.name, Ready | Completed) => {
            n.name = if past_deadline { Failed } else { Polling };
        }
        Input::FileStored { .. } if matches!(m.name, Ready | Completed) => n.name = Downloaded,
        _ => return None,
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
                sends: 0,
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
        let job = Job::new(JobId(m.id), key, spec, policy(), Millis(m.now));
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
        if let JobState::Requested { sends } = after.state {
            assert_eq!(sends, m.sends);
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
            check_delay(&mut sut, *polls, *next_poll_at, upstream.created_at, now);
        } else {
            sut.last_delay = None;
        }
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        let effect = sut.job.effect();
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
    let p = policy();
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
