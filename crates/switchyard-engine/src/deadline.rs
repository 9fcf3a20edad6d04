//! Each loaded workspace's next deadline, published when its lock is released, so the timer
//! loop learns when to wake without locking every workspace's model; and the backoff of a
//! workspace whose model cannot be rebuilt, so that a persistent fault (a full disk) does not
//! make the timer loop spin.

use std::sync::atomic::Ordering;

use switchyard_core::sid::WorkspaceSid;
use switchyard_core::time::Duration;
use switchyard_core::Timestamp;

use crate::routing::Routing;

/// When a workspace next needs the timer loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Its model was dropped (after a failed write, or a rebuild that failed): rebuild it, not
    /// before this time, to learn its timers.
    Rebuild {
        /// The earliest retry; the epoch for "at once".
        not_before: Timestamp,
    },
    /// Its earliest timer.
    At(Timestamp),
}

impl Due {
    /// A rebuild as soon as the timer loop comes round.
    pub(crate) const REBUILD_NOW: Due = Due::Rebuild {
        not_before: Timestamp::from_millis(0),
    };

    /// When, on a clock reading `now`.
    pub(crate) fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Due::Rebuild { not_before } => not_before.max(now),
            Due::At(t) => t,
        }
    }

    fn sooner_than(self, other: Due) -> bool {
        match (self, other) {
            (Due::Rebuild { not_before: a }, Due::Rebuild { not_before: b }) => a < b,
            // A rebuild is never put off for a timer: the timers are unknown until it is done.
            (Due::Rebuild { .. }, Due::At(_)) => true,
            (Due::At(_), Due::Rebuild { .. }) => false,
            (Due::At(a), Due::At(b)) => a < b,
        }
    }
}

/// The longest the timer loop waits before trying again to rebuild a workspace that keeps
/// failing: a fault that clears is noticed within this long (any request to the workspace
/// tries at once).
pub(crate) const REBUILD_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// How long after its `failures`-th failure in a row a workspace's rebuild is tried again: the
/// first at once (a single refused write is usually a one-off), then 200 ms doubling up to
/// [`REBUILD_BACKOFF_MAX`].
pub(crate) fn rebuild_backoff(failures: u32) -> Duration {
    if failures <= 1 {
        return Duration::from_millis(0);
    }
    let doublings = (failures - 2).min(16);
    let ms = (200_i64 << doublings).min(REBUILD_BACKOFF_MAX.as_millis());
    Duration::from_millis(ms)
}

impl Routing {
    /// Records `ws`'s next deadline (`None`: no timer), and wakes the timer loop if it is
    /// sooner than the one recorded. A workspace forgotten meanwhile stays forgotten.
    pub(crate) fn publish_deadline(&self, ws: &WorkspaceSid, due: Option<Due>) {
        let models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        let mut deadlines = self.deadlines.lock().unwrap_or_else(|e| e.into_inner());
        let before = match due {
            Some(d) if models.contains_key(ws) => deadlines.insert(ws.clone(), d),
            _ => deadlines.remove(ws),
        };
        drop((deadlines, models));
        let sooner = match (due, before) {
            (Some(d), Some(b)) => d.sooner_than(b),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if sooner {
            self.changed.notify_one();
        }
    }

    /// Every loaded workspace's next deadline, as last published.
    pub(crate) fn deadlines(&self) -> Vec<(WorkspaceSid, Due)> {
        self.deadlines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(ws, due)| (ws.clone(), *due))
            .collect()
    }

    /// Records that `ws`'s model could not be rebuilt or its writes failed, at `now`, and
    /// publishes when to try again.
    pub(crate) fn rebuild_failed(&self, ws: &WorkspaceSid, now: Timestamp) {
        let failures = {
            let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
            let n = faults.entry(ws.clone()).or_insert(0);
            *n = n.saturating_add(1);
            let n = *n;
            self.faulty.store(faults.len(), Ordering::Release);
            n
        };
        let not_before = now + rebuild_backoff(failures);
        self.publish_deadline(ws, Some(Due::Rebuild { not_before }));
    }

    /// Records that `ws`'s writes commit again: its next failure is retried at once.
    pub(crate) fn recovered(&self, ws: &WorkspaceSid) {
        // Read on every operation: the map is locked only while some workspace is failing.
        if self.faulty.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.remove(ws);
        self.faulty.store(faults.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_is_immediate_then_the_wait_doubles_to_a_bound() {
        let waits: Vec<i64> = (1..=9).map(|n| rebuild_backoff(n).as_millis()).collect();
        assert_eq!(
            waits,
            [0, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]
        );
        assert_eq!(rebuild_backoff(u32::MAX), REBUILD_BACKOFF_MAX);
    }

    #[test]
    fn a_rebuild_comes_before_any_timer_and_waits_for_its_backoff() {
        let now = Timestamp::from_secs(100);
        let later = Due::Rebuild {
            not_before: Timestamp::from_secs(105),
        };
        assert_eq!(later.at(now), Timestamp::from_secs(105));
        assert_eq!(Due::REBUILD_NOW.at(now), now);
        assert!(later.sooner_than(Due::At(Timestamp::from_secs(1))));
        assert!(Due::REBUILD_NOW.sooner_than(later));
    }
}
