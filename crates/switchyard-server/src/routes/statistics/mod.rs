//! Statistics of the workspace, its queues, workers and workflows: one handler per route, each
//! answering the struct of [`realtime`] or [`cumulative`] that Twilio's description gives it.
//! `.../Statistics` nests both kinds as `realtime` and `cumulative`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_core::sid::{TaskQueueSid, WorkerSid, WorkflowSid, WorkspaceSid};
use switchyard_engine::{
    CumulativeOptions, CumulativeStatistics, RealTimeStatistics, StatsScope, TaskQueueQuery,
    WorkerSelection,
};

use super::{ok, path_sid};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::field;
use crate::form::{self, Query};
use crate::paging::ListRequest;
use crate::{AppState, Caller};

mod cumulative;
mod realtime;

use cumulative::{
    CumulativeForm, QueueCumulative, WorkersCumulative, WorkflowCumulative, WorkspaceCumulative,
};
use realtime::{
    BulkQueueRealTime, QueueRealTime, WorkersRealTime, WorkflowRealTime, WorkspaceRealTime,
};

/// The query parameter of every real-time statistics request.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct RealTimeForm {
    #[serde(deserialize_with = "field::text")]
    task_channel: Option<String>,
}

/// `/Workers/Statistics` narrows the workers counted.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct WorkerSelectionForm {
    #[serde(deserialize_with = "field::text")]
    task_queue_sid: Option<String>,
    #[serde(deserialize_with = "field::text")]
    task_queue_name: Option<String>,
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
}

/// `/TaskQueues/Statistics` narrows the queues listed.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct QueueSelectionForm {
    #[serde(deserialize_with = "field::text")]
    friendly_name: Option<String>,
}

/// A statistics resource: whose it is, where it lives, and what it counts.
#[derive(Debug, Serialize)]
struct Stats<B> {
    account_sid: String,
    workspace_sid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_queue_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(flatten)]
    body: B,
}

/// Both kinds, as `.../Statistics` shows them.
#[derive(Debug, Serialize)]
struct Both<R, C> {
    realtime: R,
    cumulative: C,
}

/// Only the cumulative kind, nested (a worker's own `/Statistics`).
#[derive(Debug, Serialize)]
struct CumulativeOnly<C> {
    cumulative: C,
}

/// 200 with the body's keys in alphabetical order, as statistics have always been written.
fn respond(body: impl Serialize) -> ApiResult<Response> {
    let value = serde_json::to_value(body).map_err(|e| {
        tracing::error!("statistics did not serialize: {e}");
        ApiError::Internal
    })?;
    Ok(ok(value))
}

/// What a statistics handler works with: the caller and the workspace.
struct Scope<'a> {
    st: &'a AppState,
    c: &'a Caller,
    ws: WorkspaceSid,
}

impl<'a> Scope<'a> {
    fn new(st: &'a AppState, c: &'a Caller, ws: &str) -> ApiResult<Self> {
        Ok(Scope {
            st,
            c,
            ws: path_sid(&c.path, ws)?,
        })
    }

    /// A resource `rest` below the workspace, owned by nothing narrower.
    fn stats<B>(&self, rest: &str, body: B) -> Stats<B> {
        Stats {
            account_sid: self.c.account.to_string(),
            workspace_sid: self.ws.to_string(),
            task_queue_sid: None,
            worker_sid: None,
            workflow_sid: None,
            url: Some(self.st.ctx(&self.c.account).ws(&self.ws, rest)),
            body,
        }
    }

    async fn realtime(
        &self,
        scope: StatsScope,
        task_channel: Option<&str>,
    ) -> ApiResult<RealTimeStatistics> {
        let mut all = self.realtimes(&[scope], task_channel).await?;
        all.pop().ok_or(ApiError::Internal)
    }

    async fn realtimes(
        &self,
        scopes: &[StatsScope],
        task_channel: Option<&str>,
    ) -> ApiResult<Vec<RealTimeStatistics>> {
        let (st, c) = (self.st, self.c);
        st.engine
            .realtime_statistics(&c.account, &self.ws, scopes, task_channel)
            .await
            .at(&c.path)
    }

    async fn cumulative(
        &self,
        scope: StatsScope,
        options: &CumulativeOptions,
    ) -> ApiResult<CumulativeStatistics> {
        let mut all = self.cumulatives(&[scope], options).await?;
        all.pop().ok_or(ApiError::Internal)
    }

    async fn cumulatives(
        &self,
        scopes: &[StatsScope],
        options: &CumulativeOptions,
    ) -> ApiResult<Vec<CumulativeStatistics>> {
        let (st, c) = (self.st, self.c);
        st.engine
            .cumulative_statistics(&c.account, &self.ws, scopes, options)
            .await
            .at(&c.path)
    }
}

// The workspace.

pub(crate) async fn workspace(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let channel = q.task_channel.as_deref();
    let realtime = s.realtime(StatsScope::Workspace, channel).await?;
    let cumulative = s.cumulative(StatsScope::Workspace, &q.options()).await?;
    respond(s.stats(
        "/Statistics",
        Both {
            realtime: WorkspaceRealTime::new(&realtime),
            cumulative: WorkspaceCumulative::new(&cumulative),
        },
    ))
}

pub(crate) async fn workspace_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<RealTimeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let realtime = s
        .realtime(StatsScope::Workspace, q.task_channel.as_deref())
        .await?;
    respond(s.stats("/RealTimeStatistics", WorkspaceRealTime::new(&realtime)))
}

pub(crate) async fn workspace_cumulative(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let cumulative = s.cumulative(StatsScope::Workspace, &q.options()).await?;
    respond(s.stats(
        "/CumulativeStatistics",
        WorkspaceCumulative::new(&cumulative),
    ))
}

// One task queue.

/// The queue's statistics resource `rest` (`/Statistics`, ...).
fn queue_stats<B>(s: &Scope<'_>, queue: &TaskQueueSid, rest: &str, body: B) -> Stats<B> {
    Stats {
        task_queue_sid: Some(queue.to_string()),
        ..s.stats(&format!("/TaskQueues/{queue}{rest}"), body)
    }
}

pub(crate) async fn queue(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, queue)): Path<(String, String)>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let queue: TaskQueueSid = path_sid(&c.path, &queue)?;
    let scope = || StatsScope::Queue(queue.clone());
    let realtime = s.realtime(scope(), q.task_channel.as_deref()).await?;
    let cumulative = s.cumulative(scope(), &q.options()).await?;
    let both = Both {
        realtime: QueueRealTime::new(&realtime),
        cumulative: QueueCumulative::new(&cumulative),
    };
    respond(queue_stats(&s, &queue, "/Statistics", both))
}

pub(crate) async fn queue_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, queue)): Path<(String, String)>,
    Query(q): Query<RealTimeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let queue: TaskQueueSid = path_sid(&c.path, &queue)?;
    let realtime = s
        .realtime(StatsScope::Queue(queue.clone()), q.task_channel.as_deref())
        .await?;
    let body = QueueRealTime::new(&realtime);
    respond(queue_stats(&s, &queue, "/RealTimeStatistics", body))
}

pub(crate) async fn queue_cumulative(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, queue)): Path<(String, String)>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let queue: TaskQueueSid = path_sid(&c.path, &queue)?;
    let cumulative = s
        .cumulative(StatsScope::Queue(queue.clone()), &q.options())
        .await?;
    let body = QueueCumulative::new(&cumulative);
    respond(queue_stats(&s, &queue, "/CumulativeStatistics", body))
}

// Task queues together.

/// `GET /TaskQueues/Statistics`: a page of queues, each with both kinds of statistics.
pub(crate) async fn queues(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    req: ListRequest,
    Query(q): Query<CumulativeForm>,
    Query(selection): Query<QueueSelectionForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let mut query = TaskQueueQuery::default();
    query.filter.friendly_name = selection.friendly_name;
    let page = st
        .engine
        .list_task_queues(&c.account, &s.ws, &query, req.page)
        .await
        .at(&c.path)?;
    let scopes: Vec<StatsScope> = page
        .items
        .iter()
        .map(|(_, queue)| StatsScope::Queue(queue.sid.clone()))
        .collect();
    let realtime = s.realtimes(&scopes, q.task_channel.as_deref()).await?;
    let cumulative = s.cumulatives(&scopes, &q.options()).await?;
    let items = page
        .items
        .iter()
        .zip(realtime.iter().zip(&cumulative))
        .map(|((seq, queue), (rt, cum))| {
            let both = Both {
                realtime: QueueRealTime::new(rt),
                cumulative: QueueCumulative::new(cum),
            };
            let item = Stats {
                url: None,
                ..queue_stats(&s, &queue.sid, "", both)
            };
            (*seq, item)
        })
        .collect();
    let page = switchyard_engine::Page {
        items,
        next: page.next,
        previous: page.previous,
    };
    let url = st.ctx(&c.account).ws(&s.ws, "/TaskQueues/Statistics");
    Ok(ok(req.respond(&url, "task_queues_statistics", page, |v| v)))
}

/// The bulk endpoint's limits on `QueueSids`.
const BULK_QUEUES: std::ops::RangeInclusive<usize> = 1..=50;

/// The body of `POST /TaskQueues/RealTimeStatistics`.
#[derive(Debug, Serialize)]
struct BulkRealTime {
    task_queue_data: Vec<BulkQueueRealTime>,
    task_queue_response_count: usize,
}

/// `QueueSids` of a form body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct BulkForm {
    #[serde(deserialize_with = "field::list")]
    queue_sids: Vec<String>,
}

/// `QueueSids` of a JSON body (`queueSids` also accepted).
#[derive(Debug, Deserialize)]
struct BulkJson {
    #[serde(rename = "QueueSids", alias = "queueSids")]
    queue_sids: Vec<String>,
}

/// `POST /TaskQueues/RealTimeStatistics`: real-time statistics of 1 to 50 queues, from a JSON
/// body `{"QueueSids": [...]}` or a form.
pub(crate) async fn queues_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let sids = bulk_queue_sids(&headers, &body)?;
    // Queues not in the workspace get zeroed statistics rather than failing the request.
    let mut known = std::collections::HashSet::new();
    for sid in &sids {
        if st.engine.task_queue(&c.account, &s.ws, sid).await.is_ok() {
            known.insert(sid.clone());
        }
    }
    let scopes: Vec<StatsScope> = sids
        .iter()
        .filter(|s| known.contains(*s))
        .map(|s| StatsScope::Queue(s.clone()))
        .collect();
    let realtime = s.realtimes(&scopes, None).await?;
    let mut found = realtime.iter();
    let data: Vec<BulkQueueRealTime> = sids
        .iter()
        .map(|sid| {
            let stats = known.contains(sid).then(|| found.next()).flatten();
            BulkQueueRealTime::new(sid, stats)
        })
        .collect();
    respond(s.stats(
        "/TaskQueues/RealTimeStatistics",
        BulkRealTime {
            task_queue_response_count: data.len(),
            task_queue_data: data,
        },
    ))
}

fn bulk_queue_sids(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<TaskQueueSid>> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let raw = if is_json {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::Invalid(format!("The body is not valid JSON: {e}")))?;
        if v.get("QueueSids").or_else(|| v.get("queueSids")).is_none() {
            return Err(ApiError::Invalid("QueueSids is required".into()));
        }
        serde_json::from_value::<BulkJson>(v)
            .map_err(|_| ApiError::Invalid("QueueSids must be a list of TaskQueue SIDs".into()))?
            .queue_sids
    } else {
        form::parse::<BulkForm>(body)?.queue_sids
    };
    if !BULK_QUEUES.contains(&raw.len()) {
        return Err(ApiError::Invalid(format!(
            "QueueSids must name between 1 and 50 TaskQueues, got {}",
            raw.len()
        )));
    }
    raw.iter()
        .map(|s| {
            s.parse::<TaskQueueSid>()
                .map_err(|_| ApiError::Invalid(format!("QueueSids: '{s}' is not a TaskQueue SID")))
        })
        .collect()
}

// Workers.

pub(crate) async fn workers(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<CumulativeForm>,
    Query(w): Query<WorkerSelectionForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let scope = || {
        StatsScope::Workers(WorkerSelection {
            task_queue_sid: w.task_queue_sid.clone(),
            task_queue_name: w.task_queue_name.clone(),
            friendly_name: w.friendly_name.clone(),
        })
    };
    let realtime = s.realtime(scope(), q.task_channel.as_deref()).await?;
    let cumulative = s.cumulative(scope(), &q.options()).await?;
    respond(s.stats(
        "/Workers/Statistics",
        Both {
            realtime: WorkersRealTime::new(&realtime),
            cumulative: WorkersCumulative::new(&cumulative),
        },
    ))
}

pub(crate) async fn workers_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<RealTimeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let scope = StatsScope::Workers(WorkerSelection::default());
    let realtime = s.realtime(scope, q.task_channel.as_deref()).await?;
    respond(s.stats(
        "/Workers/RealTimeStatistics",
        WorkersRealTime::new(&realtime),
    ))
}

pub(crate) async fn workers_cumulative(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let scope = StatsScope::Workers(WorkerSelection::default());
    let cumulative = s.cumulative(scope, &q.options()).await?;
    respond(s.stats(
        "/Workers/CumulativeStatistics",
        WorkersCumulative::new(&cumulative),
    ))
}

/// `/Workers/{WK}/Statistics`: the worker's cumulative statistics only.
pub(crate) async fn worker(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, worker)): Path<(String, String)>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let worker: WorkerSid = path_sid(&c.path, &worker)?;
    let cumulative = s
        .cumulative(StatsScope::Worker(worker.clone()), &q.options())
        .await?;
    let body = CumulativeOnly {
        cumulative: WorkersCumulative::new(&cumulative),
    };
    respond(Stats {
        worker_sid: Some(worker.to_string()),
        ..s.stats(&format!("/Workers/{worker}/Statistics"), body)
    })
}

// One workflow.

/// The workflow's statistics resource `rest` (`/Statistics`, ...).
fn workflow_stats<B>(s: &Scope<'_>, workflow: &WorkflowSid, rest: &str, body: B) -> Stats<B> {
    Stats {
        workflow_sid: Some(workflow.to_string()),
        ..s.stats(&format!("/Workflows/{workflow}{rest}"), body)
    }
}

pub(crate) async fn workflow(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, workflow)): Path<(String, String)>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let workflow: WorkflowSid = path_sid(&c.path, &workflow)?;
    let scope = || StatsScope::Workflow(workflow.clone());
    let realtime = s.realtime(scope(), q.task_channel.as_deref()).await?;
    let cumulative = s.cumulative(scope(), &q.options()).await?;
    let both = Both {
        realtime: WorkflowRealTime::new(&realtime),
        cumulative: WorkflowCumulative::new(&cumulative),
    };
    respond(workflow_stats(&s, &workflow, "/Statistics", both))
}

pub(crate) async fn workflow_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, workflow)): Path<(String, String)>,
    Query(q): Query<RealTimeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let workflow: WorkflowSid = path_sid(&c.path, &workflow)?;
    let realtime = s
        .realtime(
            StatsScope::Workflow(workflow.clone()),
            q.task_channel.as_deref(),
        )
        .await?;
    let body = WorkflowRealTime::new(&realtime);
    respond(workflow_stats(&s, &workflow, "/RealTimeStatistics", body))
}

pub(crate) async fn workflow_cumulative(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, workflow)): Path<(String, String)>,
    Query(q): Query<CumulativeForm>,
) -> ApiResult<Response> {
    let s = Scope::new(&st, &c, &ws)?;
    let workflow: WorkflowSid = path_sid(&c.path, &workflow)?;
    let cumulative = s
        .cumulative(StatsScope::Workflow(workflow.clone()), &q.options())
        .await?;
    let body = WorkflowCumulative::new(&cumulative);
    respond(workflow_stats(&s, &workflow, "/CumulativeStatistics", body))
}
