//! Statistics: real-time figures from the routing model and the store's live tasks (no query
//! of the event log), cumulative figures from the events of a time window.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use switchyard_core::model::Task;
use switchyard_core::routing::{Model, TaskStatus};
use switchyard_core::sid::{
    AccountSid, ActivitySid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid, WorkspaceSid,
};
use switchyard_core::Timestamp;
use switchyard_store::{ActivityFilter, Cursor, StatEvent};

use crate::{Engine, Error, Result};

/// What a statistic counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsScope {
    /// The whole workspace.
    Workspace,
    /// One queue: its tasks, and the workers its `TargetWorkers` admits.
    Queue(TaskQueueSid),
    /// One workflow's tasks.
    Workflow(WorkflowSid),
    /// The workers a [`WorkerSelection`] picks.
    Workers(WorkerSelection),
    /// One worker.
    Worker(WorkerSid),
}

/// Which workers `/Workers/Statistics` counts; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSelection {
    /// Eligible for this queue.
    pub task_queue_sid: Option<String>,
    /// Eligible for the queue of this name.
    pub task_queue_name: Option<String>,
    /// With this friendly name.
    pub friendly_name: Option<String>,
}

/// The time window of cumulative statistics (Twilio's `Minutes`, `StartDate`, `EndDate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatsWindow {
    /// The this many minutes before `end` (15 when neither this nor `start` is given).
    pub minutes: Option<i64>,
    /// From this time.
    pub start: Option<Timestamp>,
    /// Until this time (now when not given).
    pub end: Option<Timestamp>,
}

/// Options of cumulative statistics.
#[derive(Debug, Clone, Default)]
pub struct CumulativeOptions {
    /// The window.
    pub window: StatsWindow,
    /// Only tasks of this channel (SID or unique name).
    pub task_channel: Option<String>,
    /// Wait-time thresholds in seconds (`SplitByWaitTime`).
    pub split_by_wait_time: Vec<i64>,
}

/// Workers in one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// The activity.
    pub sid: ActivitySid,
    /// Its name.
    pub friendly_name: String,
    /// How many workers are in it.
    pub workers: i64,
}

/// Real-time statistics; each endpoint shows the fields Twilio gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealTimeStatistics {
    /// Workers per activity, every activity of the workspace in creation order.
    pub activity_statistics: Vec<ActivityCount>,
    /// Live tasks per status: `pending`, `reserved`, `assigned`, `wrapping`.
    pub tasks_by_status: BTreeMap<&'static str, i64>,
    /// Live tasks per priority.
    pub tasks_by_priority: BTreeMap<i64, i64>,
    /// Live tasks (not completed or canceled).
    pub total_tasks: i64,
    /// The waiting (pending or reserved) task created first, and its age in seconds.
    pub longest_task_waiting: Option<(TaskSid, i64)>,
    /// The waiting task that entered its queue first, and the seconds since.
    pub longest_relative_task_in_queue: Option<(TaskSid, i64)>,
    /// Workers counted.
    pub total_workers: i64,
    /// Workers counted whose activity is available.
    pub total_available_workers: i64,
}

impl RealTimeStatistics {
    /// Nothing counted: every waiting status at zero.
    pub fn zero() -> Self {
        RealTimeStatistics {
            activity_statistics: Vec::new(),
            tasks_by_status: ["pending", "reserved", "assigned", "wrapping"]
                .into_iter()
                .map(|s| (s, 0))
                .collect(),
            tasks_by_priority: BTreeMap::new(),
            total_tasks: 0,
            longest_task_waiting: None,
            longest_relative_task_in_queue: None,
            total_workers: 0,
            total_available_workers: 0,
        }
    }
}

/// Average, least, greatest and total of durations, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurationStats {
    /// Average, rounded.
    pub avg: i64,
    /// Least.
    pub min: i64,
    /// Greatest.
    pub max: i64,
    /// Sum.
    pub total: i64,
}

impl DurationStats {
    fn of(values: &[i64]) -> DurationStats {
        if values.is_empty() {
            return DurationStats::default();
        }
        let total: i64 = values.iter().sum();
        DurationStats {
            avg: (total as f64 / values.len() as f64).round() as i64,
            min: *values.iter().min().unwrap_or(&0),
            max: *values.iter().max().unwrap_or(&0),
            total,
        }
    }
}

/// Counts on one side of a wait-time threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitCounts {
    /// Tasks canceled after waiting on this side.
    pub tasks_canceled: i64,
    /// Reservations accepted for tasks that waited on this side.
    pub reservations_accepted: i64,
}

/// One `SplitByWaitTime` threshold: below it (strictly) and at or above it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitSplit {
    /// Waited less than the threshold.
    pub below: SplitCounts,
    /// Waited the threshold or longer.
    pub above: SplitCounts,
}

/// Time spent in one activity by the workers counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityDuration {
    /// The activity.
    pub sid: ActivitySid,
    /// Its name.
    pub friendly_name: String,
    /// Stays in it within the window (clipped to it), the current one up to the window's end.
    pub durations: DurationStats,
}

/// Cumulative statistics over a window; each endpoint shows the fields Twilio gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CumulativeStatistics {
    /// Window start.
    pub start_time: Timestamp,
    /// Window end.
    pub end_time: Timestamp,
    /// Reservations created.
    pub reservations_created: i64,
    /// Reservations accepted.
    pub reservations_accepted: i64,
    /// Reservations rejected.
    pub reservations_rejected: i64,
    /// Reservations timed out.
    pub reservations_timed_out: i64,
    /// Reservations canceled.
    pub reservations_canceled: i64,
    /// Reservations rescinded.
    pub reservations_rescinded: i64,
    /// Tasks created.
    pub tasks_created: i64,
    /// Tasks that entered the queue (queue scope) or the workflow (workflow scope).
    pub tasks_entered: i64,
    /// Tasks canceled.
    pub tasks_canceled: i64,
    /// Tasks completed.
    pub tasks_completed: i64,
    /// Tasks deleted.
    pub tasks_deleted: i64,
    /// Tasks moved to another queue (queue scope: moved into it).
    pub tasks_moved: i64,
    /// Tasks canceled because their workflow ran out of steps after a timeout.
    pub tasks_timed_out_in_workflow: i64,
    /// Average seconds from task creation to acceptance.
    pub avg_task_acceptance_time: i64,
    /// Task age when accepted.
    pub wait_duration_until_accepted: DurationStats,
    /// Task age when canceled.
    pub wait_duration_until_canceled: DurationStats,
    /// Time in the queue when accepted.
    pub wait_duration_in_queue_until_accepted: DurationStats,
    /// Per requested threshold.
    pub split_by_wait_time: Vec<(i64, WaitSplit)>,
    /// Per activity of the workspace, in creation order.
    pub activity_durations: Vec<ActivityDuration>,
}

/// How far back cumulative statistics reach (Twilio refuses older `StartDate`s).
const MAX_LOOKBACK_MS: i64 = 30 * 24 * 3600 * 1000;

const CUMULATIVE_TYPES: &[&str] = &[
    "reservation.created",
    "reservation.accepted",
    "reservation.rejected",
    "reservation.timeout",
    "reservation.canceled",
    "reservation.rescinded",
    "task.created",
    "task.canceled",
    "task.completed",
    "task.deleted",
    "task.system-deleted",
    "task-queue.entered",
    "task-queue.moved",
    "workflow.entered",
    "workflow.timeout",
    "worker.activity.update",
];

impl StatsWindow {
    /// The window's bounds as of `now`.
    pub fn resolve(&self, now: Timestamp) -> Result<(Timestamp, Timestamp)> {
        let end = self.end.unwrap_or(now);
        let start = match (self.start, self.minutes) {
            (Some(start), _) => start,
            (None, minutes) => {
                let minutes = minutes.unwrap_or(crate::DEFAULT_EVENT_MINUTES);
                if minutes < 0 {
                    return Err(Error::field(
                        "minutes",
                        format!("must not be negative, got {minutes}"),
                    ));
                }
                // The minutes before the window's end: before now unless `EndDate` says otherwise.
                Timestamp::from_millis(
                    end.as_millis()
                        .saturating_sub(minutes.saturating_mul(60_000)),
                )
            }
        };
        if start > end {
            return Err(Error::field("start_date", "must be before the end date"));
        }
        if start.as_millis() < now.as_millis().saturating_sub(MAX_LOOKBACK_MS) {
            // The window starts too early, through whichever field set its start.
            let field = if self.start.is_some() {
                "start_date"
            } else {
                "minutes"
            };
            return Err(Error::field(
                field,
                "reaches back further than the 30 days statistics are kept for",
            ));
        }
        Ok((start, end))
    }
}

fn channel_matches(filter: Option<&str>, sid: Option<&str>, name: Option<&str>) -> bool {
    filter.is_none_or(|f| sid == Some(f) || name == Some(f))
}

/// The workers a scope counts (all when `None`), borrowed from the model where it can be.
struct Selected<'a> {
    workers: Option<Cow<'a, HashSet<WorkerSid>>>,
}

impl Engine {
    /// Real-time statistics of each scope, read together under the workspace's routing lock.
    pub async fn realtime_statistics(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        scopes: &[StatsScope],
        task_channel: Option<&str>,
    ) -> Result<Vec<RealTimeStatistics>> {
        let workspace = self.workspace(account, ws).await?;
        let activities = self.activity_names(ws).await?;
        let now = self.now();
        let mut locked = self.lock(workspace).await?;
        let chain = locked.chain();
        let model = locked.model();
        let mut selected = Vec::with_capacity(scopes.len());
        for scope in scopes {
            selected.push(select(model, scope)?);
        }
        let mut out = Vec::with_capacity(scopes.len());
        for (scope, sel) in scopes.iter().zip(&selected) {
            let mut stats = RealTimeStatistics::zero();
            let mut by_activity: HashMap<&ActivitySid, i64> = HashMap::new();
            for w in model.workers.values() {
                if sel.workers.as_ref().is_some_and(|s| !s.contains(&w.sid)) {
                    continue;
                }
                stats.total_workers += 1;
                stats.total_available_workers += i64::from(w.available);
                *by_activity.entry(&w.activity_sid).or_default() += 1;
            }
            stats.activity_statistics = activities
                .iter()
                .map(|(sid, name)| ActivityCount {
                    sid: sid.clone(),
                    friendly_name: name.clone(),
                    workers: by_activity.get(sid).copied().unwrap_or(0),
                })
                .collect();
            let mut oldest: Option<(Timestamp, TaskSid)> = None;
            let mut longest_in_queue: Option<(Timestamp, TaskSid)> = None;
            for t in model.rows.tasks() {
                if !task_in_scope(t, scope)
                    || !channel_matches(
                        task_channel,
                        Some(t.task_channel.0.as_str()),
                        Some(&t.task_channel.1),
                    )
                {
                    continue;
                }
                stats.total_tasks += 1;
                *stats
                    .tasks_by_status
                    .entry(t.assignment_status.as_str())
                    .or_default() += 1;
                *stats.tasks_by_priority.entry(t.priority).or_default() += 1;
                if matches!(
                    t.assignment_status,
                    TaskStatus::Pending | TaskStatus::Reserved
                ) {
                    let key = (t.date_created, t.sid.clone());
                    if oldest.as_ref().is_none_or(|o| key < *o) {
                        oldest = Some(key);
                    }
                    if let Some(entered) = t.task_queue_entered_date {
                        let key = (entered, t.sid.clone());
                        if longest_in_queue.as_ref().is_none_or(|o| key < *o) {
                            longest_in_queue = Some(key);
                        }
                    }
                }
            }
            let age = |since: Timestamp| (now.as_millis() - since.as_millis()).max(0) / 1000;
            stats.longest_task_waiting = oldest.map(|(at, sid)| (sid, age(at)));
            stats.longest_relative_task_in_queue = longest_in_queue.map(|(at, sid)| (sid, age(at)));
            out.push(stats);
        }
        drop(selected);
        // Loading the model may have routed what the store held: those writes are settled
        // here, not dropped with the lock (which would throw the model away).
        self.release_lock(locked, Ok(())).await?;
        // The figures count every decision so far: shown only once all of them committed. (The
        // wait covers every workspace's writes, and a write of this workspace that fails after
        // the lock was released fails this answer too: both are rare and cost a retry at most.)
        self.store.settled().await;
        if chain.broken() {
            return Err(switchyard_store::StoreError::Abandoned.into());
        }
        Ok(out)
    }

    /// Cumulative statistics of each scope over one window, from the events in it.
    pub async fn cumulative_statistics(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        scopes: &[StatsScope],
        options: &CumulativeOptions,
    ) -> Result<Vec<CumulativeStatistics>> {
        let workspace = self.workspace(account, ws).await?;
        let (start, end) = options.window.resolve(self.now())?;
        if let Some(t) = options.split_by_wait_time.iter().find(|t| **t <= 0) {
            return Err(Error::field(
                "split_by_wait_time",
                format!("thresholds must be positive numbers of seconds, got {t}"),
            ));
        }
        let activities = self.activity_names(ws).await?;
        // Owned: the events are read after the routing lock is released.
        let selected: Vec<Selected<'static>> = {
            let mut locked = self.lock(workspace).await?;
            let model = locked.model();
            scopes
                .iter()
                .map(|s| {
                    select(model, s).map(|sel| Selected {
                        workers: sel.workers.map(|w| Cow::Owned(w.into_owned())),
                    })
                })
                .collect::<Result<_>>()?
        };
        let events = self
            .store
            .stat_events(ws, start, end, CUMULATIVE_TYPES)
            .await?;
        let accepted: Vec<&str> = events
            .iter()
            .filter(|e| e.event_type == "reservation.accepted")
            .filter_map(|e| e.task_sid.as_deref())
            .collect();
        let entered = if accepted.is_empty() {
            HashMap::new()
        } else {
            self.store.queue_entered_dates(&accepted).await?
        };
        // Workers' current stays count up to the window's end.
        let workers = if scopes
            .iter()
            .any(|s| matches!(s, StatsScope::Workers(_) | StatsScope::Worker(_)))
        {
            self.store.all_workers(ws).await?
        } else {
            Vec::new()
        };
        let channel = options.task_channel.as_deref();
        Ok(scopes
            .iter()
            .zip(&selected)
            .map(|(scope, sel)| {
                let mut c = Cumulative::default();
                for e in events.iter().filter(|e| {
                    event_in_scope(e, scope, sel)
                        && (e.task_channel_sid.is_none()
                            || channel_matches(
                                channel,
                                e.task_channel_sid.as_deref(),
                                e.task_channel_unique_name.as_deref(),
                            ))
                }) {
                    c.add(e, scope, &entered, start);
                }
                for (_, w) in &workers {
                    let counted = sel.workers.as_ref().is_none_or(|s| s.contains(&w.sid));
                    if counted && w.date_status_changed <= end {
                        let from = w.date_status_changed.max(start);
                        c.activity_stays
                            .entry(w.activity_sid.as_str().to_owned())
                            .or_default()
                            .push((end.as_millis() - from.as_millis()) / 1000);
                    }
                }
                c.finish(
                    scope,
                    (start, end),
                    &options.split_by_wait_time,
                    &activities,
                )
            })
            .collect())
    }

    /// The workspace's activities in creation order, with their names.
    async fn activity_names(&self, ws: &WorkspaceSid) -> Result<Vec<(ActivitySid, String)>> {
        Ok(self
            .store
            .list_activities(ws, &ActivityFilter::default(), Cursor::Start, 1000)
            .await?
            .items
            .into_iter()
            .map(|(_, a)| (a.sid, a.friendly_name))
            .collect())
    }
}

fn select<'a>(model: &'a Model, scope: &StatsScope) -> Result<Selected<'a>> {
    let workers = match scope {
        StatsScope::Workspace => None,
        StatsScope::Workflow(w) => {
            if !model.has_workflow(w) {
                return Err(Error::not_found("Workflow", w));
            }
            None
        }
        StatsScope::Queue(q) => Some(Cow::Borrowed(
            &model
                .queues
                .get(q)
                .ok_or_else(|| Error::not_found("TaskQueue", q))?
                .members,
        )),
        StatsScope::Worker(w) => {
            if !model.workers.contains_key(w) {
                return Err(Error::not_found("Worker", w));
            }
            Some(Cow::Owned(HashSet::from([w.clone()])))
        }
        StatsScope::Workers(sel) => {
            let mut set: Option<HashSet<WorkerSid>> = None;
            let mut narrow = |members: HashSet<WorkerSid>| {
                set = Some(match set.take() {
                    Some(s) => s.intersection(&members).cloned().collect(),
                    None => members,
                });
            };
            let queue_members = |found: Option<&switchyard_core::routing::QueueState>| {
                found.map(|s| s.members.clone()).unwrap_or_default()
            };
            if let Some(q) = &sel.task_queue_sid {
                narrow(queue_members(
                    model.queues.values().find(|s| s.sid.as_str() == q),
                ));
            }
            if let Some(name) = &sel.task_queue_name {
                narrow(queue_members(
                    model.queues.values().find(|s| &s.friendly_name == name),
                ));
            }
            if let Some(name) = &sel.friendly_name {
                narrow(
                    model
                        .workers
                        .values()
                        .filter(|w| &w.friendly_name == name)
                        .map(|w| w.sid.clone())
                        .collect(),
                );
            }
            set.map(Cow::Owned)
        }
    };
    Ok(Selected { workers })
}

fn task_in_scope(t: &Task, scope: &StatsScope) -> bool {
    match scope {
        StatsScope::Workspace => true,
        StatsScope::Queue(q) => t.task_queue.as_ref().is_some_and(|(s, _)| s == q),
        StatsScope::Workflow(w) => t.workflow.as_ref().is_some_and(|(s, _)| s == w),
        StatsScope::Workers(_) | StatsScope::Worker(_) => false,
    }
}

fn event_in_scope(e: &StatEvent, scope: &StatsScope, sel: &Selected<'_>) -> bool {
    match scope {
        StatsScope::Workspace => true,
        StatsScope::Queue(q) => e.task_queue_sid.as_deref() == Some(q.as_str()),
        StatsScope::Workflow(w) => e.workflow_sid.as_deref() == Some(w.as_str()),
        StatsScope::Workers(_) | StatsScope::Worker(_) => match &e.worker_sid {
            None => false,
            Some(w) => sel
                .workers
                .as_ref()
                .is_none_or(|s| w.parse::<WorkerSid>().is_ok_and(|sid| s.contains(&sid))),
        },
    }
}

/// Running totals of one scope's events.
#[derive(Default)]
struct Cumulative {
    counts: HashMap<&'static str, i64>,
    accepted_waits: Vec<i64>,
    canceled_waits: Vec<i64>,
    queue_waits: Vec<i64>,
    activity_stays: HashMap<String, Vec<i64>>,
}

impl Cumulative {
    fn add(
        &mut self,
        e: &StatEvent,
        scope: &StatsScope,
        entered: &HashMap<String, Timestamp>,
        start: Timestamp,
    ) {
        let Some(kind) = CUMULATIVE_TYPES
            .iter()
            .copied()
            .find(|t| *t == e.event_type)
        else {
            return;
        };
        // Workers' statistics count only what workers do.
        if matches!(scope, StatsScope::Workers(_) | StatsScope::Worker(_))
            && !kind.starts_with("reservation.")
            && kind != "worker.activity.update"
        {
            return;
        }
        *self.counts.entry(kind).or_default() += 1;
        match kind {
            "reservation.accepted" => {
                if let Some(age) = e.task_age {
                    self.accepted_waits.push(age);
                }
                if let Some(at) = e.task_sid.as_ref().and_then(|t| entered.get(t)) {
                    self.queue_waits
                        .push(((e.date.as_millis() - at.as_millis()) / 1000).max(0));
                }
            }
            "task.canceled" => {
                if let Some(age) = e.task_age {
                    self.canceled_waits.push(age);
                }
            }
            "worker.activity.update" => {
                if let Some((activity, ms)) = &e.previous_activity {
                    // Only the part of the stay inside the window.
                    let within = (*ms).min(e.date.as_millis() - start.as_millis()).max(0);
                    self.activity_stays
                        .entry(activity.clone())
                        .or_default()
                        .push(within / 1000);
                }
            }
            _ => {}
        }
    }

    fn finish(
        self,
        scope: &StatsScope,
        (start, end): (Timestamp, Timestamp),
        thresholds: &[i64],
        activities: &[(ActivitySid, String)],
    ) -> CumulativeStatistics {
        let n = |k: &str| self.counts.get(k).copied().unwrap_or(0);
        let accepted = DurationStats::of(&self.accepted_waits);
        let split = |t: i64| {
            let side = |below: bool| SplitCounts {
                tasks_canceled: self
                    .canceled_waits
                    .iter()
                    .filter(|w| (**w < t) == below)
                    .count() as i64,
                reservations_accepted: self
                    .accepted_waits
                    .iter()
                    .filter(|w| (**w < t) == below)
                    .count() as i64,
            };
            WaitSplit {
                below: side(true),
                above: side(false),
            }
        };
        CumulativeStatistics {
            start_time: start,
            end_time: end,
            reservations_created: n("reservation.created"),
            reservations_accepted: n("reservation.accepted"),
            reservations_rejected: n("reservation.rejected"),
            reservations_timed_out: n("reservation.timeout"),
            reservations_canceled: n("reservation.canceled"),
            reservations_rescinded: n("reservation.rescinded"),
            tasks_created: n("task.created"),
            tasks_entered: match scope {
                StatsScope::Workflow(_) => n("workflow.entered"),
                _ => n("task-queue.entered"),
            },
            tasks_canceled: n("task.canceled"),
            tasks_completed: n("task.completed"),
            tasks_deleted: n("task.deleted") + n("task.system-deleted"),
            tasks_moved: n("task-queue.moved"),
            tasks_timed_out_in_workflow: n("workflow.timeout"),
            avg_task_acceptance_time: accepted.avg,
            wait_duration_until_accepted: accepted,
            wait_duration_until_canceled: DurationStats::of(&self.canceled_waits),
            wait_duration_in_queue_until_accepted: DurationStats::of(&self.queue_waits),
            split_by_wait_time: thresholds.iter().map(|t| (*t, split(*t))).collect(),
            activity_durations: activities
                .iter()
                .map(|(sid, name)| ActivityDuration {
                    sid: sid.clone(),
                    friendly_name: name.clone(),
                    durations: DurationStats::of(
                        self.activity_stays
                            .get(sid.as_str())
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                    ),
                })
                .collect(),
        }
    }
}
