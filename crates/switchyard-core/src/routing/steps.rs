//! Where a task is in its workflow: steps (a filter and a target), how a task enters and leaves
//! them, and each step's deadline.

use serde_json::{Map, Value};

use crate::expr::Lookup;
use crate::sid::TaskQueueSid;
use crate::workflow::{Target, WorkflowConfig};
use crate::Timestamp;

/// Where a task is in its workflow: a filter (or the default filter) and a step of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepRef {
    /// Index into `filters`, or `None` for `default_filter`.
    pub filter: Option<usize>,
    /// Index into the filter's targets (always 0 for the default filter).
    pub step: usize,
}

/// A step of a workflow with the queue it routes to (inherited from earlier steps when absent).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// Where it is.
    pub at: StepRef,
    /// Its target definition.
    pub target: &'a Target,
    /// Its queue.
    pub queue: &'a TaskQueueSid,
}

/// TaskRouter's time-of-day variables (`taskrouter.currentTime` and friends) at `now`, in UTC.
pub fn taskrouter_vars(now: Timestamp) -> Value {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let secs = now.as_secs();
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (hour, minute) = (of_day / 3600, of_day % 3600 / 60);
    let mut vars = Map::new();
    vars.insert("currentTime".into(), Value::from(hour * 100 + minute));
    vars.insert("currentHour".into(), Value::from(format!("{hour:02}")));
    vars.insert("currentMin".into(), Value::from(format!("{minute:02}")));
    vars.insert(
        "dayOfWeek".into(),
        Value::from(DAYS[days.rem_euclid(7) as usize]),
    );
    Value::Object(vars)
}

impl WorkflowConfig {
    /// The step at `at`, if the configuration has it.
    pub fn step(&self, at: StepRef) -> Option<Step<'_>> {
        match at.filter {
            None => {
                let target = self.default_filter.as_ref().filter(|_| at.step == 0)?;
                Some(Step {
                    at,
                    target,
                    queue: target.queue.as_ref()?,
                })
            }
            Some(f) => {
                let targets = &self.filters.get(f)?.targets;
                let target = targets.get(at.step)?;
                let queue = targets[..=at.step]
                    .iter()
                    .rev()
                    .find_map(|t| t.queue.as_ref())?;
                Some(Step { at, target, queue })
            }
        }
    }

    /// The first filter at or after `from` whose expression holds for the task.
    fn matching_filter(&self, task: &impl Lookup, from: usize) -> Option<usize> {
        (from..self.filters.len()).find(|&i| self.filters[i].expression.eval(task))
    }

    /// Where a new (or re-evaluated) task enters: the first matching filter's first step, else the
    /// default filter, else nowhere.
    pub fn entry(&self, task: &impl Lookup) -> Option<StepRef> {
        match self.matching_filter(task, 0) {
            Some(f) => Some(StepRef {
                filter: Some(f),
                step: 0,
            }),
            None => self.default_filter.as_ref().map(|_| StepRef {
                filter: None,
                step: 0,
            }),
        }
    }

    /// Where a task goes when step `at` times out: the next step, else the next matching filter.
    /// `None` means the workflow is exhausted (the default filter is no fallback after a timeout).
    pub fn after_timeout(&self, task: &impl Lookup, at: StepRef) -> Option<StepRef> {
        let f = at.filter?;
        if at.step + 1 < self.filters.get(f)?.targets.len() {
            return Some(StepRef {
                filter: Some(f),
                step: at.step + 1,
            });
        }
        self.matching_filter(task, f + 1).map(|f| StepRef {
            filter: Some(f),
            step: 0,
        })
    }

    /// Where a task goes when step `at` is skipped (`skip_if`): the next step; after a filter's last
    /// step, the next matching filter or the default filter, as if the filter had not matched.
    pub fn after_skip(&self, task: &impl Lookup, at: StepRef) -> Option<StepRef> {
        let f = at.filter?;
        if at.step + 1 < self.filters.get(f)?.targets.len() {
            return Some(StepRef {
                filter: Some(f),
                step: at.step + 1,
            });
        }
        match self.matching_filter(task, f + 1) {
            Some(f) => Some(StepRef {
                filter: Some(f),
                step: 0,
            }),
            None => self.default_filter.as_ref().map(|_| StepRef {
                filter: None,
                step: 0,
            }),
        }
    }

    /// When step `at` times out for a task that entered it at `entered`: a task waits in each
    /// step for that step's own timeout, so step N of a filter times out at the sum of steps
    /// 1..N's timeouts. Without `entered` (a task stored before entry times were kept), the
    /// step is taken as entered when the earlier steps of its filter timed out one after the
    /// other from `created`.
    pub fn step_deadline(
        &self,
        at: StepRef,
        entered: Option<Timestamp>,
        created: Timestamp,
    ) -> Option<Timestamp> {
        let timeout = self.step(at)?.target.timeout?;
        let entered = entered.unwrap_or_else(|| {
            let earlier: i64 = at
                .filter
                .and_then(|f| self.filters.get(f))
                .map(|f| {
                    f.targets[..at.step.min(f.targets.len())]
                        .iter()
                        .filter_map(|t| t.timeout)
                        .sum()
                })
                .unwrap_or(0);
            created + crate::time::Duration::from_secs(earlier)
        });
        Some(entered + crate::time::Duration::from_secs(timeout))
    }
}
