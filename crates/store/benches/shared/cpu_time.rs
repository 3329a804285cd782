//! The CPU time of this process, as every benchmark reads it: the store's benches and the
//! suite's (`benches/suite/measure.rs` includes this file). Linux and the other Unixes, through
//! `getrusage`.

use std::time::Duration;

/// CPU time (user + system) this process has used so far, all its threads included.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given and keeps no pointer to it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let of = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}
