//! Per-endpoint token buckets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::RateLimit;
use crate::faults::Endpoint;

/// Wait announced when a bucket never refills.
const NEVER: Duration = Duration::from_secs(3600);

struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

/// The buckets of the endpoint classes that have a limit.
#[derive(Default)]
pub(crate) struct RateLimiter {
    buckets: BTreeMap<Endpoint, Bucket>,
}

impl RateLimiter {
    /// Takes a token for `endpoint`, or says how long until one is available.
    /// A bucket whose configured limit changed starts again full.
    pub(crate) fn take(
        &mut self,
        endpoint: Endpoint,
        limits: &BTreeMap<Endpoint, RateLimit>,
        now: Instant,
    ) -> Result<(), Duration> {
        let Some(limit) = limits.get(&endpoint) else {
            self.buckets.remove(&endpoint);
            return Ok(());
        };
        let full = || Bucket {
            limit: *limit,
            tokens: f64::from(limit.capacity),
            last: now,
        };
        let bucket = self.buckets.entry(endpoint).or_insert_with(full);
        if bucket.limit != *limit {
            *bucket = full();
        }
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * limit.refill_per_second).min(f64::from(limit.capacity));
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if limit.refill_per_second > 0.0 {
            Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / limit.refill_per_second).min(NEVER.as_secs_f64()),
            ))
        } else {
            Err(NEVER)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let limits = BTreeMap::from([(
            Endpoint::Create,
            RateLimit {
                capacity: 2,
                refill_per_second: 1.0,
            },
        )]);
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        assert!(rl.take(Endpoint::Create, &limits, t0).is_ok());
        assert!(rl.take(Endpoint::Create, &limits, t0).is_ok());
        let wait = rl.take(Endpoint::Create, &limits, t0).expect_err("empty");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(
            rl.take(Endpoint::Create, &limits, t0 + Duration::from_secs(1))
                .is_ok()
        );
        assert!(rl.take(Endpoint::Status, &limits, t0).is_ok());
    }
}
