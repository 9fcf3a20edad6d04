//! Why a task is or is not reserved (`Explain`): the model's answer for the task now, and the
//! task's past reservations that keep workers from it (rejections, timeouts, failed callbacks).

use switchyard_core::model::{Reservation, Task};
use switchyard_core::routing::{Explanation, ReservationStatus};
use switchyard_core::sid::{AccountSid, ReservationSid, TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::{Cursor, EventFilter, ReservationScope};

use crate::{Engine, Result};

/// The most past reservation events of each kind an explanation reads, newest first: enough
/// for any task a person looks at, bounded for one that is not.
const HISTORY_LIMIT: usize = 1_000;

/// A task, and why it is or is not reserved.
#[derive(Debug, Clone)]
pub struct TaskExplanation {
    /// The task as stored.
    pub task: Task,
    /// The routing model's view; `None` when the task is not being routed (assigned, wrapping,
    /// completed or canceled).
    pub routing: Option<Explanation>,
    /// Its reservations that hold it now (pending, accepted or wrapping), oldest first.
    pub holding: Vec<Reservation>,
    /// Its reservations that ended without it being accepted, newest first.
    pub history: Vec<PastReservation>,
}

/// A reservation of the task that ended without being accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct PastReservation {
    /// The reservation.
    pub reservation: ReservationSid,
    /// Its worker.
    pub worker: WorkerSid,
    /// How it ended: `rejected`, `timeout`, `canceled` or `rescinded`.
    pub outcome: String,
    /// When.
    pub at: Timestamp,
    /// Why, when it was canceled (a failed assignment callback names its error here).
    pub reason: Option<String>,
}

impl Engine {
    /// Why task `sid` is or is not reserved, worker by worker.
    pub async fn explain_task(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        sid: &TaskSid,
    ) -> Result<TaskExplanation> {
        let task = self.task(account, ws, sid).await?;
        let history = self.past_reservations(ws, sid).await?;
        let scope = ReservationScope::Task(sid.clone());
        let mut holding = Vec::new();
        for status in [
            ReservationStatus::Pending,
            ReservationStatus::Accepted,
            ReservationStatus::Wrapping,
        ] {
            let found = (self.store)
                .list_reservations(
                    ws,
                    &scope,
                    Some(status),
                    None,
                    Cursor::Start,
                    Some(HISTORY_LIMIT),
                )
                .await?;
            holding.extend(found.into_iter().map(|(_, r)| r));
        }
        holding.sort_by(|a, b| a.date_created.cmp(&b.date_created).then(a.sid.cmp(&b.sid)));
        let workspace = self.workspace(account, ws).await?;
        let now = self.now();
        let mut locked = self.lock(workspace).await?;
        let workflow = task.workflow.as_ref().map(|(w, _)| w);
        let routing = locked.model().explain(sid, workflow, now);
        self.release_lock(locked, Ok(())).await?;
        Ok(TaskExplanation {
            task,
            routing,
            holding,
            history,
        })
    }

    async fn past_reservations(
        &self,
        ws: &WorkspaceSid,
        sid: &TaskSid,
    ) -> Result<Vec<PastReservation>> {
        let mut past = Vec::new();
        for outcome in ["rejected", "timeout", "canceled", "rescinded"] {
            let filter = EventFilter {
                task_sid: Some(sid.to_string()),
                event_type: Some(format!("reservation.{outcome}")),
                ..Default::default()
            };
            // The newest of each kind: `Before` the end reads backwards from the last.
            let page = (self.store)
                .list_events(ws, &filter, Cursor::Before(i64::MAX), HISTORY_LIMIT)
                .await?;
            past.extend(page.items.into_iter().filter_map(|(_, e)| {
                Some(PastReservation {
                    reservation: e.get("reservation_sid")?.parse().ok()?,
                    worker: e.get("worker_sid")?.parse().ok()?,
                    reason: e.get("reservation_canceled_reason").map(str::to_owned),
                    outcome: outcome.to_owned(),
                    at: e.date,
                })
            }));
        }
        past.sort_by(|a, b| b.at.cmp(&a.at).then(b.reservation.cmp(&a.reservation)));
        Ok(past)
    }
}
