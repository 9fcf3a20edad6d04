//! Where "now" comes from. The engine reads time only through a [`Clock`], so tests and the
//! development API can stop and move it.

use std::sync::atomic::{AtomicI64, Ordering};

use switchyard_core::time::Duration;
use switchyard_core::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// This clock as a manual one, if it is.
    fn manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_millis(ms)
    }
}

/// A clock that stands still until moved. Time only goes forward.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: AtomicI64::new(start.as_millis()),
        }
    }

    /// Moves the clock forward by `by` (a negative span is ignored).
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_millis().max(0), Ordering::SeqCst);
    }

    /// Moves the clock to `to`; returns `false`, leaving it unchanged, if `to` is in the past.
    pub fn set(&self, to: Timestamp) -> bool {
        self.now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                (to.as_millis() >= cur).then_some(to.as_millis())
            })
            .is_ok()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now.load(Ordering::SeqCst))
    }

    fn manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let c = ManualClock::new(Timestamp::from_secs(100));
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now(), Timestamp::from_secs(105));
        assert!(!c.set(Timestamp::from_secs(50)));
        assert_eq!(c.now(), Timestamp::from_secs(105));
        assert!(c.set(Timestamp::from_secs(200)));
        assert_eq!(c.now(), Timestamp::from_secs(200));
    }
}
