//! Where "now" comes from. The engine reads time only through a [`Clock`], so tests and the
//! development API can stop and move it.

use std::future::Future;
use std::pin::Pin;
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

    /// Waits until this clock reads `at` or later. Deadlines kept outside the routing model
    /// (the assignment callback's) wait here, so a manual clock governs them too.
    fn sleep_until(&self, at: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let left = (at - self.now()).as_millis();
                if left <= 0 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(left as u64)).await;
            }
        })
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
    moved: tokio::sync::Notify,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: AtomicI64::new(start.as_millis()),
            moved: tokio::sync::Notify::new(),
        }
    }

    /// Moves the clock forward by `by` (a negative span is ignored).
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_millis().max(0), Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    /// Moves the clock to `to`; returns `false`, leaving it unchanged, if `to` is in the past.
    pub fn set(&self, to: Timestamp) -> bool {
        let moved = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                (to.as_millis() >= cur).then_some(to.as_millis())
            })
            .is_ok();
        self.moved.notify_waiters();
        moved
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now.load(Ordering::SeqCst))
    }

    fn manual(&self) -> Option<&ManualClock> {
        Some(self)
    }

    fn sleep_until(&self, at: Timestamp) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                // Registered before the check, so a move between the two is not missed.
                let moved = self.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if self.now() >= at {
                    return;
                }
                moved.await;
            }
        })
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

    #[tokio::test]
    async fn a_manual_sleep_ends_only_when_the_clock_gets_there() {
        let c = std::sync::Arc::new(ManualClock::new(Timestamp::from_secs(100)));
        let sleeper = {
            let c = c.clone();
            tokio::spawn(async move { c.sleep_until(Timestamp::from_secs(105)).await })
        };
        tokio::task::yield_now().await;
        c.advance(Duration::from_secs(4));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished(), "104 s is not 105 s");
        c.advance(Duration::from_secs(1));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("wakes once the clock reaches the deadline")
            .unwrap();
    }
}
