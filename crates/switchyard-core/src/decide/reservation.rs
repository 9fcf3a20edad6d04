//! Requests on a reservation (accept, reject, wrap, complete) and the ends a reservation
//! meets without acceptance (timeout, a failed assignment callback).

use super::{set_activity, Change, Decider, Mint, Refused, Triggers};
use crate::event::{build as event, Event};
use crate::lifecycle::{self, ReservationRequest, TransitionError};
use crate::model::{Reservation, Worker};
use crate::routing::{CallbackFailures, ReservationStatus, TaskStatus};
use crate::sid::ActivitySid;

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

/// How a pending reservation ends without acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unaccepted<'e> {
    /// The worker refused it: it is not offered this task again.
    Rejected,
    /// Nobody answered in time.
    Timeout,
    /// Ended for its worker's sake (the worker was deleted).
    Canceled,
    /// Its assignment callback failed with this error: the worker is offered the task again
    /// after a backoff.
    CallbackFailed(&'e str),
}

impl<M: Mint> Decider<'_, M> {
    /// Does `action` to the reservation `r` (as the rows hold it, or as stored once ended):
    /// checked against the state machines first, so a refusal changes nothing.
    pub fn act(
        &mut self,
        r: Reservation,
        action: ReservationAction,
        triggers: &mut Triggers,
    ) -> Result<Reservation, Refused> {
        let request = match &action {
            ReservationAction::Accept { .. } => ReservationRequest::Accept,
            ReservationAction::Reject { .. } => ReservationRequest::Reject,
            ReservationAction::Wrap => ReservationRequest::Wrap,
            ReservationAction::Complete => ReservationRequest::Complete,
        };
        lifecycle::reservation_request(r.status, request)
            .map_err(|error| Refused::transition("Reservation", &r.sid, error))?;
        match action {
            ReservationAction::Accept { instruction } => self.accept(r, instruction, triggers),
            ReservationAction::Reject { activity } => {
                self.end_unaccepted(r, Unaccepted::Rejected, activity, triggers)
            }
            ReservationAction::Wrap | ReservationAction::Complete => {
                let to = if action == ReservationAction::Wrap {
                    TaskStatus::Wrapping
                } else {
                    TaskStatus::Completed
                };
                let task = (self.model.rows.task(&r.task_sid).cloned())
                    .ok_or_else(|| Refused::not_found("Task", &r.task_sid))?;
                // Accepted or wrapping, so live: it follows the task.
                if self.model.rows.reservation(&r.sid).is_none() {
                    return Err(Refused::not_found("Reservation", &r.sid));
                }
                let (_, moved) = self.move_task(task, to, None, triggers)?;
                Ok(moved.into_iter().find(|m| m.sid == r.sid).unwrap_or(r))
            }
        }
    }

    /// Accepts a pending reservation: the task is assigned, its other pending reservations
    /// rescinded, and in single-tasking the worker moves to the queue's assignment activity.
    fn accept(
        &mut self,
        mut r: Reservation,
        instruction: Option<String>,
        triggers: &mut Triggers,
    ) -> Result<Reservation, Refused> {
        let now = self.now;
        let mut task = (self.model.rows.task(&r.task_sid).cloned())
            .ok_or_else(|| Refused::not_found("Task", &r.task_sid))?;
        r.status = ReservationStatus::Accepted;
        r.instruction = instruction;
        r.version += 1;
        r.date_updated = now;
        let mut siblings = self.end_pending(&task.sid, ReservationStatus::Rescinded);
        siblings.retain(|s| s.sid != r.sid);
        task.assignment_status = TaskStatus::Assigned;
        task.version += 1;
        task.date_updated = now;
        // Single-tasking: the worker moves to the queue's assignment activity.
        let assignment_activity = (task.task_queue.as_ref())
            .and_then(|(q, _)| self.model.queues.get(q))
            .and_then(|q| q.assignment_activity.clone())
            .filter(|_| !self.workspace.multi_task_enabled);
        let worker = match assignment_activity {
            Some(a) => self.moved_worker(&r, a),
            None => None,
        };
        let mut events = vec![event::reservation(
            self.mint.sid(),
            self.workspace,
            "reservation.accepted",
            &r,
            &task,
            worker.as_ref().map(|(w, ..)| w),
            now,
        )];
        events.extend(event::reservations(
            self.mint,
            self.workspace,
            "reservation.rescinded",
            &siblings,
            &task,
            now,
        ));
        let mut changes = vec![Change::Reservation(r.clone()), Change::Task(task.clone())];
        changes.extend(siblings.iter().cloned().map(Change::Reservation));
        if let Some(moved) = &worker {
            self.record_worker_move(moved, &mut changes, &mut events);
        }
        changes.extend(events.into_iter().map(Change::Event));
        self.emit(changes);
        self.release(&siblings);
        self.model.move_load(
            &r.worker_sid,
            &r.task_channel_sid,
            ReservationStatus::Pending,
            ReservationStatus::Accepted,
            now,
        );
        self.model.remove_task(&task.sid);
        if let Some((w, ..)) = &worker {
            set_activity(self.model, w);
        }
        (triggers.workers).extend(siblings.iter().map(|s| s.worker_sid.clone()));
        Ok(r)
    }

    /// Ends a pending reservation without acceptance (`how`): the worker moves to `activity`
    /// (or, in single-tasking, back to its activity before the reservation), the task goes on
    /// routing. A rejecting worker is not offered the task again; one whose callback failed is
    /// offered it again after a backoff.
    pub fn end_unaccepted(
        &mut self,
        mut r: Reservation,
        how: Unaccepted<'_>,
        activity: Option<ActivitySid>,
        triggers: &mut Triggers,
    ) -> Result<Reservation, Refused> {
        let now = self.now;
        if r.status != ReservationStatus::Pending {
            let error = TransitionError::NotPending(r.status);
            return Err(Refused::transition("Reservation", &r.sid, error));
        }
        let mut task = (self.model.rows.task(&r.task_sid).cloned())
            .ok_or_else(|| Refused::not_found("Task", &r.task_sid))?;
        let activity = (activity.map(|a| self.activity("worker_activity_sid", a))).transpose()?;
        let target_activity = match activity {
            Some(a) => Some(a),
            None if !self.workspace.multi_task_enabled => r.previous_activity_sid.clone(),
            None => None,
        };
        let worker = match target_activity {
            Some(a) => self.moved_worker(&r, a),
            None => None,
        };
        let status = match how {
            Unaccepted::Rejected => ReservationStatus::Rejected,
            Unaccepted::Timeout => ReservationStatus::Timeout,
            Unaccepted::Canceled | Unaccepted::CallbackFailed(_) => ReservationStatus::Canceled,
        };
        r.status = status;
        r.version += 1;
        r.date_updated = now;
        let others_pending = (self.model.task(&task.sid))
            .is_some_and(|t| t.pending.iter().any(|w| *w != r.worker_sid));
        if task.assignment_status == TaskStatus::Reserved && !others_pending {
            task.assignment_status = TaskStatus::Pending;
        }
        task.version += 1;
        task.date_updated = now;
        let kind = format!("reservation.{}", status.as_str());
        let mut ended = event::reservation(
            self.mint.sid(),
            self.workspace,
            &kind,
            &r,
            &task,
            worker.as_ref().map(|(w, ..)| w),
            now,
        );
        if let Unaccepted::CallbackFailed(error) = how {
            ended = ended.with(
                "reservation_canceled_reason",
                format!("{CALLBACK_FAILED}: {error}"),
            );
        }
        let mut events = vec![ended];
        let mut changes = vec![Change::Reservation(r.clone()), Change::Task(task.clone())];
        if let Unaccepted::CallbackFailed(error) = how {
            changes.push(Change::CallbackFailed {
                reservation: r.sid.clone(),
                error: error.to_owned(),
            });
        }
        if let Some(moved) = &worker {
            self.record_worker_move(moved, &mut changes, &mut events);
        }
        changes.extend(events.into_iter().map(Change::Event));
        // The model first: when the worker became idle goes into the same unit.
        self.release(std::slice::from_ref(&r));
        let worker_sid = r.worker_sid.clone();
        self.model.update_task(&task.sid, |t| match how {
            Unaccepted::CallbackFailed(_) => {
                let before = t.callback_failures.get(&worker_sid).copied();
                let failures = CallbackFailures::after(before, now);
                t.callback_failures.insert(worker_sid.clone(), failures);
            }
            Unaccepted::Rejected | Unaccepted::Timeout | Unaccepted::Canceled => {
                t.refused_by.insert(worker_sid.clone());
            }
        });
        if let Some((w, ..)) = &worker {
            set_activity(self.model, w);
            if let Some(state) = self.model.workers.get_mut(&w.sid).filter(|_| w.available) {
                state.idle_since = now;
            }
        }
        if let Some(idle_since) = self.idle_since_changed(&r.worker_sid) {
            changes.push(Change::WorkerIdle {
                worker: r.worker_sid.clone(),
                idle_since,
            });
        }
        self.emit(changes);
        triggers.tasks.push(task.sid.clone());
        triggers.workers.push(r.worker_sid.clone());
        Ok(r)
    }

    /// Records a worker's move to another activity (`moved_worker`'s answer): its row and
    /// `worker.activity.update`.
    fn record_worker_move(
        &mut self,
        (w, version, before): &(Worker, i64, Worker),
        changes: &mut Vec<Change>,
        events: &mut Vec<Event>,
    ) {
        changes.push(Change::Worker {
            worker: w.clone(),
            expected_version: *version,
        });
        let sid = self.mint.sid();
        events.push(event::worker_activity(
            sid,
            self.workspace,
            before,
            w,
            self.now,
        ));
    }

    /// The reservation's worker moved to `activity`, with its version before and its row
    /// before; `None` when it is there already (or gone).
    fn moved_worker(
        &self,
        r: &Reservation,
        activity: ActivitySid,
    ) -> Option<(Worker, i64, Worker)> {
        let mut w = self.model.rows.worker(&r.worker_sid)?.clone();
        if w.activity_sid == activity {
            return None;
        }
        let (version, before) = (w.version, w.clone());
        self.move_to_activity(&mut w, activity);
        Some((w, version, before))
    }

    /// `a`, if it is an activity of the workspace (else refused, naming `field`).
    pub(super) fn activity(
        &self,
        field: &'static str,
        a: ActivitySid,
    ) -> Result<ActivitySid, Refused> {
        if self.model.activities.contains_key(&a) {
            return Ok(a);
        }
        let ws = &self.workspace.sid;
        Err(Refused::field(
            field,
            format!("{a} is not an activity of workspace {ws}"),
        ))
    }
}
