//! The tasks still in play, as committed and as written by writes not yet committed: what
//! the engine reads back without a query.

use std::collections::HashMap;

use switchyard_core::model::Task;
use switchyard_core::sid::TaskSid;

/// The tasks still in play (not completed or canceled), so that reading one back costs no query.
#[derive(Debug, Default)]
pub(crate) struct TaskMemory {
    /// As committed.
    pub(crate) live: HashMap<TaskSid, Task>,
    /// As written by writes not yet committed, with the id of the latest such write (`None`:
    /// deleted).
    pub(crate) written: HashMap<TaskSid, (u64, Option<Task>)>,
}

impl TaskMemory {
    /// Records a committed write's tasks; a write that lost a race to a newer version of the
    /// same task does not replace it.
    pub(crate) fn commit(&mut self, id: u64, changes: Vec<(TaskSid, Option<Task>)>) {
        for (sid, task) in changes {
            self.unwrite(id, &sid);
            match task {
                Some(t) if !t.assignment_status.is_final() => {
                    if self
                        .live
                        .get(&sid)
                        .is_none_or(|old| old.version <= t.version)
                    {
                        self.live.insert(sid, t);
                    }
                }
                _ => {
                    self.live.remove(&sid);
                }
            }
        }
    }

    /// What a write not yet committed made of `sid`: `Some(None)` when it deleted it.
    pub(crate) fn written(&self, sid: &TaskSid) -> Option<Option<&Task>> {
        self.written.get(sid).map(|(_, t)| t.as_ref())
    }

    /// Forgets what write `id` wrote to `sid`, unless a later write has written it since.
    pub(crate) fn unwrite(&mut self, id: u64, sid: &TaskSid) {
        if self.written.get(sid).is_some_and(|(by, _)| *by == id) {
            self.written.remove(sid);
        }
    }
}
