//! Report instances and billing reports, and how their status moves with time.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jiff::civil::Date;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::files::{hex, pick};

/// Where an account report instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InstanceStatus {
    InProgress,
    Ready,
    Expired,
}

/// An account report instance.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub id: u64,
    pub account: String,
    pub report_id: u32,
    pub report_name: &'static str,
    pub format: String,
    /// As given in the create (order kept).
    pub parameters: Vec<(String, Vec<String>)>,
    pub requested_by: String,
    pub requested_at: jiff::Timestamp,
    pub expires_at: Date,
    /// When the create was answered.
    pub created_at: Instant,
    pub ready_at: Instant,
    pub ready_lifetime: Option<Duration>,
    pub forced_expired: bool,
    /// Seed of its content (the configuration's seed when it was created).
    pub seed: u64,
    pub size: u64,
}

impl Instance {
    pub(crate) fn status(&self, now: Instant, today: Date) -> InstanceStatus {
        let lifetime_over = self
            .ready_lifetime
            .is_some_and(|l| now >= later(self.ready_at, l));
        if self.forced_expired || today > self.expires_at || lifetime_over {
            InstanceStatus::Expired
        } else if now < self.ready_at {
            InstanceStatus::InProgress
        } else {
            InstanceStatus::Ready
        }
    }

    pub(crate) fn file_name(&self) -> String {
        format!("report-{}.{}", self.id, self.format)
    }

    pub(crate) fn content_key(&self) -> String {
        format!("instance/{}", self.id)
    }

    pub(crate) fn location(&self, base_url: &str) -> String {
        format!(
            "{base_url}/accounts/{}/reports/{}/instances/{}",
            self.account, self.report_id, self.id
        )
    }
}

/// Where a billing report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BillingStatus {
    Received,
    Processing,
    Completed,
    Deleted,
}

/// A billing report.
#[derive(Clone, Debug)]
pub(crate) struct Billing {
    pub id: String,
    pub account: String,
    pub report_type: String,
    pub start: Date,
    pub end: Date,
    pub created: Instant,
    pub ready_at: Instant,
    pub lifetime: Option<Duration>,
    pub forced_expired: bool,
    pub seed: u64,
    pub csv_size: u64,
}

impl Billing {
    pub(crate) fn status(&self, now: Instant) -> BillingStatus {
        if self.forced_expired
            || self
                .lifetime
                .is_some_and(|l| now >= later(self.ready_at, l))
        {
            BillingStatus::Deleted
        } else if now >= self.ready_at {
            BillingStatus::Completed
        } else if now < self.created + (self.ready_at - self.created) / 2 {
            BillingStatus::Received
        } else {
            BillingStatus::Processing
        }
    }

    /// `bdrs_2020-05-21_2020-05-29.zip`, as in the seed.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.zip", self.stem())
    }

    pub(crate) fn csv_name(&self) -> String {
        format!("{}.csv", self.stem())
    }

    fn stem(&self) -> String {
        format!(
            "{}s_{}_{}",
            self.report_type.to_lowercase(),
            self.start,
            self.end
        )
    }

    pub(crate) fn location(&self, base_url: &str) -> String {
        format!(
            "{base_url}/accounts/{}/billingreports/{}",
            self.account, self.id
        )
    }
}

/// Everything created so far.
pub(crate) struct Store {
    pub instances: BTreeMap<u64, Instance>,
    pub billing: HashMap<String, Billing>,
    next_instance: u64,
    billing_ids: ChaCha8Rng,
}

/// The first instance id handed out.
const FIRST_INSTANCE_ID: u64 = 100_001;

impl Store {
    pub(crate) fn new(seed: u64) -> Self {
        let mut billing_ids = ChaCha8Rng::seed_from_u64(seed);
        billing_ids.set_stream(1_000);
        Store {
            instances: BTreeMap::new(),
            billing: HashMap::new(),
            next_instance: FIRST_INSTANCE_ID,
            billing_ids,
        }
    }

    pub(crate) fn next_instance_id(&mut self) -> u64 {
        let id = self.next_instance;
        self.next_instance += 1;
        id
    }

    /// A version-4 UUID drawn from the seeded stream.
    pub(crate) fn next_billing_id(&mut self) -> String {
        let mut b = [0u8; 16];
        self.billing_ids.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// Whether `text` has the 8-4-4-4-12 hex shape of a UUID.
pub(crate) fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `instant + duration`, or a century later when that overflows (a "never" configured as a
/// huge duration must not panic).
pub(crate) fn later(instant: Instant, duration: Duration) -> Instant {
    instant
        .checked_add(duration)
        .or_else(|| instant.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(instant)
}

/// Extra processing time in `0..=max`, derived from the seed and the key.
pub(crate) fn jitter(seed: u64, key: &str, max: Duration) -> Duration {
    let max_nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(pick(seed, &format!("{key}/jitter"), 0, max_nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_ids_are_uuids_and_reproducible() {
        let mut a = Store::new(5);
        let mut b = Store::new(5);
        let id = a.next_billing_id();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(id, b.next_billing_id());
        assert_ne!(id, a.next_billing_id());
        assert!(!is_uuid("a12b456c8-abcd-1a3b-a1b2-0a2b4c6d8e0f2"));
    }

    #[test]
    fn billing_status_moves_with_time() {
        let now = Instant::now();
        let b = Billing {
            id: "x".into(),
            account: "1".into(),
            report_type: "BDR".into(),
            start: jiff::civil::date(2020, 5, 21),
            end: jiff::civil::date(2020, 5, 29),
            created: now,
            ready_at: now + Duration::from_secs(10),
            lifetime: Some(Duration::from_secs(10)),
            forced_expired: false,
            seed: 0,
            csv_size: 10,
        };
        assert_eq!(b.status(now), BillingStatus::Received);
        assert_eq!(
            b.status(now + Duration::from_secs(6)),
            BillingStatus::Processing
        );
        assert_eq!(
            b.status(now + Duration::from_secs(10)),
            BillingStatus::Completed
        );
        assert_eq!(
            b.status(now + Duration::from_secs(20)),
            BillingStatus::Deleted
        );
        assert_eq!(b.file_name(), "bdrs_2020-05-21_2020-05-29.zip");
    }
}
