//! Why a task is or is not reserved: the workflow filters as they evaluate now, the step the
//! task is on, and for every worker each reason it may not take the task. A read of the model,
//! asked by a person (`Explain`); routing itself asks [`Model::eligible`], which this must agree
//! with: a worker with no reason is one routing would reserve.

use serde_json::Value;

use crate::expr::{Scoped, Unmet};
use crate::sid::{ActivitySid, TaskChannelSid, TaskQueueSid, TaskSid, WorkerSid, WorkflowSid};
use crate::workflow::KnownWorker;
use crate::Timestamp;

use super::{taskrouter_vars, Model, Route, StepRef, TaskState, WorkerState};

/// What the model says of one task being routed.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The task.
    pub task: TaskSid,
    /// How it is routed.
    pub route: Route,
    /// Whether its workflow has a configuration that parses (true when it has no workflow).
    pub workflow_configured: bool,
    /// Its workflow's filters in order, as they evaluate against the task now (empty without
    /// a workflow).
    pub filters: Vec<FilterCheck>,
    /// The workflow step the task is on.
    pub step: Option<StepView>,
    /// The queue it waits in.
    pub queue: Option<(TaskQueueSid, String)>,
    /// Its task channel.
    pub channel: TaskChannelSid,
    /// Workers holding a pending reservation for it.
    pub reserved_by: Vec<WorkerSid>,
    /// How many more workers it may reserve now (its queue's `MaxReservedWorkers` less those
    /// pending).
    pub wanted: usize,
    /// Every worker of the workspace, in creation order.
    pub workers: Vec<WorkerCheck>,
}

/// A workflow filter and whether it matches the task now.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterCheck {
    /// Its position in `filters`.
    pub index: usize,
    /// Its `filter_friendly_name`.
    pub name: Option<String>,
    /// Its expression, printed canonically.
    pub expression: String,
    /// Whether it holds for the task's attributes now.
    pub matched: bool,
    /// Why not, when it does not.
    pub unmet: Vec<Unmet>,
}

/// The workflow step a task is on.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    /// Where it is.
    pub at: StepRef,
    /// The filter's name, if it has one.
    pub filter_name: Option<String>,
    /// The step's queue.
    pub queue: TaskQueueSid,
    /// The step's worker expression, printed canonically.
    pub expression: Option<String>,
    /// When the step times out and the task moves on.
    pub deadline: Option<Timestamp>,
    /// The step's `skip_if`, and whether it holds now.
    pub skip_if: Option<(String, bool)>,
}

/// One worker and every reason it may not take the task now.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerCheck {
    /// The worker.
    pub sid: WorkerSid,
    /// Its name.
    pub friendly_name: String,
    /// The reasons, in the order routing checks them; none means routing may reserve it now.
    pub reasons: Vec<Reason>,
}

impl WorkerCheck {
    /// Whether routing may reserve this worker for the task now.
    pub fn eligible(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Why a worker may not take a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The task is routed straight to another worker.
    NotTheRoutingTarget {
        /// The worker it is routed to.
        target: WorkerSid,
    },
    /// The task is on no step with a queue: no filter matched and there is no default filter,
    /// the workflow's configuration does not parse, or the queue is gone.
    NoStep,
    /// The worker is not a member of the queue: its `TargetWorkers` is false for it.
    NotInQueue {
        /// The queue.
        queue: TaskQueueSid,
        /// Its name.
        queue_name: String,
        /// Its `TargetWorkers`.
        target_workers: String,
        /// The comparisons that fail on the worker's attributes.
        unmet: Vec<Unmet>,
    },
    /// The step names a known worker and this is not it.
    NotTheKnownWorker {
        /// The task attribute that names the worker.
        attribute: String,
        /// What that attribute holds.
        task_value: Option<Value>,
    },
    /// The step's worker expression is false for this worker and task.
    StepExpressionFalse {
        /// The expression.
        expression: String,
        /// The comparisons that fail.
        unmet: Vec<Unmet>,
    },
    /// It holds a pending reservation for this task already.
    AlreadyReserved,
    /// It rejected the task, or let a reservation for it time out: never offered it again.
    RefusedBefore,
    /// Its assignment callbacks for this task failed: not offered it again until `until`.
    CallbackBackoff {
        /// How many failed.
        failures: u32,
        /// When it may be offered the task again.
        until: Timestamp,
    },
    /// Its activity is not an available one.
    ActivityUnavailable {
        /// The activity.
        activity_sid: ActivitySid,
        /// Its name.
        activity_name: String,
    },
    /// Multitasking: it has no such channel.
    NoChannel,
    /// Multitasking: its channel for the task is switched off.
    ChannelUnavailable {
        /// The channel's unique name.
        channel: String,
    },
    /// Multitasking: its channel for the task is full.
    NoCapacity {
        /// The channel's unique name.
        channel: String,
        /// Reservations pending, accepted or wrapping on it.
        load: i64,
        /// Its capacity.
        capacity: i64,
    },
    /// Single-tasking: it already has a task (pending or accepted).
    Busy {
        /// How many reservations it holds.
        active: i64,
    },
}

impl Model {
    /// Why task `sid` is or is not reserved, for every worker, at `now`; `None` when the task is
    /// not being routed (assigned, finished, or unknown).
    ///
    /// `workflow` is the task's workflow: a task on no step (no filter matched) does not keep it,
    /// and its filters are shown evaluated all the same.
    pub fn explain(
        &self,
        sid: &TaskSid,
        workflow: Option<&WorkflowSid>,
        now: Timestamp,
    ) -> Option<Explanation> {
        let t = self.tasks.get(sid)?;
        let workflow = match &t.route {
            Route::Workflow { workflow, .. } => Some(workflow),
            Route::Unrouted => workflow,
            _ => None,
        };
        let config = workflow.and_then(|w| self.workflow(w));
        let vars = taskrouter_vars(now);
        let scopes = [("taskrouter", &vars)];
        let ctx = Scoped::new(&scopes).with_fallback(&t.attributes);
        let filters = (config.into_iter())
            .flat_map(|c| c.filters.iter().enumerate())
            .map(|(index, f)| FilterCheck {
                index,
                name: f.friendly_name.clone(),
                expression: f.expression.to_string(),
                matched: f.expression.eval(&ctx),
                unmet: f.expression.unmet(&ctx),
            })
            .collect();
        let step = match (&t.route, config) {
            (Route::Workflow { step, .. }, Some(config)) => config.step(*step).map(|s| StepView {
                at: s.at,
                filter_name: (s.at.filter)
                    .and_then(|f| config.filters.get(f))
                    .and_then(|f| f.friendly_name.clone()),
                queue: s.queue.clone(),
                expression: s.target.expression.as_ref().map(ToString::to_string),
                deadline: config.step_deadline(s.at, t.step_entered, t.date_created),
                skip_if: (s.target.skip_if.as_ref()).map(|e| (e.to_string(), self.should_skip(t))),
            }),
            _ => None,
        };
        let configured = workflow.is_none() || config.is_some();
        let mut workers: Vec<&WorkerState> = self.workers.values().collect();
        workers.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.sid.cmp(&b.sid)));
        let mut reserved_by: Vec<WorkerSid> = t.pending.iter().cloned().collect();
        reserved_by.sort();
        Some(Explanation {
            task: t.sid.clone(),
            route: t.route.clone(),
            workflow_configured: configured,
            filters,
            step,
            queue: (t.queue.as_ref()).map(|q| {
                // A queue that is gone still shows its SID.
                let name = self.queues.get(q).map(|q| q.friendly_name.clone());
                (q.clone(), name.unwrap_or_default())
            }),
            channel: t.channel.clone(),
            reserved_by,
            wanted: self.wanted(t),
            workers: (workers.into_iter())
                .map(|w| WorkerCheck {
                    sid: w.sid.clone(),
                    friendly_name: w.friendly_name.clone(),
                    reasons: self.reasons(t, w, now),
                })
                .collect(),
        })
    }

    /// Every reason `w` may not take `t` now, in the order [`Model::eligible`] checks them.
    fn reasons(&self, t: &TaskState, w: &WorkerState, now: Timestamp) -> Vec<Reason> {
        let mut reasons = Vec::new();
        let mut capacity_matters = true;
        match &t.route {
            Route::Worker {
                worker,
                ignore_capacity,
            } => {
                if *worker != w.sid {
                    reasons.push(Reason::NotTheRoutingTarget {
                        target: worker.clone(),
                    });
                }
                capacity_matters = !ignore_capacity;
            }
            Route::Unrouted => reasons.push(Reason::NoStep),
            Route::Queue(q) => self.membership(q, w, &mut reasons),
            Route::Workflow { .. } => match self.step_of(t) {
                None => reasons.push(Reason::NoStep),
                Some(step) => {
                    self.membership(step.queue, w, &mut reasons);
                    if let Some(known) = &step.target.known_worker {
                        let (attr, mine) = match known {
                            KnownWorker::Sid(a) => (a, w.sid.as_str()),
                            KnownWorker::FriendlyName(a) => (a, w.friendly_name.as_str()),
                        };
                        let value = t.attributes.get(attr);
                        if value.and_then(Value::as_str) != Some(mine) {
                            reasons.push(Reason::NotTheKnownWorker {
                                attribute: attr.clone(),
                                task_value: value.cloned(),
                            });
                        }
                    }
                    if let Some(expr) = &step.target.expression {
                        let vars = taskrouter_vars(now);
                        let scopes = [
                            ("task", &t.attributes),
                            ("worker", w.doc()),
                            ("taskrouter", &vars),
                        ];
                        let unmet = expr.unmet(&Scoped::new(&scopes));
                        if !unmet.is_empty() {
                            reasons.push(Reason::StepExpressionFalse {
                                expression: expr.to_string(),
                                unmet,
                            });
                        }
                    }
                }
            },
        }
        let reserved = t.pending.contains(&w.sid);
        if reserved {
            reasons.push(Reason::AlreadyReserved);
        }
        if t.refused_by.contains(&w.sid) {
            reasons.push(Reason::RefusedBefore);
        }
        if let Some(f) = t.callback_failures.get(&w.sid) {
            if let Some(until) = f.until.filter(|until| now < *until) {
                reasons.push(Reason::CallbackBackoff {
                    failures: f.count,
                    until,
                });
            }
        }
        if capacity_matters {
            if !w.available {
                reasons.push(Reason::ActivityUnavailable {
                    activity_sid: w.activity_sid.clone(),
                    activity_name: w.activity_name.clone(),
                });
            }
            if !reserved {
                // Its own reservation for this task is what fills the channel: not news.
                self.room(t, w, &mut reasons);
            }
        }
        reasons
    }

    fn membership(&self, q: &TaskQueueSid, w: &WorkerState, reasons: &mut Vec<Reason>) {
        let Some(queue) = self.queues.get(q) else {
            reasons.push(Reason::NoStep);
            return;
        };
        if !queue.members.contains(&w.sid) {
            reasons.push(Reason::NotInQueue {
                queue: q.clone(),
                queue_name: queue.friendly_name.clone(),
                target_workers: queue.target.to_string(),
                unmet: queue.target.unmet(&w.attributes),
            });
        }
    }

    fn room(&self, t: &TaskState, w: &WorkerState, reasons: &mut Vec<Reason>) {
        if !self.multi_task {
            let active = w.active(false);
            if active > 0 {
                reasons.push(Reason::Busy { active });
            }
            return;
        }
        let Some(c) = w.channels.get(&t.channel) else {
            reasons.push(Reason::NoChannel);
            return;
        };
        if !c.available {
            reasons.push(Reason::ChannelUnavailable {
                channel: c.unique_name.clone(),
            });
        }
        if c.load() >= c.capacity {
            reasons.push(Reason::NoCapacity {
                channel: c.unique_name.clone(),
                load: c.load(),
                capacity: c.capacity,
            });
        }
    }
}
