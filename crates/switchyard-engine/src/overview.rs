//! A workspace at a glance, for the console: its queues with the tasks waiting in them, and its
//! workers with their activity and channel load, read from the routing model in one pass under
//! the lock (no store read there). Lists are bounded: the tasks of each queue are picked, not
//! sorted, so the work is linear in the workspace's tasks and workers.

use std::collections::HashMap;

use switchyard_core::model::QueueOrder;
use switchyard_core::routing::{Route, TaskState};
use switchyard_core::sid::{AccountSid, TaskQueueSid, TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::{Engine, Result};

/// How much of a workspace an overview shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverviewSize {
    /// Tasks shown per queue, first to be offered first.
    pub tasks_per_queue: usize,
    /// Tasks shown in all, queue after queue by name.
    pub tasks: usize,
    /// The first worker shown, in creation order.
    pub workers_from: usize,
    /// Workers shown.
    pub workers: usize,
}

impl Default for OverviewSize {
    fn default() -> Self {
        OverviewSize {
            tasks_per_queue: 50,
            tasks: 1_000,
            workers_from: 0,
            workers: 200,
        }
    }
}

/// A workspace at a glance.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The engine's time when it was read.
    pub now: Timestamp,
    /// Every queue, by name.
    pub queues: Vec<QueueView>,
    /// Tasks being routed that wait in no queue (routed straight to a worker, or unrouted).
    pub unqueued: Vec<TaskView>,
    /// Workers of the workspace.
    pub workers_total: usize,
    /// Of which available.
    pub workers_available: usize,
    /// The workers shown, in creation order.
    pub workers: Vec<WorkerView>,
}

/// A queue and what waits in it.
#[derive(Debug, Clone)]
pub struct QueueView {
    /// Its SID.
    pub sid: TaskQueueSid,
    /// Its name.
    pub friendly_name: String,
    /// Its `TargetWorkers`, printed canonically.
    pub target_workers: String,
    /// Workers its `TargetWorkers` admits.
    pub members: usize,
    /// Of which available.
    pub available_members: usize,
    /// Tasks in it being routed (pending or reserved).
    pub tasks_total: usize,
    /// The first of them, in the order they are offered (none once the overview's task budget
    /// is spent).
    pub tasks: Vec<TaskView>,
}

/// The first `n` of `tasks` in the order a queue of `order` offers them (as routing's waiting
/// sets do: FIFO by priority then age, LIFO newest first), without sorting them all.
fn first(mut tasks: Vec<&TaskState>, order: QueueOrder, n: usize) -> Vec<TaskView> {
    let offer = |a: &&TaskState, b: &&TaskState| match order {
        QueueOrder::Fifo => (b.priority.cmp(&a.priority))
            .then(a.virtual_start_time.cmp(&b.virtual_start_time))
            .then(a.seq.cmp(&b.seq)),
        QueueOrder::Lifo => {
            (b.virtual_start_time.cmp(&a.virtual_start_time)).then(b.seq.cmp(&a.seq))
        }
    };
    if n == 0 {
        return Vec::new();
    }
    if tasks.len() > n {
        tasks.select_nth_unstable_by(n - 1, offer);
        tasks.truncate(n);
    }
    tasks.sort_by(offer);
    tasks.into_iter().map(task_view).collect()
}

/// A task being routed.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// Its SID.
    pub sid: TaskSid,
    /// Its priority now.
    pub priority: i64,
    /// When it was created.
    pub date_created: Timestamp,
    /// `reserved` when it has a pending reservation, else `pending`.
    pub status: &'static str,
    /// Workers holding a pending reservation for it.
    pub reserved_by: Vec<WorkerSid>,
}

/// A worker's state.
#[derive(Debug, Clone)]
pub struct WorkerView {
    /// Its SID.
    pub sid: WorkerSid,
    /// Its name.
    pub friendly_name: String,
    /// Its activity's name.
    pub activity_name: String,
    /// Whether that activity is available.
    pub available: bool,
    /// Its load per channel, by unique name.
    pub channels: Vec<ChannelView>,
}

/// A worker's load on one channel.
#[derive(Debug, Clone)]
pub struct ChannelView {
    /// The task channel's unique name.
    pub unique_name: String,
    /// Pending reservations on it.
    pub pending: i64,
    /// Accepted ones.
    pub assigned: i64,
    /// Wrapping ones.
    pub wrapping: i64,
    /// Its capacity.
    pub capacity: i64,
    /// Whether it takes tasks.
    pub available: bool,
}

fn task_view(t: &TaskState) -> TaskView {
    let mut reserved_by: Vec<WorkerSid> = t.pending.iter().cloned().collect();
    reserved_by.sort();
    TaskView {
        sid: t.sid.clone(),
        priority: t.priority,
        date_created: t.date_created,
        status: if t.pending.is_empty() {
            "pending"
        } else {
            "reserved"
        },
        reserved_by,
    }
}

impl Engine {
    /// The workspace at a glance: queues with their waiting tasks, workers with their load.
    pub async fn overview(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        size: OverviewSize,
    ) -> Result<Overview> {
        let workspace = self.workspace(account, ws).await?;
        let now = self.now();
        let mut locked = self.lock(workspace).await?;
        let model = locked.model();
        let mut by_queue: HashMap<&TaskQueueSid, Vec<&TaskState>> = HashMap::new();
        let mut unqueued_all = Vec::new();
        for t in model.tasks() {
            let queue = match &t.route {
                Route::Worker { .. } | Route::Unrouted => None,
                _ => t.queue.as_ref().filter(|q| model.queues.contains_key(*q)),
            };
            match queue {
                Some(q) => by_queue.entry(q).or_default().push(t),
                None => unqueued_all.push(t),
            }
        }
        // By name; the first queues get their tasks listed until the budget is spent, the rest
        // their counts only (a workspace of thousands of queues stays one small answer).
        let mut states: Vec<_> = model.queues.values().collect();
        states.sort_by(|a, b| (a.friendly_name.cmp(&b.friendly_name)).then(a.sid.cmp(&b.sid)));
        let mut budget = size.tasks;
        let queues: Vec<QueueView> = (states.into_iter())
            .map(|q| {
                let waiting = by_queue.remove(&q.sid).unwrap_or_default();
                let tasks_total = waiting.len();
                let tasks = first(waiting, q.order, size.tasks_per_queue.min(budget));
                budget -= tasks.len();
                QueueView {
                    sid: q.sid.clone(),
                    friendly_name: q.friendly_name.clone(),
                    target_workers: q.target.to_string(),
                    members: q.members.len(),
                    available_members: (q.members.iter())
                        .filter(|w| model.workers.get(*w).is_some_and(|w| w.available))
                        .count(),
                    tasks_total,
                    tasks,
                }
            })
            .collect();
        let unqueued = first(
            unqueued_all,
            QueueOrder::Fifo,
            size.tasks_per_queue.min(budget),
        );
        let mut workers: Vec<_> = model.workers.values().collect();
        workers.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.sid.cmp(&b.sid)));
        let overview = Overview {
            now,
            workers_total: workers.len(),
            workers_available: workers.iter().filter(|w| w.available).count(),
            workers: (workers.into_iter())
                .skip(size.workers_from)
                .take(size.workers)
                .map(|w| {
                    let mut channels: Vec<ChannelView> = (w.channels.values())
                        .map(|c| ChannelView {
                            unique_name: c.unique_name.clone(),
                            pending: c.pending,
                            assigned: c.assigned,
                            wrapping: c.wrapping,
                            capacity: c.capacity,
                            available: c.available,
                        })
                        .collect();
                    channels.sort_by(|a, b| a.unique_name.cmp(&b.unique_name));
                    WorkerView {
                        sid: w.sid.clone(),
                        friendly_name: w.friendly_name.clone(),
                        activity_name: w.activity_name.clone(),
                        available: w.available,
                        channels,
                    }
                })
                .collect(),
            queues,
            unqueued,
        };
        self.release_lock(locked, Ok(())).await?;
        Ok(overview)
    }
}
