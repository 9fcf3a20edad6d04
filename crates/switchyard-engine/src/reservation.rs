//! Reservations: accept, reject, and the statuses that follow the task.

use switchyard_core::decide::{Change, Triggers, Unaccepted};
use switchyard_core::model::Reservation;
use switchyard_core::routing::ReservationStatus;
use switchyard_core::sid::{AccountSid, ReservationSid, WorkerSid, WorkspaceSid};
use switchyard_store::ReservationScope;

use crate::lock::Locked;
use crate::{check_version, filtered_page, Engine, Error, Page, PageRequest, Result};

pub use switchyard_core::decide::{ReservationAction, CALLBACK_FAILED};

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
        let mut locked = self.lock(workspace).await?;
        let r = self.reservation_row(&mut locked, scope, sid).await?;
        check_version(p.expected_version, r.version, "Reservation", sid)?;
        let mut triggers = Triggers::default();
        let now = self.now();
        let result = self.decide(&mut locked, now, |d| d.act(r, p.action, &mut triggers));
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
        // A live reservation's task is live too; its worker may have been deleted while it
        // was accepted, so the worker is looked for.
        let rows = &locked.model().rows;
        let live = rows.reservation(sid).filter(|r| match scope {
            ReservationScope::Task(t) => r.task_sid == *t,
            ReservationScope::Worker(w) => r.worker_sid == *w && rows.worker(w).is_some(),
        });
        if let Some(r) = live {
            return Ok(r.clone());
        }
        // Off the lifecycle path: an ended reservation, or none (the task or worker missing
        // answers 404 for itself).
        self.check_scope(&locked.workspace.sid, scope).await?;
        self.store
            .get_reservation(&locked.workspace.sid, scope, sid)
            .await?
            .ok_or_else(|| Error::not_found("Reservation", sid))
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
        let how = Unaccepted::CallbackFailed(error);
        let result = self.decide(&mut locked, now, |d| {
            d.end_unaccepted(r, how, None, &mut triggers)
        });
        self.finish(locked, triggers).await?;
        result.map(drop).map_err(Error::from)
    }
}

impl Engine {
    /// Records that the app answered the reservation's assignment callback, so a restart does
    /// not send it again.
    pub async fn record_callback_answered(
        &self,
        ws: &WorkspaceSid,
        reservation: &ReservationSid,
    ) -> Result<()> {
        let answered = [Change::CallbackAnswered(reservation.clone())];
        // Handed to another node meanwhile: that node announced the reservation again when
        // it took the workspace, and records the answer it gets.
        let Some(chain) = self.bookkeeping_chain(ws) else {
            return Ok(());
        };
        Ok(self.store.submit(&answered, &chain).wait().await?)
    }
}
