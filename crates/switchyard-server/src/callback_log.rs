//! The callback log: every assignment and event callback attempt (what was POSTed where, signed
//! how, and what came back), newest first, so a developer can see what their app received and
//! answered, and send it again (`Replay`).
//!
//! Kept in memory, per workspace, bounded (`--callback-log-size`): a development aid, not an
//! audit trail, so it costs the callback path no write and forgets on restart.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_core::sid::WorkspaceSid;
use switchyard_core::Timestamp;
use switchyard_engine::{Cursor, Page};

/// Entries kept per workspace when nothing else is configured.
pub const DEFAULT_PER_WORKSPACE: usize = 200;
/// The most of an answer's body the log keeps.
const BODY_KEPT: usize = 2048;

/// Which callback an attempt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// To the workflow's `AssignmentCallbackUrl`.
    Assignment,
    /// To its `FallbackAssignmentCallbackUrl`, after the first failed.
    AssignmentFallback,
    /// To the workspace's `EventCallbackUrl`.
    Event,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Assignment => "assignment",
            Kind::AssignmentFallback => "assignment_fallback",
            Kind::Event => "event",
        }
    }

    /// The `kind` label of the callback metrics (a fallback is an assignment callback).
    pub(crate) fn metric(self) -> &'static str {
        match self {
            Kind::Assignment | Kind::AssignmentFallback => "assignment",
            Kind::Event => "event",
        }
    }
}

/// One attempt, as logged.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its position in the log: larger is newer.
    pub(crate) seq: i64,
    pub(crate) workspace_sid: WorkspaceSid,
    pub(crate) kind: Kind,
    pub(crate) url: String,
    /// The form fields POSTed, in order.
    pub(crate) params: Vec<(String, String)>,
    /// The `X-Twilio-Signature` sent.
    pub(crate) signature: String,
    /// When it was sent, on the engine's clock.
    pub(crate) date: Timestamp,
    /// The HTTP status answered, if any came.
    pub(crate) status: Option<u16>,
    /// Why the attempt counts as failed, if it does.
    pub(crate) error: Option<String>,
    /// The start of the answer's body.
    pub(crate) body: Option<String>,
    /// Whether `body` was cut short.
    pub(crate) body_truncated: bool,
    /// How long it took, in milliseconds.
    pub(crate) latency_ms: f64,
    /// Which attempt of this delivery it was (event callbacks retry; 1 otherwise).
    pub(crate) attempt: u32,
    /// The entry this one sent again, for a replay.
    pub(crate) replay_of: Option<String>,
}

impl Entry {
    /// The entry's ID in URLs: `CL` and 32 hex digits, shaped like a SID.
    pub(crate) fn id(&self) -> String {
        id(self.seq)
    }

    /// Keeps at most [`BODY_KEPT`] bytes of `body`, cut on a character boundary.
    pub(crate) fn set_body(&mut self, body: Option<&str>) {
        self.body_truncated = body.is_some_and(|b| b.len() > BODY_KEPT);
        self.body = body.map(|b| {
            let mut end = b.len().min(BODY_KEPT);
            while !b.is_char_boundary(end) {
                end -= 1;
            }
            b[..end].to_owned()
        });
    }
}

fn id(seq: i64) -> String {
    format!("CL{seq:032x}")
}

/// Reads an entry ID back into its position.
fn seq_of(id: &str) -> Option<i64> {
    let hex = id.strip_prefix("CL").filter(|h| h.len() == 32)?;
    i64::try_from(u128::from_str_radix(hex, 16).ok()?).ok()
}

/// How many deleted workspaces the log remembers, so that an attempt still under way when its
/// workspace was deleted is not logged into a log nobody can read or remove.
const FORGOTTEN_KEPT: usize = 1024;

/// The log of every workspace.
pub(crate) struct CallbackLog {
    per_workspace: usize,
    next: AtomicI64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    logs: HashMap<WorkspaceSid, VecDeque<Arc<Entry>>>,
    /// Workspaces deleted lately, oldest first.
    forgotten: VecDeque<WorkspaceSid>,
}

impl CallbackLog {
    /// A log keeping the newest `per_workspace` attempts of each workspace (0 keeps none).
    pub(crate) fn new(per_workspace: usize) -> CallbackLog {
        CallbackLog {
            per_workspace,
            next: AtomicI64::new(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an attempt, giving it the next position and its ID, and drops the workspace's
    /// oldest beyond the bound.
    pub(crate) fn record(&self, mut entry: Entry) -> Arc<Entry> {
        entry.seq = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(entry);
        if self.per_workspace == 0 {
            return entry;
        }
        let mut all = self.lock();
        if all.forgotten.contains(&entry.workspace_sid) {
            return entry;
        }
        let log = all.logs.entry(entry.workspace_sid.clone()).or_default();
        log.push_back(Arc::clone(&entry));
        while log.len() > self.per_workspace {
            log.pop_front();
        }
        entry
    }

    /// The entry with this ID, if the workspace's log still holds it.
    pub(crate) fn get(&self, ws: &WorkspaceSid, id: &str) -> Option<Arc<Entry>> {
        let seq = seq_of(id)?;
        let all = self.lock();
        let log = all.logs.get(ws)?;
        // Positions rise along the deque: search it like a sorted list.
        let at = log.binary_search_by_key(&seq, |e| e.seq).ok()?;
        log.get(at).cloned()
    }

    /// A page of the workspace's log, newest first. Rows are keyed by `i64::MAX - seq`, so that
    /// ascending keys are newest first and the API's page tokens (which take no negative
    /// number) work unchanged.
    pub(crate) fn page(&self, ws: &WorkspaceSid, cursor: Cursor, size: usize) -> Page<Arc<Entry>> {
        let all = self.lock();
        let Some(log) = all.logs.get(ws) else {
            return Page::empty();
        };
        let keyed = |e: &Arc<Entry>| (i64::MAX - e.seq, Arc::clone(e));
        let newest_first = log.iter().rev().map(keyed);
        let rows: Vec<(i64, Arc<Entry>)> = match cursor {
            Cursor::Start => newest_first.take(size + 1).collect(),
            Cursor::Offset(n) => newest_first.skip(n).take(size + 1).collect(),
            Cursor::After(after) => newest_first
                .filter(|(k, _)| *k > after)
                .take(size + 1)
                .collect(),
            Cursor::Before(before) => {
                // Nearest the cursor first, as `Page::from_fetched` expects of a `Before`.
                let mut nearest_first: Vec<(i64, Arc<Entry>)> = (log.iter())
                    .map(keyed)
                    .filter(|(k, _)| *k < before)
                    .collect();
                nearest_first.truncate(size + 1);
                nearest_first
            }
        };
        Page::from_fetched(rows, cursor, size)
    }

    /// Forgets a deleted workspace's log, and logs nothing more for it.
    pub(crate) fn forget(&self, ws: &WorkspaceSid) {
        let mut all = self.lock();
        all.logs.remove(ws);
        all.forgotten.push_back(ws.clone());
        if all.forgotten.len() > FORGOTTEN_KEPT {
            all.forgotten.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ws: &WorkspaceSid) -> Entry {
        Entry {
            seq: 0,
            workspace_sid: ws.clone(),
            kind: Kind::Event,
            url: "http://127.0.0.1/".into(),
            params: Vec::new(),
            signature: String::new(),
            date: Timestamp::from_secs(0),
            status: Some(200),
            error: None,
            body: None,
            body_truncated: false,
            latency_ms: 1.0,
            attempt: 1,
            replay_of: None,
        }
    }

    #[test]
    fn keeps_the_newest_entries_of_each_workspace_and_pages_them_newest_first() {
        let ws: WorkspaceSid = "WS00000000000000000000000000000001".parse().unwrap();
        let log = CallbackLog::new(3);
        let ids: Vec<String> = (0..5).map(|_| log.record(entry(&ws)).id()).collect();
        assert!(log.get(&ws, &ids[1]).is_none(), "dropped beyond the bound");
        assert_eq!(log.get(&ws, &ids[4]).unwrap().id(), ids[4]);
        let first = log.page(&ws, Cursor::Start, 2);
        let got: Vec<String> = first.items.iter().map(|(_, e)| e.id()).collect();
        assert_eq!(got, [ids[4].clone(), ids[3].clone()]);
        let second = log.page(&ws, first.next.unwrap(), 2);
        let got: Vec<String> = second.items.iter().map(|(_, e)| e.id()).collect();
        assert_eq!(got, [ids[2].clone()]);
        assert!(second.next.is_none());
        let back = log.page(&ws, second.previous.unwrap(), 2);
        let got: Vec<String> = back.items.iter().map(|(_, e)| e.id()).collect();
        assert_eq!(got, [ids[4].clone(), ids[3].clone()]);
        assert_eq!(seq_of("CLzz"), None);
    }

    #[test]
    fn a_forgotten_workspace_logs_nothing_more() {
        let ws: WorkspaceSid = "WS00000000000000000000000000000001".parse().unwrap();
        let log = CallbackLog::new(3);
        let id = log.record(entry(&ws)).id();
        log.forget(&ws);
        assert!(log.get(&ws, &id).is_none());
        // An attempt that was under way when the workspace went.
        let late = log.record(entry(&ws)).id();
        assert!(log.get(&ws, &late).is_none());
        assert!(log.page(&ws, Cursor::Start, 10).items.is_empty());
        assert!(log.lock().logs.is_empty());
    }

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let ws: WorkspaceSid = "WS00000000000000000000000000000001".parse().unwrap();
        let mut e = entry(&ws);
        let long = "é".repeat(BODY_KEPT);
        e.set_body(Some(&long));
        assert!(e.body_truncated);
        assert!(e.body.as_ref().unwrap().len() <= BODY_KEPT);
        e.set_body(Some("ok"));
        assert_eq!((e.body.as_deref(), e.body_truncated), (Some("ok"), false));
    }
}
