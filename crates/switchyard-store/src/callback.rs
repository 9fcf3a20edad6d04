//! Outcomes of assignment callbacks, kept on their reservations: what restarts need to keep
//! re-notifying unanswered reservations and backing off from failed ones.

use switchyard_core::model::Reservation;
use switchyard_core::sid::{TaskSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;

use crate::db::query_as;
use crate::task::{ReservationRow, SELECT_RESERVATION};

use crate::{sid, Result, Store};

/// The failed assignment callbacks of one task (still being routed) for one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackFailureCount {
    /// The task.
    pub task: TaskSid,
    /// The worker.
    pub worker: WorkerSid,
    /// How many failed.
    pub count: u32,
    /// When the last one failed.
    pub last: Timestamp,
}

impl Store {
    /// Failed callbacks per task and worker, for the workspace's tasks still being routed.
    pub async fn callback_failures(&self, ws: &WorkspaceSid) -> Result<Vec<CallbackFailureCount>> {
        let rows: Vec<(String, String, i64, i64)> = query_as(
            "SELECT r.task_sid, r.worker_sid, COUNT(*), MAX(r.date_updated)
             FROM reservations r JOIN tasks t ON t.sid = r.task_sid
             WHERE r.workspace_sid = ? AND r.callback_outcome = 'failed'
                AND t.assignment_status IN ('pending', 'reserved')
             GROUP BY r.task_sid, r.worker_sid",
        )
        .bind(ws.as_str())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|(t, w, count, last)| {
                Ok(CallbackFailureCount {
                    task: sid(&t)?,
                    worker: sid(&w)?,
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    last: Timestamp::from_millis(last),
                })
            })
            .collect()
    }

    /// [`Store::unanswered_reservations`] of one workspace (a node taking it over).
    pub async fn unanswered_reservations_of(&self, ws: &WorkspaceSid) -> Result<Vec<Reservation>> {
        let rows: Vec<ReservationRow> = query_as(format!(
            "{SELECT_RESERVATION} WHERE r.workspace_sid = ? AND r.reservation_status = 'pending'
                AND r.callback_outcome IS NULL ORDER BY r.seq"
        ))
        .bind(ws.to_string())
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, Reservation)>::try_from(r).map(|(_, r)| r))
            .collect()
    }

    /// Every pending reservation, in any workspace, whose callback has no recorded outcome,
    /// oldest first.
    pub async fn unanswered_reservations(&self) -> Result<Vec<Reservation>> {
        let rows: Vec<ReservationRow> = query_as(format!(
            "{SELECT_RESERVATION} WHERE r.reservation_status = 'pending'
                AND r.callback_outcome IS NULL ORDER BY r.seq"
        ))
        .fetch_all(self.pool().await)
        .await?;
        rows.into_iter()
            .map(|r| <(i64, Reservation)>::try_from(r).map(|(_, r)| r))
            .collect()
    }
}
