//! Retries on simulated time, the way quinn's tests hold a `Pair` and a shared clock: a job and
//! a scripted upstream; each `step` jumps the clock to the due time of the job's effect and
//! feeds back what the upstream answers. No sockets, no sleeps. A store round trip (a restart)
//! can come between any two steps, and a process can die between sending a create and
//! recording its answer.

use reportflow_core::{
    AccountReportSpec, BillingReportSpec, Date, Effect, FailureKind, Input, Job, JobId, JobKey,
    JobKind, JobSpec, JobState, Millis, OutputFormat, Policies, Progress, RetryPolicy, StateName,
    StoredFile,
};
use std::collections::BTreeMap;

const T0: Millis = Millis(1_750_000_000_000);

/// What the scripted upstream answers to one effect.
type Answer = Box<dyn FnMut(&Effect) -> Input>;

/// A job, its upstream and the clock.
struct Pair {
    job: Job,
    now: Millis,
    upstream: Answer,
    /// Create requests that went out (the upstream's request count).
    posts: u32,
    /// When each step was carried out, with its effect.
    log: Vec<(Millis, Effect)>,
    /// Round-trip the job through its stored encoding before every step.
    restart_every_step: bool,
}

fn spec(kind: JobKind) -> JobSpec {
    match kind {
        JobKind::Account => JobSpec::Account(AccountReportSpec {
            account: "9900000".into(),
            report_id: 4,
            format: OutputFormat::Csv,
            params: BTreeMap::new(),
            expires_at: None,
        }),
        JobKind::Billing => JobSpec::Billing(BillingReportSpec {
            account: "9900000".into(),
            report_type: "BDR".into(),
            start: Date::constant(2026, 1, 1),
            end: Date::constant(2026, 1, 31),
        }),
    }
}

/// The store's encoding of a job (bincode, standard configuration), there and back.
fn round_trip(job: &Job) -> Job {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(job, config).expect("a job encodes");
    bincode::serde::decode_from_slice(&bytes, config)
        .expect("a job decodes")
        .0
}

impl Pair {
    fn new(kind: JobKind, retry: RetryPolicy, upstream: Answer) -> Pair {
        let spec = spec(kind);
        let policies = Policies {
            retry,
            ..Policies::default()
        };
        Pair {
            job: Job::new(JobId(42), JobKey::derived(&spec), spec, policies, T0),
            now: T0,
            upstream,
            posts: 0,
            log: Vec::new(),
            restart_every_step: false,
        }
    }

    fn apply(&mut self, input: Input) {
        self.job = match self.job.apply(input.clone(), self.now) {
            Ok(next) => next,
            Err(e) => panic!("{input:?} refused in {:?}: {e}", self.job.state),
        };
    }

    /// Jumps to the effect's due time and carries it out; false once the job has ended.
    fn step(&mut self) -> bool {
        if self.restart_every_step {
            self.job = round_trip(&self.job);
        }
        let effect = self.job.effect();
        let Some(due) = effect.due() else {
            return false;
        };
        assert!(
            due >= self.job.updated_at,
            "never due before the last step: {effect:?}"
        );
        self.now = self.now.max(due);
        self.log.push((self.now, effect.clone()));
        if let Effect::Create { .. } = effect {
            self.apply(Input::CreateSending);
            if self.job.state.name() != StateName::Requested {
                return true;
            }
            self.posts += 1;
        }
        let answer = (self.upstream)(&effect);
        self.apply(answer);
        true
    }

    /// Steps until the job ends (at most `limit` steps).
    fn run(&mut self, limit: usize) {
        for _ in 0..limit {
            if !self.step() {
                return;
            }
        }
        panic!("the job did not end within {limit} steps: {:?}", self.job);
    }

    /// The times at which creates were sent.
    fn create_times(&self) -> Vec<Millis> {
        self.log
            .iter()
            .filter(|(_, e)| matches!(e, Effect::Create { .. }))
            .map(|(t, _)| *t)
            .collect()
    }
}

/// An upstream that drops every create unapplied: no answer, nothing in the listing.
fn never_confirms() -> Answer {
    Box::new(|effect| match effect {
        Effect::Create { .. } => Input::CreateUnanswered {
            reason: "the connection was reset".into(),
        },
        Effect::Reconcile { .. } => Input::ReconcileFoundNothing,
        other => panic!("nothing was created, yet {other:?}"),
    })
}

/// An upstream that creates and answers, then fails every status request.
fn status_always_fails() -> Answer {
    Box::new(|effect| match effect {
        Effect::Create { .. } => Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        Effect::Poll { .. } => Input::StepFailed {
            reason: "HTTP 503 Service Unavailable".into(),
        },
        other => panic!("unexpected {other:?}"),
    })
}

fn failure_of(job: &Job) -> &reportflow_core::Failure {
    match &job.state {
        JobState::Failed { failure } => failure,
        other => panic!("not failed: {other:?}"),
    }
}

#[test]
fn the_create_budget_is_spent_after_exactly_the_configured_creates() {
    for kind in [JobKind::Account, JobKind::Billing] {
        let retry = RetryPolicy::default();
        let mut pair = Pair::new(kind, retry.clone(), never_confirms());
        pair.run(100);
        assert_eq!(pair.posts, retry.max_unconfirmed_creates, "{kind}");
        assert_eq!(pair.job.creations, retry.max_unconfirmed_creates);
        let failure = failure_of(&pair.job);
        assert_eq!(failure.kind, FailureKind::Unavailable);
        for part in [
            "8 create request(s) were sent in attempt 1 and none was confirmed",
            "the last error: the connection was reset",
            "`reportflow retry 42`",
        ] {
            assert!(failure.message.contains(part), "{kind}: {failure}");
        }
        // The whole budget within about three minutes, and within what the policy says.
        let spent = pair.now.since(T0);
        assert!(spent <= retry.create_budget_ms(), "{kind}: {spent} ms");
        assert!(spent < 180_000, "{kind}: {spent} ms");
        if kind == JobKind::Account {
            let searches = pair
                .log
                .iter()
                .filter(|(_, e)| matches!(e, Effect::Reconcile { .. }))
                .count();
            assert_eq!(
                searches, 8,
                "the listing is searched after every lost answer"
            );
        }
    }
}

#[test]
fn waits_between_creates_grow_with_jitter_and_stop_at_the_cap() {
    let retry = RetryPolicy {
        max_unconfirmed_creates: 12,
        ..RetryPolicy::default()
    };
    let mut pair = Pair::new(JobKind::Billing, retry.clone(), never_confirms());
    pair.run(100);
    let times = pair.create_times();
    assert_eq!(times.len(), 12);
    let waits: Vec<u64> = times.windows(2).map(|w| w[1].since(w[0])).collect();
    for (n, pair_of) in waits.windows(2).enumerate() {
        assert!(pair_of[1] >= pair_of[0], "wait {n} shrank: {waits:?}");
    }
    let jitter = 1.0 + f64::from(retry.jitter_percent) / 100.0;
    let first_low = (retry.first_delay_ms as f64 / jitter) as u64;
    assert!(waits[0] >= first_low && waits[0] as f64 <= retry.first_delay_ms as f64 * jitter);
    for wait in &waits {
        assert!(*wait as f64 <= retry.cap_ms as f64 * jitter, "{waits:?}");
    }
    assert_eq!(
        waits[waits.len() - 1],
        waits[waits.len() - 2],
        "capped: {waits:?}"
    );
    for (n, wait) in waits.iter().enumerate() {
        assert_eq!(*wait, retry.delay_ms(JobId(42), n as u32), "wait {n}");
    }
}

#[test]
fn finding_nothing_in_the_listing_does_not_reset_the_count() {
    let mut pair = Pair::new(JobKind::Account, RetryPolicy::default(), never_confirms());
    while pair.step() {
        if let JobState::Requested {
            unconfirmed,
            in_doubt: false,
            ..
        } = pair.job.state
        {
            assert_eq!(
                unconfirmed, pair.posts,
                "every create sent is still counted"
            );
        }
    }
    assert_eq!(pair.posts, 8);
}

#[test]
fn the_count_survives_a_restart_at_every_point() {
    let mut whole = Pair::new(JobKind::Account, RetryPolicy::default(), never_confirms());
    whole.run(100);
    let steps = whole.log.len();
    // A store round trip before every step gives exactly the same run.
    let mut restarted = Pair::new(JobKind::Account, RetryPolicy::default(), never_confirms());
    restarted.restart_every_step = true;
    restarted.run(100);
    assert_eq!(restarted.log, whole.log);
    assert_eq!(restarted.job, whole.job);
    // A process that dies between recording a create and recording its answer, at each create
    // in turn: the next one finds the job in doubt, searches the listing, and the create it
    // sent still counts.
    for dies_at in 0..whole.posts {
        let mut pair = Pair::new(JobKind::Account, RetryPolicy::default(), never_confirms());
        let mut creates = 0;
        loop {
            pair.job = round_trip(&pair.job);
            let effect = pair.job.effect();
            let Some(due) = effect.due() else { break };
            pair.now = pair.now.max(due);
            if matches!(effect, Effect::Create { .. }) && creates == dies_at {
                creates += 1;
                pair.apply(Input::CreateSending);
                pair.posts += 1;
                // ... the process dies here; the answer is never recorded.
                pair.job = round_trip(&pair.job);
                assert!(matches!(pair.job.effect(), Effect::Reconcile { .. }));
                continue;
            }
            if matches!(effect, Effect::Create { .. }) {
                creates += 1;
            }
            assert!(pair.step(), "{steps}");
        }
        assert_eq!(
            pair.posts, 8,
            "a crash after create {dies_at} changes nothing"
        );
        let failure = failure_of(&pair.job);
        assert!(failure.message.contains("8 create request(s)"), "{failure}");
    }
}

#[test]
fn a_billing_create_lost_to_a_crash_is_posted_again_and_counted() {
    let mut pair = Pair::new(JobKind::Billing, RetryPolicy::default(), never_confirms());
    pair.apply(Input::CreateSending);
    pair.posts += 1;
    let resumed = round_trip(&pair.job);
    assert_eq!(
        resumed.effect(),
        Effect::Create { at: T0 },
        "no listing to search"
    );
    pair.job = resumed;
    pair.run(100);
    assert_eq!(pair.posts, 8);
    assert_eq!(pair.job.state.name(), StateName::Failed);
}

#[test]
fn past_the_budget_a_create_is_refused_even_after_a_crash() {
    // The eighth billing create is recorded, then the process dies before its answer.
    let mut pair = Pair::new(JobKind::Billing, RetryPolicy::default(), never_confirms());
    while pair.posts < 7 {
        assert!(pair.step());
    }
    let effect = pair.job.effect();
    pair.now = pair.now.max(effect.due().expect("due"));
    pair.apply(Input::CreateSending);
    let resumed = round_trip(&pair.job);
    assert!(matches!(resumed.effect(), Effect::Create { .. }));
    let next = resumed
        .apply(Input::CreateSending, pair.now.plus_ms(10))
        .expect("applies");
    assert_eq!(
        next.state.name(),
        StateName::Failed,
        "the ninth is never sent"
    );
    assert_eq!(next.creations, 8);
}

#[test]
fn transient_poll_failures_back_off_and_end_the_job_after_the_budget() {
    let retry = RetryPolicy::default();
    let mut pair = Pair::new(JobKind::Account, retry.clone(), status_always_fails());
    pair.run(100);
    assert_eq!(
        pair.posts, 1,
        "a failing status never re-creates the report"
    );
    let polls: Vec<Millis> = pair
        .log
        .iter()
        .filter(|(_, e)| matches!(e, Effect::Poll { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(polls.len() as u32, retry.max_step_failures);
    let waits: Vec<u64> = polls.windows(2).map(|w| w[1].since(w[0])).collect();
    for (n, wait) in waits.iter().enumerate() {
        assert_eq!(*wait, retry.delay_ms(JobId(42), n as u32), "wait {n}");
    }
    let failure = failure_of(&pair.job);
    assert_eq!(failure.kind, FailureKind::Unavailable);
    assert!(
        failure
            .message
            .contains("10 tries in a row failed while asking for the report's status"),
        "{failure}"
    );
    assert!(failure.message.contains("HTTP 503"), "{failure}");
    assert!(polls[polls.len() - 1].since(polls[0]) <= retry.step_budget_ms());
}

#[test]
fn a_step_that_succeeds_resets_the_failures() {
    let mut answers = 0u32;
    let upstream: Answer = Box::new(move |effect| match effect {
        Effect::Create { .. } => Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        // Nine failures, one answer "not ready", nine failures, then ready.
        Effect::Poll { .. } => {
            answers += 1;
            match answers {
                10 => Input::StatusSeen {
                    progress: Progress::NotReady,
                    raw: "Processing".into(),
                },
                20 => Input::StatusSeen {
                    progress: Progress::Ready,
                    raw: "Ready".into(),
                },
                _ => Input::StepFailed {
                    reason: "reset".into(),
                },
            }
        }
        Effect::Download { .. } => Input::FileStored {
            file: StoredFile {
                path: "/out/r.csv".into(),
                bytes: 1,
                sha256: "00".into(),
            },
        },
        other => panic!("unexpected {other:?}"),
    });
    let mut pair = Pair::new(JobKind::Account, RetryPolicy::default(), upstream);
    pair.run(100);
    assert_eq!(pair.job.state.name(), StateName::Downloaded);
    assert_eq!(pair.job.backoff, None);
}

#[test]
fn a_failed_download_waits_and_never_re_creates() {
    let mut downloads = 0;
    let upstream: Answer = Box::new(move |effect| match effect {
        Effect::Create { .. } => Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        Effect::Poll { .. } => Input::StatusSeen {
            progress: Progress::Ready,
            raw: "Ready".into(),
        },
        Effect::Download { .. } => {
            downloads += 1;
            Input::StepFailed {
                reason: format!("the file ended early ({downloads})"),
            }
        }
        other => panic!("unexpected {other:?}"),
    });
    let mut pair = Pair::new(JobKind::Billing, RetryPolicy::default(), upstream);
    pair.run(100);
    assert_eq!(pair.posts, 1);
    let failure = failure_of(&pair.job);
    assert!(
        failure.message.contains("while downloading the file"),
        "{failure}"
    );
    assert!(failure.message.contains("ended early (10)"), "{failure}");
}

/// An upstream that answers every create with a 429 (nothing created).
fn refuses_creates() -> Answer {
    Box::new(|effect| match effect {
        Effect::Create { .. } => Input::StepFailed {
            reason: "HTTP 429 Too Many Requests".into(),
        },
        Effect::Reconcile { .. } => Input::ReconcileFoundNothing,
        other => panic!("unexpected {other:?}"),
    })
}

#[test]
fn transient_create_answers_count_toward_the_create_budget() {
    for kind in [JobKind::Account, JobKind::Billing] {
        let retry = RetryPolicy {
            max_step_failures: 100,
            ..RetryPolicy::default()
        };
        let mut pair = Pair::new(kind, retry, refuses_creates());
        pair.run(200);
        assert_eq!(pair.posts, 8, "{kind}: at most the budget of creates");
        let failure = failure_of(&pair.job);
        assert!(failure.message.contains("HTTP 429"), "{failure}");
        let waits: Vec<u64> = pair
            .create_times()
            .windows(2)
            .map(|w| w[1].since(w[0]))
            .collect();
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{kind}: {waits:?}");
    }
}

#[test]
fn an_expired_output_is_re_requested_at_most_the_configured_times() {
    let upstream: Answer = Box::new(|effect| match effect {
        Effect::Create { .. } => Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        Effect::Poll { .. } => Input::StatusSeen {
            progress: Progress::Ready,
            raw: "Ready".into(),
        },
        Effect::Download { .. } => Input::OutputGone {
            reason: "19049 report output expired".into(),
        },
        other => panic!("unexpected {other:?}"),
    });
    let retry = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let mut pair = Pair::new(JobKind::Account, retry, upstream);
    pair.restart_every_step = true;
    pair.run(100);
    assert_eq!(pair.job.state.name(), StateName::Expired);
    assert_eq!((pair.job.attempt, pair.posts), (3, 3));
    // With the default policy the first expiry ends the job.
    let upstream: Answer = Box::new(|effect| match effect {
        Effect::Create { .. } => Input::CreateAccepted {
            location: "http://up/i/1".into(),
        },
        _ => Input::OutputGone {
            reason: "gone".into(),
        },
    });
    let mut once = Pair::new(JobKind::Billing, RetryPolicy::default(), upstream);
    once.run(10);
    assert_eq!((once.job.attempt, once.posts), (1, 1));
    assert_eq!(once.job.state.name(), StateName::Expired);
}

#[test]
fn a_new_attempt_starts_with_a_fresh_budget() {
    let mut pair = Pair::new(JobKind::Account, RetryPolicy::default(), never_confirms());
    pair.run(100);
    pair.apply(Input::Retry);
    assert_eq!(pair.job.unconfirmed_creates(), 0);
    pair.run(100);
    assert_eq!(pair.posts, 16);
    assert_eq!(pair.job.attempt, 2);
    assert!(failure_of(&pair.job).message.contains("in attempt 2"));
}
