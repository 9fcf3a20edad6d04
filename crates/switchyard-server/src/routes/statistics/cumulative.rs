//! Cumulative statistics as Twilio writes them: what happened over a window of time. One struct
//! per resource; the shared groups of fields are flattened into it. Also the query parameters
//! that choose the window.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use switchyard_core::Timestamp;
use switchyard_engine::{
    CumulativeOptions, CumulativeStatistics, DurationStats, SplitCounts, StatsWindow,
};

use crate::field;
use crate::resource::date;

/// The query parameters of every cumulative (and combined) statistics request.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct CumulativeForm {
    #[serde(deserialize_with = "field::int")]
    minutes: Option<i64>,
    #[serde(deserialize_with = "field::date")]
    start_date: Option<Timestamp>,
    #[serde(deserialize_with = "field::date")]
    end_date: Option<Timestamp>,
    #[serde(deserialize_with = "field::text")]
    pub(super) task_channel: Option<String>,
    #[serde(deserialize_with = "seconds")]
    split_by_wait_time: Vec<i64>,
}

/// `SplitByWaitTime`: a comma-separated list of seconds.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    field::list(d)?
        .iter()
        .map(|t| {
            t.parse().map_err(|_| {
                de::Error::custom(format!(
                    " must be a comma-separated list of seconds, got '{t}'"
                ))
            })
        })
        .collect()
}

impl CumulativeForm {
    pub(super) fn options(&self) -> CumulativeOptions {
        CumulativeOptions {
            window: StatsWindow {
                minutes: self.minutes,
                start: self.start_date,
                end: self.end_date,
            },
            task_channel: self.task_channel.clone(),
            split_by_wait_time: self.split_by_wait_time.clone(),
        }
    }
}

/// The window counted.
#[derive(Debug, Serialize)]
struct Window {
    start_time: String,
    end_time: String,
}

/// Reservations counted by what became of them.
#[derive(Debug, Serialize)]
struct Reservations {
    reservations_created: i64,
    reservations_accepted: i64,
    reservations_rejected: i64,
    reservations_timed_out: i64,
    reservations_canceled: i64,
    reservations_rescinded: i64,
}

/// Durations in seconds.
#[derive(Debug, Serialize)]
struct Durations {
    avg: i64,
    min: i64,
    max: i64,
    total: i64,
}

/// One side of a `SplitByWaitTime` threshold.
#[derive(Debug, Serialize)]
struct Side {
    tasks_canceled: i64,
    reservations_accepted: i64,
}

/// Tasks below and above one `SplitByWaitTime` threshold.
#[derive(Debug, Serialize)]
struct Split {
    below: Side,
    above: Side,
}

/// How long tasks waited, and what ended them.
#[derive(Debug, Serialize)]
struct Waits {
    avg_task_acceptance_time: i64,
    /// Keyed by threshold in seconds; `null` when none was asked for.
    split_by_wait_time: Option<BTreeMap<String, Split>>,
    wait_duration_until_accepted: Durations,
    wait_duration_until_canceled: Durations,
    tasks_canceled: i64,
    tasks_completed: i64,
    tasks_deleted: i64,
    tasks_moved: i64,
}

/// `/CumulativeStatistics` of the workspace.
#[derive(Debug, Serialize)]
pub(super) struct WorkspaceCumulative {
    #[serde(flatten)]
    window: Window,
    #[serde(flatten)]
    reservations: Reservations,
    #[serde(flatten)]
    waits: Waits,
    tasks_created: i64,
    tasks_timed_out_in_workflow: i64,
}

/// `/TaskQueues/{WQ}/CumulativeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct QueueCumulative {
    #[serde(flatten)]
    window: Window,
    #[serde(flatten)]
    reservations: Reservations,
    #[serde(flatten)]
    waits: Waits,
    tasks_entered: i64,
    wait_duration_in_queue_until_accepted: Durations,
}

/// `/Workflows/{WW}/CumulativeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct WorkflowCumulative {
    #[serde(flatten)]
    window: Window,
    #[serde(flatten)]
    reservations: Reservations,
    #[serde(flatten)]
    waits: Waits,
    tasks_entered: i64,
    tasks_timed_out_in_workflow: i64,
}

/// Time spent in one activity.
#[derive(Debug, Serialize)]
struct ActivityDurations {
    sid: String,
    friendly_name: String,
    #[serde(flatten)]
    durations: Durations,
}

/// `/Workers/CumulativeStatistics`, and a worker's own.
#[derive(Debug, Serialize)]
pub(super) struct WorkersCumulative {
    #[serde(flatten)]
    window: Window,
    #[serde(flatten)]
    reservations: Reservations,
    activity_durations: Vec<ActivityDurations>,
}

fn window(c: &CumulativeStatistics) -> Window {
    Window {
        start_time: date(c.start_time),
        end_time: date(c.end_time),
    }
}

fn reservations(c: &CumulativeStatistics) -> Reservations {
    Reservations {
        reservations_created: c.reservations_created,
        reservations_accepted: c.reservations_accepted,
        reservations_rejected: c.reservations_rejected,
        reservations_timed_out: c.reservations_timed_out,
        reservations_canceled: c.reservations_canceled,
        reservations_rescinded: c.reservations_rescinded,
    }
}

fn durations(d: &DurationStats) -> Durations {
    Durations {
        avg: d.avg,
        min: d.min,
        max: d.max,
        total: d.total,
    }
}

fn side(s: &SplitCounts) -> Side {
    Side {
        tasks_canceled: s.tasks_canceled,
        reservations_accepted: s.reservations_accepted,
    }
}

fn waits(c: &CumulativeStatistics) -> Waits {
    let splits = c.split_by_wait_time.iter().map(|(threshold, s)| {
        let split = Split {
            below: side(&s.below),
            above: side(&s.above),
        };
        (threshold.to_string(), split)
    });
    Waits {
        avg_task_acceptance_time: c.avg_task_acceptance_time,
        split_by_wait_time: (!c.split_by_wait_time.is_empty()).then(|| splits.collect()),
        wait_duration_until_accepted: durations(&c.wait_duration_until_accepted),
        wait_duration_until_canceled: durations(&c.wait_duration_until_canceled),
        tasks_canceled: c.tasks_canceled,
        tasks_completed: c.tasks_completed,
        tasks_deleted: c.tasks_deleted,
        tasks_moved: c.tasks_moved,
    }
}

impl WorkspaceCumulative {
    pub(super) fn new(c: &CumulativeStatistics) -> Self {
        WorkspaceCumulative {
            window: window(c),
            reservations: reservations(c),
            waits: waits(c),
            tasks_created: c.tasks_created,
            tasks_timed_out_in_workflow: c.tasks_timed_out_in_workflow,
        }
    }
}

impl QueueCumulative {
    pub(super) fn new(c: &CumulativeStatistics) -> Self {
        QueueCumulative {
            window: window(c),
            reservations: reservations(c),
            waits: waits(c),
            tasks_entered: c.tasks_entered,
            wait_duration_in_queue_until_accepted: durations(
                &c.wait_duration_in_queue_until_accepted,
            ),
        }
    }
}

impl WorkflowCumulative {
    pub(super) fn new(c: &CumulativeStatistics) -> Self {
        WorkflowCumulative {
            window: window(c),
            reservations: reservations(c),
            waits: waits(c),
            tasks_entered: c.tasks_entered,
            tasks_timed_out_in_workflow: c.tasks_timed_out_in_workflow,
        }
    }
}

impl WorkersCumulative {
    pub(super) fn new(c: &CumulativeStatistics) -> Self {
        WorkersCumulative {
            window: window(c),
            reservations: reservations(c),
            activity_durations: c
                .activity_durations
                .iter()
                .map(|a| ActivityDurations {
                    sid: a.sid.to_string(),
                    friendly_name: a.friendly_name.clone(),
                    durations: durations(&a.durations),
                })
                .collect(),
        }
    }
}
