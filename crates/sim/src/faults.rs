//! Endpoint classes, fault kinds, fault plans and the seeded fault generator.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A class of endpoints: faults, scripts, rate limits and request counts are kept per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `GET /accounts/{a}/reports` and `GET /accounts/{a}/reports/{r}`.
    Catalogue,
    /// Instance listings: `GET .../reports/{r}/instances` and `GET .../reports/instances`.
    Listing,
    /// `POST .../reports/{r}/instances` and `POST .../billingReports`.
    Create,
    /// `GET` of an instance or of a billing report (its `Location`).
    Status,
    /// `GET {location}/file` on the API origin (account and billing).
    File,
    /// `GET` of a signed download URL on the second origin (after a 307).
    RedirectedFile,
    /// `POST /api/v1/oauth2/token`.
    Token,
    /// Anything else (unknown paths); never gets faults.
    Other,
}

impl Endpoint {
    /// Every endpoint class, in a stable order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Catalogue,
        Endpoint::Listing,
        Endpoint::Create,
        Endpoint::Status,
        Endpoint::File,
        Endpoint::RedirectedFile,
        Endpoint::Token,
        Endpoint::Other,
    ];

    /// The kebab-case name used by `Display` and `FromStr` (e.g. `redirected-file`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Catalogue => "catalogue",
            Endpoint::Listing => "listing",
            Endpoint::Create => "create",
            Endpoint::Status => "status",
            Endpoint::File => "file",
            Endpoint::RedirectedFile => "redirected-file",
            Endpoint::Token => "token",
            Endpoint::Other => "other",
        }
    }
}

/// One thing the simulator can do to a request instead of (or on top of) answering it normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// No fault: answer normally (useful inside scripts to let a request through).
    Pass,
    /// `500 Internal Server Error` (HTML body), no side effect.
    InternalError,
    /// `502 Bad Gateway` (HTML body), no side effect.
    BadGateway,
    /// `503 Service Unavailable` with error 19031 (15606 on billing routes), no side effect.
    ServiceUnavailable,
    /// `504 Gateway Timeout` (HTML body), no side effect.
    GatewayTimeout,
    /// `429` with an empty body and `X-RateLimit-Reset` in epoch seconds, no side effect.
    RateLimitedSeconds,
    /// `429` with an empty body and `X-RateLimit-Reset` in epoch milliseconds, no side effect.
    RateLimitedMillis,
    /// The connection is reset (TCP RST) before any response, no side effect.
    ConnectionReset,
    /// The request is handled, headers go out with the full `Content-Length`, then the
    /// connection closes after half of the body.
    CutShortBody,
    /// The request is handled, half of the body goes out, then nothing more until shutdown.
    StalledBody,
    /// A `200` whose body is truncated, malformed XML (JSON on the token endpoint), no side effect.
    MalformedXml,
    /// A `200` whose body is an error envelope (19031 / 15606), no side effect.
    ErrorIn200,
    /// The answer is delayed by [`FaultPlan::latency`], then given normally.
    Latency,
    /// The request is applied (e.g. the report is created), then the connection is closed
    /// without any response.
    AppliedResponseLost,
}

impl Fault {
    /// Every fault kind, `Pass` first.
    pub const ALL: [Fault; 14] = [
        Fault::Pass,
        Fault::InternalError,
        Fault::BadGateway,
        Fault::ServiceUnavailable,
        Fault::GatewayTimeout,
        Fault::RateLimitedSeconds,
        Fault::RateLimitedMillis,
        Fault::ConnectionReset,
        Fault::CutShortBody,
        Fault::StalledBody,
        Fault::MalformedXml,
        Fault::ErrorIn200,
        Fault::Latency,
        Fault::AppliedResponseLost,
    ];

    /// The kebab-case name used by `Display` and `FromStr` (e.g. `applied-response-lost`).
    pub fn name(self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::InternalError => "internal-error",
            Fault::BadGateway => "bad-gateway",
            Fault::ServiceUnavailable => "service-unavailable",
            Fault::GatewayTimeout => "gateway-timeout",
            Fault::RateLimitedSeconds => "rate-limited-seconds",
            Fault::RateLimitedMillis => "rate-limited-millis",
            Fault::ConnectionReset => "connection-reset",
            Fault::CutShortBody => "cut-short-body",
            Fault::StalledBody => "stalled-body",
            Fault::MalformedXml => "malformed-xml",
            Fault::ErrorIn200 => "error-in-200",
            Fault::Latency => "latency",
            Fault::AppliedResponseLost => "applied-response-lost",
        }
    }
}

/// An unknown name given to [`Endpoint::from_str`] or [`Fault::from_str`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}; expected one of: {expected}")]
pub struct UnknownName {
    what: &'static str,
    name: String,
    expected: String,
}

fn parse_name<T: Copy>(
    what: &'static str,
    name: &str,
    all: &[T],
    to_name: fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| to_name(*v) == name)
        .ok_or_else(|| UnknownName {
            what,
            name: name.to_owned(),
            expected: all
                .iter()
                .map(|v| to_name(*v))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `Display` and `FromStr` through the enum's `name()` and `ALL`.
macro_rules! named {
    ($type:ty, $what:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $type {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_name($what, s, &<$type>::ALL, <$type>::name)
            }
        }
    };
}

named!(Endpoint, "endpoint");
named!(Fault, "fault");

/// One line of a fault plan: on `endpoint` (or every endpoint when `None`), for requests of
/// `account` (or of every account when `None`), inject `fault` with `probability`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// The endpoint class the rule applies to; `None` means every class but [`Endpoint::Other`].
    pub endpoint: Option<Endpoint>,
    /// The account whose requests the rule applies to (the `{a}` of `/accounts/{a}/...`);
    /// `None` means every request, with or without an account.
    pub account: Option<String>,
    /// The fault to inject.
    pub fault: Fault,
    /// Probability in `0.0..=1.0` for each request of the class.
    pub probability: f64,
}

impl FaultRule {
    fn applies_to(&self, endpoint: Endpoint, account: Option<&str>) -> bool {
        self.endpoint.is_none_or(|e| e == endpoint)
            && self.account.as_deref().is_none_or(|a| Some(a) == account)
    }
}

/// Random faults: a list of rules plus the parameters some faults need.
///
/// For each request of an endpoint class one number is drawn from that class's ChaCha stream
/// (seeded from [`crate::SimConfig::seed`]); the rules that apply to the class are walked in order,
/// adding up their probabilities, and the first whose running sum exceeds the draw wins.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// The rules, walked in order.
    pub rules: Vec<FaultRule>,
    /// Delay added by [`Fault::Latency`]. Default 1 s.
    pub latency: Duration,
    /// How far in the future the `X-RateLimit-Reset` of a [`Fault::RateLimitedSeconds`] or
    /// [`Fault::RateLimitedMillis`] lies. Default 1 s.
    pub rate_limit_reset_after: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            rules: Vec::new(),
            latency: Duration::from_secs(1),
            rate_limit_reset_after: Duration::from_secs(1),
        }
    }
}

impl FaultPlan {
    /// A plan with no random faults (scripts still apply).
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// Adds a rule for one endpoint class.
    pub fn on(mut self, endpoint: Endpoint, fault: Fault, probability: f64) -> Self {
        self.rules.push(FaultRule {
            endpoint: Some(endpoint),
            account: None,
            fault,
            probability,
        });
        self
    }

    /// Adds a rule for one endpoint class and the requests of one account only: e.g. an
    /// upstream that resets every create of one account (nothing created, no answer) while
    /// the other accounts' jobs go through.
    pub fn on_account(
        mut self,
        account: &str,
        endpoint: Endpoint,
        fault: Fault,
        probability: f64,
    ) -> Self {
        self.rules.push(FaultRule {
            endpoint: Some(endpoint),
            account: Some(account.to_string()),
            fault,
            probability,
        });
        self
    }

    /// Adds a rule for every endpoint class.
    pub fn everywhere(mut self, fault: Fault, probability: f64) -> Self {
        self.rules.push(FaultRule {
            endpoint: None,
            account: None,
            fault,
            probability,
        });
        self
    }

    /// Every fault kind on every endpoint class, each with `probability` (at most 1/13).
    pub fn chaos(probability: f64) -> Self {
        Fault::ALL[1..].iter().fold(FaultPlan::none(), |plan, f| {
            plan.everywhere(*f, probability)
        })
    }

    /// Checks that probabilities are in `0..=1` and add up to at most 1 per endpoint class (and
    /// account, for the rules of one account).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(r) = self
            .rules
            .iter()
            .find(|r| !(0.0..=1.0).contains(&r.probability))
        {
            return Err(format!(
                "fault {} has probability {}; use a number between 0 and 1",
                r.fault, r.probability
            ));
        }
        let mut accounts: Vec<Option<&str>> = vec![None];
        accounts.extend(
            self.rules
                .iter()
                .filter_map(|r| r.account.as_deref().map(Some)),
        );
        for endpoint in Endpoint::ALL {
            for account in &accounts {
                let sum: f64 = self
                    .rules
                    .iter()
                    .filter(|r| r.applies_to(endpoint, *account))
                    .map(|r| r.probability)
                    .sum();
                if sum > 1.0 + 1e-9 {
                    let whose = account
                        .map(|a| format!(" for account {a}"))
                        .unwrap_or_default();
                    return Err(format!(
                        "fault probabilities on endpoint {endpoint}{whose} add up to {sum}; keep the sum at most 1"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One injected fault, as recorded in [`crate::SimStats::fault_log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultEvent {
    /// The endpoint class of the request.
    pub endpoint: Endpoint,
    /// The 1-based ordinal of the request among the requests of its class.
    pub request: u64,
    /// The fault injected.
    pub fault: Fault,
}

/// The seeded generator plus scripted queues.
pub(crate) struct FaultEngine {
    seed: u64,
    rngs: BTreeMap<Endpoint, ChaCha8Rng>,
    counts: BTreeMap<Endpoint, u64>,
    scripts: BTreeMap<Endpoint, VecDeque<Fault>>,
}

impl FaultEngine {
    pub(crate) fn new(seed: u64) -> Self {
        FaultEngine {
            seed,
            rngs: BTreeMap::new(),
            counts: BTreeMap::new(),
            scripts: BTreeMap::new(),
        }
    }

    /// Appends scripted faults for the next requests of `endpoint`.
    pub(crate) fn script(&mut self, endpoint: Endpoint, faults: Vec<Fault>) {
        self.scripts.entry(endpoint).or_default().extend(faults);
    }

    /// Drops every scripted fault not used yet.
    pub(crate) fn clear_scripts(&mut self) {
        self.scripts.clear();
    }

    /// The fault for the next request of `endpoint` (for `account`, when its path names one),
    /// with the request's ordinal in its class.
    ///
    /// A scripted fault wins and does not consume a random draw; otherwise exactly one number
    /// is drawn from the class's own stream, so the sequence for a class depends only on the
    /// seed, the plan and how many requests of that class came before.
    pub(crate) fn next(
        &mut self,
        endpoint: Endpoint,
        account: Option<&str>,
        plan: &FaultPlan,
    ) -> (Fault, u64) {
        let count = self.counts.entry(endpoint).or_default();
        *count += 1;
        let ordinal = *count;
        if let Some(fault) = self
            .scripts
            .get_mut(&endpoint)
            .and_then(VecDeque::pop_front)
        {
            return (fault, ordinal);
        }
        if endpoint == Endpoint::Other {
            return (Fault::Pass, ordinal);
        }
        let seed = self.seed;
        let rng = self.rngs.entry(endpoint).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(endpoint as u64 + 1);
            rng
        });
        let draw: f64 = rng.random();
        let mut sum = 0.0;
        for rule in plan
            .rules
            .iter()
            .filter(|r| r.applies_to(endpoint, account))
        {
            sum += rule.probability;
            if draw < sum {
                return (rule.fault, ordinal);
            }
        }
        (Fault::Pass, ordinal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
        }
        for e in Endpoint::ALL {
            assert_eq!(e.name().parse::<Endpoint>(), Ok(e));
        }
        assert!("nope".parse::<Fault>().is_err());
    }

    #[test]
    fn scripts_win_and_streams_are_per_class() {
        let plan = FaultPlan::none().everywhere(Fault::InternalError, 0.5);
        let mut a = FaultEngine::new(7);
        let mut b = FaultEngine::new(7);
        b.script(Endpoint::Create, vec![Fault::AppliedResponseLost]);
        assert_eq!(
            b.next(Endpoint::Create, None, &plan).0,
            Fault::AppliedResponseLost
        );
        // Interleaving another class does not change a class's sequence.
        let seq_a: Vec<_> = (0..50)
            .map(|_| a.next(Endpoint::Status, None, &plan).0)
            .collect();
        let seq_b: Vec<_> = (0..50)
            .map(|_| {
                b.next(Endpoint::File, None, &plan);
                b.next(Endpoint::Status, None, &plan).0
            })
            .collect();
        assert_eq!(seq_a, seq_b);
        assert!(seq_a.contains(&Fault::InternalError) && seq_a.contains(&Fault::Pass));
    }

    #[test]
    fn a_rule_of_one_account_spares_the_others() {
        let plan =
            FaultPlan::none().on_account("1111", Endpoint::Create, Fault::ConnectionReset, 1.0);
        assert!(plan.validate().is_ok());
        let mut engine = FaultEngine::new(3);
        for _ in 0..20 {
            assert_eq!(
                engine.next(Endpoint::Create, Some("1111"), &plan).0,
                Fault::ConnectionReset
            );
            assert_eq!(
                engine.next(Endpoint::Create, Some("9900000"), &plan).0,
                Fault::Pass
            );
            assert_eq!(
                engine.next(Endpoint::Status, Some("1111"), &plan).0,
                Fault::Pass
            );
            assert_eq!(engine.next(Endpoint::Create, None, &plan).0, Fault::Pass);
        }
        let too_much = plan.clone().on(Endpoint::Create, Fault::InternalError, 0.1);
        assert!(too_much.validate().is_err(), "1.1 for account 1111");
        let fine = plan.on_account("2222", Endpoint::Create, Fault::InternalError, 1.0);
        assert!(fine.validate().is_ok(), "each account on its own");
    }

    #[test]
    fn validation_rejects_bad_probabilities() {
        assert!(FaultPlan::chaos(0.05).validate().is_ok());
        assert!(FaultPlan::chaos(0.2).validate().is_err());
        assert!(
            FaultPlan::none()
                .on(Endpoint::File, Fault::Latency, -0.1)
                .validate()
                .is_err()
        );
    }
}
