//! The queue's time source: leases, heartbeats and reaping compare stored instants with
//! "now". Injectable so lease tests move time instead of sleeping through it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, as the queue stores instants.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The wall clock ([`super::now_ms`]): what every store uses unless told otherwise.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        super::now_ms()
    }
}

/// A clock that moves only when told ([`ManualClock::advance`]); starts at the wall
/// clock's now so stored instants look ordinary.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            ms: AtomicI64::new(super::now_ms()),
        }
    }
}

impl ManualClock {
    /// Move the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}
