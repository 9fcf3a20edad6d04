//! Real-time statistics as Twilio writes them: what is waiting and who is available, now.
//! One struct per resource; the shared groups of fields are flattened into it.

use std::collections::BTreeMap;

use serde::Serialize;
use switchyard_core::sid::TaskQueueSid;
use switchyard_engine::RealTimeStatistics;

/// Workers per activity.
#[derive(Debug, Serialize)]
pub(super) struct ActivityWorkers {
    sid: String,
    friendly_name: String,
    workers: i64,
}

/// The task that has waited longest.
#[derive(Debug, Serialize)]
pub(super) struct Waiting {
    longest_task_waiting_age: i64,
    longest_task_waiting_sid: Option<String>,
}

/// Tasks counted by status and priority.
#[derive(Debug, Serialize)]
pub(super) struct Tasks {
    tasks_by_priority: BTreeMap<String, i64>,
    tasks_by_status: BTreeMap<&'static str, i64>,
    total_tasks: i64,
}

/// `/RealTimeStatistics` of the workspace.
#[derive(Debug, Serialize)]
pub(super) struct WorkspaceRealTime {
    activity_statistics: Vec<ActivityWorkers>,
    #[serde(flatten)]
    waiting: Waiting,
    #[serde(flatten)]
    tasks: Tasks,
    total_workers: i64,
}

/// `/TaskQueues/{WQ}/RealTimeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct QueueRealTime {
    activity_statistics: Vec<ActivityWorkers>,
    #[serde(flatten)]
    waiting: Waiting,
    longest_relative_task_age_in_queue: i64,
    longest_relative_task_sid_in_queue: Option<String>,
    #[serde(flatten)]
    tasks: Tasks,
    total_available_workers: i64,
    total_eligible_workers: i64,
}

/// One queue of `POST /TaskQueues/RealTimeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct BulkQueueRealTime {
    task_queue_sid: String,
    activity_statistics: Vec<ActivityWorkers>,
    #[serde(flatten)]
    waiting: Waiting,
    #[serde(flatten)]
    tasks: Tasks,
    total_available_workers: i64,
    total_eligible_workers: i64,
}

/// `/Workers/RealTimeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct WorkersRealTime {
    activity_statistics: Vec<ActivityWorkers>,
    total_workers: i64,
}

/// `/Workflows/{WW}/RealTimeStatistics`.
#[derive(Debug, Serialize)]
pub(super) struct WorkflowRealTime {
    #[serde(flatten)]
    waiting: Waiting,
    #[serde(flatten)]
    tasks: Tasks,
}

fn activities(r: &RealTimeStatistics) -> Vec<ActivityWorkers> {
    r.activity_statistics
        .iter()
        .map(|a| ActivityWorkers {
            sid: a.sid.to_string(),
            friendly_name: a.friendly_name.clone(),
            workers: a.workers,
        })
        .collect()
}

fn waiting(r: &RealTimeStatistics) -> Waiting {
    Waiting {
        longest_task_waiting_age: r.longest_task_waiting.as_ref().map_or(0, |l| l.1),
        longest_task_waiting_sid: r.longest_task_waiting.as_ref().map(|l| l.0.to_string()),
    }
}

fn tasks(r: &RealTimeStatistics) -> Tasks {
    Tasks {
        tasks_by_priority: r
            .tasks_by_priority
            .iter()
            .map(|(p, n)| (p.to_string(), *n))
            .collect(),
        tasks_by_status: r.tasks_by_status.clone(),
        total_tasks: r.total_tasks,
    }
}

impl WorkspaceRealTime {
    pub(super) fn new(r: &RealTimeStatistics) -> Self {
        WorkspaceRealTime {
            activity_statistics: activities(r),
            waiting: waiting(r),
            tasks: tasks(r),
            total_workers: r.total_workers,
        }
    }
}

impl QueueRealTime {
    pub(super) fn new(r: &RealTimeStatistics) -> Self {
        let relative = r.longest_relative_task_in_queue.as_ref();
        QueueRealTime {
            activity_statistics: activities(r),
            waiting: waiting(r),
            longest_relative_task_age_in_queue: relative.map_or(0, |l| l.1),
            longest_relative_task_sid_in_queue: relative.map(|l| l.0.to_string()),
            tasks: tasks(r),
            total_available_workers: r.total_available_workers,
            total_eligible_workers: r.total_workers,
        }
    }
}

impl BulkQueueRealTime {
    /// A queue's statistics; `None` (a queue not in the workspace) counts nothing.
    pub(super) fn new(sid: &TaskQueueSid, r: Option<&RealTimeStatistics>) -> Self {
        let nothing = RealTimeStatistics::zero();
        let r = r.unwrap_or(&nothing);
        BulkQueueRealTime {
            task_queue_sid: sid.to_string(),
            activity_statistics: activities(r),
            waiting: waiting(r),
            tasks: tasks(r),
            total_available_workers: r.total_available_workers,
            total_eligible_workers: r.total_workers,
        }
    }
}

impl WorkersRealTime {
    pub(super) fn new(r: &RealTimeStatistics) -> Self {
        WorkersRealTime {
            activity_statistics: activities(r),
            total_workers: r.total_workers,
        }
    }
}

impl WorkflowRealTime {
    pub(super) fn new(r: &RealTimeStatistics) -> Self {
        WorkflowRealTime {
            waiting: waiting(r),
            tasks: tasks(r),
        }
    }
}
