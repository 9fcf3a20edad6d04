//! Each loaded workspace's next deadline, published when its lock is released, so the timer
//! loop learns when to wake without locking every workspace's model.

use switchyard_core::sid::WorkspaceSid;
use switchyard_core::Timestamp;

use crate::routing::Routing;

/// When a workspace next needs the timer loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Its model was dropped after a failed write: rebuild it now to learn its timers.
    Rebuild,
    /// Its earliest timer.
    At(Timestamp),
}

impl Due {
    /// When, on a clock reading `now`.
    pub(crate) fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Due::Rebuild => now,
            Due::At(t) => t,
        }
    }

    fn sooner_than(self, other: Due) -> bool {
        match (self, other) {
            (Due::Rebuild, Due::Rebuild) => false,
            (Due::Rebuild, _) => true,
            (Due::At(_), Due::Rebuild) => false,
            (Due::At(a), Due::At(b)) => a < b,
        }
    }
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
}
