//! Reservations: accept, reject, and the statuses that follow the task.

use switchyard_core::lifecycle::{self, ReservationRequest, TransitionError};
use switchyard_core::model::Reservation;
use switchyard_core::routing::{CallbackFailures, ReservationStatus, TaskStatus};
use switchyard_core::sid::{AccountSid, ActivitySid, ReservationSid, WorkerSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_store::{ReservationScope, Write};

use crate::event;
use crate::lock::Locked;
use crate::routing::{idle_since_changed, set_activity, Triggers};
use crate::{check_version, filtered_page, Engine, Error, Page, PageRequest, Result};

/// How a reservation canceled because its assignment callback failed says why, in its
/// `reservation.canceled` event (`reservation_canceled_reason`), followed by the error.
pub const CALLBACK_FAILED: &str = "Assignment callback failed";

/// What to do with a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReservationAction {
    /// Accept it; `instruction` names the call-control instruction that accepted it, if any
    /// (`dequeue`, `call`, `redirect`, `conference`), which is recorded.
    Accept {
        /// The instruction, if the accept came from one.
        instruction: Option<String>,
    },
    /// Reject it, moving the worker to `activity` (or back to where the reservation found it).
    Reject {
        /// The worker's new activity.
        activity: Option<ActivitySid>,
    },
    /// Move its task to wrap-up.
    Wrap,
    /// Complete its task.
    Complete,
}

/// Changes to a reservation.
#[derive(Debug, Clone)]
pub struct UpdateReservation {
    /// What to do.
    pub action: ReservationAction,
    /// Apply only if the reservation's version (its ETag) is this one.
    pub expected_version: Option<i64>,
}

impl Engine {
    /// A reservation of a task or worker.
    pub async fn reservation(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        scope: &ReservationScope,
        sid: &ReservationSid,
    ) -> Result<Reservation> {
        self.workspace(account, ws).await?;
        self.check_scope(ws, scope).await?;
        self.store
            .get_reservation(ws, scope, sid)
            .await?
            .ok_or_else(|| Error::not_found("Reservation", sid))
    }

    async fn check_scope(&self, ws: &WorkspaceSid, scope: &ReservationScope) -> Result<()> {
        match scope {
            ReservationScope::Task(t) => {
                self.committed_task(ws, t).await?;
            }
            ReservationScope::Worker(w) => {
                self.store
                    .get_worker(ws, w)
                    .await?
                    .ok_or_else(|| Error::not_found("Worker", w))?;
            }
        }
        Ok(())
    }

    /// A page of a task's or worker's reservations.
    pub async fn list_reservations(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        scope: &ReservationScope,
        status: Option<ReservationStatus>,
        worker: Option<&WorkerSid>,
        page: PageRequest,
    ) -> Result<Page<Reservation>> {
        self.workspace(account, ws).await?;
        self.check_scope(ws, scope).await?;
        filtered_page(page, None, |limit| {
            self.store
                .list_reservations(ws, scope, status, worker, page.cursor, limit)
        })
        .await
    }

    /// Acts on a reservation.
    pub async fn update_reservation(
        &self,
        account: &AccountSid,
        ws: &WorkspaceSid,
        scope: &ReservationScope,
        sid: &ReservationSid,
        p: UpdateReservation,
    ) -> Result<Reservation> {
        let workspace = self.workspace(account, ws).await?;
        self.check_scope(ws, scope).await?;
        let mut locked = self.lock(workspace).await?;
        let r = self.reservation_row(&mut locked, scope, sid).await?;
        check_version(p.expected_version, r.version, "Reservation", sid)?;
        let mut triggers = Triggers::default();
        let now = self.now();
        let result = self.act(&mut locked, r, p.action, &mut triggers, now).await;
        let finished = self.finish(locked, triggers).await;
        let r = result?;
        finished?;
        Ok(r)
    }

    /// A reservation in `scope`: from the model while it holds capacity; one that ended is
    /// read from the store (it can only be refused from here on).
    async fn reservation_row(
        &self,
        locked: &mut Locked,
        scope: &ReservationScope,
        sid: &ReservationSid,
    ) -> Result<Reservation> {
        let live = locked
            .model()
            .rows
            .reservation(sid)
            .filter(|r| match scope {
                ReservationScope::Task(t) => r.task_sid == *t,
                ReservationScope::Worker(w) => r.worker_sid == *w,
            });
        if let Some(r) = live {
            return Ok(r.clone());
        }
        self.store
            .get_reservation(&locked.workspace.sid, scope, sid)
            .await?
            .ok_or_else(|| Error::not_found("Reservation", sid))
    }

    async fn act(
        &self,
        locked: &mut Locked,
        r: Reservation,
        action: ReservationAction,
        triggers: &mut Triggers,
        now: Timestamp,
    ) -> Result<Reservation> {
        let request = match &action {
            ReservationAction::Accept { .. } => ReservationRequest::Accept,
            ReservationAction::Reject { .. } => ReservationRequest::Reject,
            ReservationAction::Wrap => ReservationRequest::Wrap,
            ReservationAction::Complete => ReservationRequest::Complete,
        };
        lifecycle::reservation_request(r.status, request).map_err(|e| match e {
            TransitionError::Rescinded => Error::Gone(format!("Reservation {} {e}", r.sid)),
            e => Error::invalid(format!("Reservation {} {e}", r.sid)),
        })?;
        match action {
            ReservationAction::Accept { instruction } => {
                self.accept_locked(locked, r, instruction, triggers, now)
                    .await
            }
            ReservationAction::Reject { activity } => {
                self.reject_locked(
                    locked,
                    r,
                    ReservationStatus::Rejected,
                    activity,
                    None,
                    triggers,
                    now,
                )
                .await
            }
            ReservationAction::Wrap | ReservationAction::Complete => {
                let to = if action == ReservationAction::Wrap {
                    TaskStatus::Wrapping
                } else {
                    TaskStatus::Completed
                };
                let task = self.task_row(locked, &r.task_sid).await?;
                let (_, moved) = self
                    .move_task(locked, task, to, None, triggers, now)
                    .await?;
                moved
                    .into_iter()
                    .find(|m| m.sid == r.sid)
                    .ok_or_else(|| Error::not_found("Reservation", &r.sid))
            }
        }
    }

    async fn accept_locked(
        &self,
        locked: &mut Locked,
        mut r: Reservation,
        instruction: Option<String>,
        triggers: &mut Triggers,
        now: Timestamp,
    ) -> Result<Reservation> {
        let mut task = self.task_row(locked, &r.task_sid).await?;
        r.status = ReservationStatus::Accepted;
        r.instruction = instruction;
        r.version += 1;
        r.date_updated = now;
        let mut siblings = self
            .end_pending(locked, &task.sid, ReservationStatus::Rescinded, now)
            .await?;
        siblings.retain(|s| s.sid != r.sid);
        task.assignment_status = TaskStatus::Assigned;
        task.version += 1;
        task.date_updated = now;
        // Single-tasking: the worker moves to the queue's assignment activity.
        let assignment_activity = task
            .task_queue
            .as_ref()
            .and_then(|(q, _)| locked.model().queues.get(q))
            .and_then(|q| q.assignment_activity.clone())
            .filter(|_| !locked.workspace.multi_task_enabled);
        let mut worker = None;
        if let Some(a) = assignment_activity {
            let mut w = locked.worker_row(&r.worker_sid)?;
            if w.activity_sid != a {
                let (version, before) = (w.version, w.clone());
                locked.move_to_activity(&mut w, a, now);
                worker = Some((w, version, before));
            }
        }
        let mut events = vec![event::reservation(
            &locked.workspace,
            "reservation.accepted",
            &r,
            &task,
            worker.as_ref().map(|(w, ..)| w),
            now,
        )];
        events.extend(event::reservations(
            &locked.workspace,
            "reservation.rescinded",
            &siblings,
            &task,
            now,
        ));
        let mut writes: Vec<Write<'_>> = vec![Write::Reservation(&r), Write::Task(&task)];
        writes.extend(siblings.iter().map(Write::Reservation));
        if let Some((w, version, before)) = &worker {
            writes.push(Write::Worker {
                worker: w,
                expected_version: *version,
            });
            events.push(event::worker_activity(&locked.workspace, before, w, now));
        }
        writes.extend(events.iter().map(Write::Event));
        self.commit(locked, &writes);
        self.release(locked, &siblings, now);
        let model = locked.model();
        model.move_load(
            &r.worker_sid,
            &r.task_channel_sid,
            ReservationStatus::Pending,
            ReservationStatus::Accepted,
            now,
        );
        model.remove_task(&task.sid);
        if let Some((w, ..)) = &worker {
            set_activity(model, w);
        }
        triggers
            .workers
            .extend(siblings.iter().map(|s| s.worker_sid.clone()));
        Ok(r)
    }

    /// Ends a pending reservation without acceptance (`rejected`, `timeout` or `canceled`): the
    /// worker moves to `activity` (or back to its activity before the reservation, in
    /// single-tasking), will not be offered this task again, and the task goes on routing.
    /// With `callback_error` (a canceled reservation whose assignment callback failed), the
    /// failure is recorded with it, and the worker is offered the task again after a backoff.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn reject_locked(
        &self,
        locked: &mut Locked,
        mut r: Reservation,
        status: ReservationStatus,
        activity: Option<ActivitySid>,
        callback_error: Option<&str>,
        triggers: &mut Triggers,
        now: Timestamp,
    ) -> Result<Reservation> {
        let mut task = self.task_row(locked, &r.task_sid).await?;
        let target_activity = match activity {
            Some(a) => {
                locked.activity(&a, "worker_activity_sid")?;
                Some(a)
            }
            None if !locked.workspace.multi_task_enabled => r.previous_activity_sid.clone(),
            None => None,
        };
        let mut worker = None;
        if let Some(a) = target_activity {
            if let Some(mut w) = locked.model().rows.worker(&r.worker_sid).cloned() {
                if w.activity_sid != a {
                    let (version, before) = (w.version, w.clone());
                    locked.move_to_activity(&mut w, a, now);
                    worker = Some((w, version, before));
                }
            }
        }
        r.status = status;
        r.version += 1;
        r.date_updated = now;
        let others_pending = locked
            .model()
            .task(&task.sid)
            .is_some_and(|t| t.pending.iter().any(|w| *w != r.worker_sid));
        if task.assignment_status == TaskStatus::Reserved && !others_pending {
            task.assignment_status = TaskStatus::Pending;
        }
        task.version += 1;
        task.date_updated = now;
        let kind = format!("reservation.{}", status.as_str());
        let mut ended = event::reservation(
            &locked.workspace,
            &kind,
            &r,
            &task,
            worker.as_ref().map(|(w, ..)| w),
            now,
        );
        if let Some(error) = callback_error {
            ended = ended.with(
                "reservation_canceled_reason",
                format!("{CALLBACK_FAILED}: {error}"),
            );
        }
        let mut events = vec![ended];
        let mut writes: Vec<Write<'_>> = vec![Write::Reservation(&r), Write::Task(&task)];
        if let Some(error) = callback_error {
            writes.push(Write::CallbackFailed {
                reservation: &r.sid,
                error,
            });
        }
        if let Some((w, version, before)) = &worker {
            writes.push(Write::Worker {
                worker: w,
                expected_version: *version,
            });
            events.push(event::worker_activity(&locked.workspace, before, w, now));
        }
        writes.extend(events.iter().map(Write::Event));
        // The model first: when the worker became idle goes into the same write.
        self.release(locked, std::slice::from_ref(&r), now);
        let model = locked.model();
        model.update_task(&task.sid, |t| match callback_error {
            Some(_) => {
                let before = t.callback_failures.get(&r.worker_sid).copied();
                let failures = CallbackFailures::after(before, now);
                t.callback_failures.insert(r.worker_sid.clone(), failures);
            }
            None => {
                t.refused_by.insert(r.worker_sid.clone());
            }
        });
        if let Some((w, ..)) = &worker {
            set_activity(model, w);
            if let Some(state) = model.workers.get_mut(&w.sid).filter(|_| w.available) {
                state.idle_since = now;
            }
        }
        let idle = idle_since_changed(locked, &r.worker_sid);
        if let Some(idle_since) = idle {
            writes.push(Write::WorkerIdle {
                worker: &r.worker_sid,
                idle_since,
            });
        }
        self.commit(locked, &writes);
        triggers.tasks.push(task.sid.clone());
        triggers.workers.push(r.worker_sid.clone());
        Ok(r)
    }

    /// The assignment callback could not be delivered to either URL (`error` says why): the
    /// reservation is canceled, the failure recorded, and the task routed on; the worker is
    /// offered it again only after a backoff ([`callback_backoff`]).
    ///
    /// [`callback_backoff`]: switchyard_core::routing::callback_backoff
    pub async fn cancel_undeliverable(
        &self,
        ws: &WorkspaceSid,
        sid: &ReservationSid,
        task: &switchyard_core::sid::TaskSid,
        error: &str,
    ) -> Result<()> {
        let workspace = self.store_workspace(ws).await?;
        let mut locked = self.lock(workspace).await?;
        let live = locked.model().rows.reservation(sid);
        let Some(r) = live.filter(|r| r.task_sid == *task).cloned() else {
            return Ok(());
        };
        if r.status != ReservationStatus::Pending {
            return Ok(());
        }
        let mut triggers = Triggers::default();
        let now = self.now();
        let result = self
            .reject_locked(
                &mut locked,
                r,
                ReservationStatus::Canceled,
                None,
                Some(error),
                &mut triggers,
                now,
            )
            .await;
        self.finish(locked, triggers).await?;
        result.map(|_| ())
    }
}

impl Engine {
    /// Records that the app answered the reservation's assignment callback, so a restart does
    /// not send it again.
    pub async fn record_callback_answered(&self, reservation: &ReservationSid) -> Result<()> {
        Ok(self.store.record_callback_answered(reservation).await?)
    }
}
