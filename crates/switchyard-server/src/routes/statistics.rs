//! Statistics of the workspace, its queues, workers and workflows. Each endpoint shows the
//! fields Twilio's description gives it, computed by the engine's two kinds of statistics.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};
use switchyard_core::sid::{TaskQueueSid, WorkerSid, WorkflowSid, WorkspaceSid};
use switchyard_engine::{
    CumulativeOptions, CumulativeStatistics, DurationStats, RealTimeStatistics, StatsScope,
    StatsWindow, TaskQueueQuery, WorkerSelection,
};

use super::{ok, path_sid};
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::paging::ListRequest;
use crate::params::{Params, Query};
use crate::resource::date;
use crate::{AppState, Caller};

const REALTIME_WORKSPACE: &[&str] = &[
    "activity_statistics",
    "longest_task_waiting_age",
    "longest_task_waiting_sid",
    "tasks_by_priority",
    "tasks_by_status",
    "total_tasks",
    "total_workers",
];
const REALTIME_QUEUE: &[&str] = &[
    "activity_statistics",
    "longest_task_waiting_age",
    "longest_task_waiting_sid",
    "longest_relative_task_age_in_queue",
    "longest_relative_task_sid_in_queue",
    "tasks_by_priority",
    "tasks_by_status",
    "total_available_workers",
    "total_eligible_workers",
    "total_tasks",
];
const REALTIME_QUEUE_BULK: &[&str] = &[
    "activity_statistics",
    "longest_task_waiting_age",
    "longest_task_waiting_sid",
    "tasks_by_priority",
    "tasks_by_status",
    "total_available_workers",
    "total_eligible_workers",
    "total_tasks",
];
const REALTIME_WORKERS: &[&str] = &["activity_statistics", "total_workers"];
const REALTIME_WORKFLOW: &[&str] = &[
    "longest_task_waiting_age",
    "longest_task_waiting_sid",
    "tasks_by_priority",
    "tasks_by_status",
    "total_tasks",
];

const RESERVATIONS: &[&str] = &[
    "reservations_created",
    "reservations_accepted",
    "reservations_rejected",
    "reservations_timed_out",
    "reservations_canceled",
    "reservations_rescinded",
];
const CUMULATIVE_WORKSPACE: &[&str] = &[
    "avg_task_acceptance_time",
    "split_by_wait_time",
    "wait_duration_until_accepted",
    "wait_duration_until_canceled",
    "tasks_canceled",
    "tasks_completed",
    "tasks_created",
    "tasks_deleted",
    "tasks_moved",
    "tasks_timed_out_in_workflow",
];
const CUMULATIVE_QUEUE: &[&str] = &[
    "avg_task_acceptance_time",
    "split_by_wait_time",
    "wait_duration_until_accepted",
    "wait_duration_until_canceled",
    "wait_duration_in_queue_until_accepted",
    "tasks_canceled",
    "tasks_completed",
    "tasks_deleted",
    "tasks_entered",
    "tasks_moved",
];
const CUMULATIVE_WORKFLOW: &[&str] = &[
    "avg_task_acceptance_time",
    "split_by_wait_time",
    "wait_duration_until_accepted",
    "wait_duration_until_canceled",
    "tasks_canceled",
    "tasks_completed",
    "tasks_entered",
    "tasks_deleted",
    "tasks_moved",
    "tasks_timed_out_in_workflow",
];
const CUMULATIVE_WORKERS: &[&str] = &["activity_durations"];

/// The bulk endpoint's limits on `QueueSids`.
const BULK_QUEUES: std::ops::RangeInclusive<usize> = 1..=50;

fn durations(d: &DurationStats) -> Value {
    json!({"avg": d.avg, "min": d.min, "max": d.max, "total": d.total})
}

/// The real-time fields named in `fields`.
fn realtime(r: &RealTimeStatistics, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for &f in fields {
        let v = match f {
            "activity_statistics" => Value::Array(
                r.activity_statistics
                    .iter()
                    .map(|a| json!({"sid": a.sid.as_str(), "friendly_name": a.friendly_name, "workers": a.workers}))
                    .collect(),
            ),
            "longest_task_waiting_age" => json!(r.longest_task_waiting.as_ref().map_or(0, |l| l.1)),
            "longest_task_waiting_sid" => {
                json!(r.longest_task_waiting.as_ref().map(|l| l.0.as_str()))
            }
            "longest_relative_task_age_in_queue" => {
                json!(r.longest_relative_task_in_queue.as_ref().map_or(0, |l| l.1))
            }
            "longest_relative_task_sid_in_queue" => {
                json!(r.longest_relative_task_in_queue.as_ref().map(|l| l.0.as_str()))
            }
            "tasks_by_priority" => Value::Object(
                r.tasks_by_priority
                    .iter()
                    .map(|(p, n)| (p.to_string(), json!(n)))
                    .collect(),
            ),
            "tasks_by_status" => json!(r.tasks_by_status),
            "total_tasks" => json!(r.total_tasks),
            "total_workers" | "total_eligible_workers" => json!(r.total_workers),
            "total_available_workers" => json!(r.total_available_workers),
            _ => continue,
        };
        out.insert(f.to_owned(), v);
    }
    out
}

/// `start_time`, `end_time`, the reservation counters and the fields named in `fields`.
fn cumulative(c: &CumulativeStatistics, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("start_time".into(), json!(date(c.start_time)));
    out.insert("end_time".into(), json!(date(c.end_time)));
    for &f in RESERVATIONS.iter().chain(fields) {
        let v = match f {
            "reservations_created" => json!(c.reservations_created),
            "reservations_accepted" => json!(c.reservations_accepted),
            "reservations_rejected" => json!(c.reservations_rejected),
            "reservations_timed_out" => json!(c.reservations_timed_out),
            "reservations_canceled" => json!(c.reservations_canceled),
            "reservations_rescinded" => json!(c.reservations_rescinded),
            "avg_task_acceptance_time" => json!(c.avg_task_acceptance_time),
            "tasks_created" => json!(c.tasks_created),
            "tasks_entered" => json!(c.tasks_entered),
            "tasks_canceled" => json!(c.tasks_canceled),
            "tasks_completed" => json!(c.tasks_completed),
            "tasks_deleted" => json!(c.tasks_deleted),
            "tasks_moved" => json!(c.tasks_moved),
            "tasks_timed_out_in_workflow" => json!(c.tasks_timed_out_in_workflow),
            "wait_duration_until_accepted" => durations(&c.wait_duration_until_accepted),
            "wait_duration_until_canceled" => durations(&c.wait_duration_until_canceled),
            "wait_duration_in_queue_until_accepted" => {
                durations(&c.wait_duration_in_queue_until_accepted)
            }
            "split_by_wait_time" if c.split_by_wait_time.is_empty() => Value::Null,
            "split_by_wait_time" => Value::Object(
                c.split_by_wait_time
                    .iter()
                    .map(|(t, s)| {
                        let side = |s: &switchyard_engine::SplitCounts| {
                            json!({"tasks_canceled": s.tasks_canceled, "reservations_accepted": s.reservations_accepted})
                        };
                        (t.to_string(), json!({"below": side(&s.below), "above": side(&s.above)}))
                    })
                    .collect(),
            ),
            "activity_durations" => Value::Array(
                c.activity_durations
                    .iter()
                    .map(|a| {
                        let d = &a.durations;
                        json!({"sid": a.sid.as_str(), "friendly_name": a.friendly_name,
                            "avg": d.avg, "min": d.min, "max": d.max, "total": d.total})
                    })
                    .collect(),
            ),
            _ => continue,
        };
        out.insert(f.to_owned(), v);
    }
    out
}

fn options(q: &Params) -> ApiResult<CumulativeOptions> {
    let split_by_wait_time = match q.str("SplitByWaitTime") {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|t| {
                t.trim().parse::<i64>().map_err(|_| {
                    ApiError::Invalid(format!(
                        "SplitByWaitTime must be a comma-separated list of seconds, got '{list}'"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(CumulativeOptions {
        window: StatsWindow {
            minutes: q.int("Minutes")?,
            start: q.date("StartDate")?,
            end: q.date("EndDate")?,
        },
        task_channel: q.string("TaskChannel"),
        split_by_wait_time,
    })
}

/// The body every statistics resource starts with.
fn head(st: &AppState, c: &Caller, ws: &WorkspaceSid, rest: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("account_sid".into(), json!(c.account.as_str()));
    out.insert("workspace_sid".into(), json!(ws.as_str()));
    out.insert("url".into(), json!(st.ctx(&c.account).ws(ws, rest)));
    out
}

/// Which of a scope's statistics a path asks for: `.../Statistics` (both, nested as
/// `realtime` and `cumulative`), `.../RealTimeStatistics` or `.../CumulativeStatistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Both,
    RealTime,
    Cumulative,
}

impl Kind {
    fn of(path: &str) -> Kind {
        if path.ends_with("/RealTimeStatistics") {
            Kind::RealTime
        } else if path.ends_with("/CumulativeStatistics") {
            Kind::Cumulative
        } else {
            Kind::Both
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Kind::Both => "/Statistics",
            Kind::RealTime => "/RealTimeStatistics",
            Kind::Cumulative => "/CumulativeStatistics",
        }
    }
}

/// One statistics resource: what it counts, where it lives, and the fields it shows.
struct Target {
    scope: StatsScope,
    /// The path below the workspace, without the statistics suffix.
    path: String,
    /// The SID field naming the resource (`task_queue_sid`, ...), if any.
    sid_field: Option<(&'static str, String)>,
    realtime: &'static [&'static str],
    cumulative: &'static [&'static str],
}

/// Answers the statistics of `target` the request's path asks for.
async fn render(
    st: &AppState,
    c: &Caller,
    ws: &WorkspaceSid,
    target: Target,
    q: &Params,
) -> ApiResult<Response> {
    let kind = Kind::of(&c.path);
    let mut body = head(st, c, ws, &format!("{}{}", target.path, kind.suffix()));
    if let Some((field, sid)) = &target.sid_field {
        body.insert((*field).to_owned(), json!(sid));
    }
    let scopes = [target.scope];
    if kind != Kind::Cumulative && !target.realtime.is_empty() {
        let rt = st
            .engine
            .realtime_statistics(&c.account, ws, &scopes, q.str("TaskChannel"))
            .await
            .at(&c.path)?;
        let rt = realtime(&rt[0], target.realtime);
        match kind {
            Kind::Both => {
                body.insert("realtime".into(), Value::Object(rt));
            }
            _ => body.extend(rt),
        }
    }
    if kind != Kind::RealTime {
        let cum = st
            .engine
            .cumulative_statistics(&c.account, ws, &scopes, &options(q)?)
            .await
            .at(&c.path)?;
        let cum = cumulative(&cum[0], target.cumulative);
        match kind {
            Kind::Both => {
                body.insert("cumulative".into(), Value::Object(cum));
            }
            _ => body.extend(cum),
        }
    }
    Ok(ok(Value::Object(body)))
}

/// `/Statistics`, `/RealTimeStatistics`, `/CumulativeStatistics` of the workspace.
pub(crate) async fn workspace(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let target = Target {
        scope: StatsScope::Workspace,
        path: String::new(),
        sid_field: None,
        realtime: REALTIME_WORKSPACE,
        cumulative: CUMULATIVE_WORKSPACE,
    };
    render(&st, &c, &ws, target, &q).await
}

/// The three statistics resources of one queue.
pub(crate) async fn queue(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, queue)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    let (ws, queue): (WorkspaceSid, TaskQueueSid) =
        (path_sid(&c.path, &ws)?, path_sid(&c.path, &queue)?);
    let target = Target {
        path: format!("/TaskQueues/{queue}"),
        sid_field: Some(("task_queue_sid", queue.to_string())),
        scope: StatsScope::Queue(queue),
        realtime: REALTIME_QUEUE,
        cumulative: CUMULATIVE_QUEUE,
    };
    render(&st, &c, &ws, target, &q).await
}

/// `GET /TaskQueues/Statistics`: a page of queues, each with both kinds of statistics.
pub(crate) async fn queues(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let req = ListRequest::from_query(&q)?;
    let opts = options(&q)?;
    let mut query = TaskQueueQuery::default();
    query.filter.friendly_name = q.string("FriendlyName");
    let page = st
        .engine
        .list_task_queues(&c.account, &ws, &query, req.page)
        .await
        .at(&c.path)?;
    let scopes: Vec<StatsScope> = page
        .items
        .iter()
        .map(|(_, queue)| StatsScope::Queue(queue.sid.clone()))
        .collect();
    let rt = st
        .engine
        .realtime_statistics(&c.account, &ws, &scopes, opts.task_channel.as_deref())
        .await
        .at(&c.path)?;
    let cum = st
        .engine
        .cumulative_statistics(&c.account, &ws, &scopes, &opts)
        .await
        .at(&c.path)?;
    let items: Vec<(i64, Value)> = page
        .items
        .iter()
        .zip(rt.iter().zip(&cum))
        .map(|((seq, queue), (rt, cum))| {
            let body = json!({
                "account_sid": c.account.as_str(),
                "workspace_sid": ws.as_str(),
                "task_queue_sid": queue.sid.as_str(),
                "realtime": realtime(rt, REALTIME_QUEUE),
                "cumulative": cumulative(cum, CUMULATIVE_QUEUE),
            });
            (*seq, body)
        })
        .collect();
    let page = switchyard_engine::Page {
        items,
        next: page.next,
        previous: page.previous,
    };
    let url = st.ctx(&c.account).ws(&ws, "/TaskQueues/Statistics");
    Ok(ok(req.respond(&url, "task_queues_statistics", page, |v| v)))
}

/// `POST /TaskQueues/RealTimeStatistics`: real-time statistics of 1 to 50 queues, from a JSON
/// body `{"QueueSids": [...]}` (`queueSids` also accepted).
pub(crate) async fn queues_realtime(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let sids = bulk_queue_sids(&headers, &body)?;
    // Queues not in the workspace get zeroed statistics rather than failing the request.
    let known: std::collections::HashSet<TaskQueueSid> = {
        let mut known = std::collections::HashSet::new();
        for sid in &sids {
            if st.engine.task_queue(&c.account, &ws, sid).await.is_ok() {
                known.insert(sid.clone());
            }
        }
        known
    };
    let scopes: Vec<StatsScope> = sids
        .iter()
        .filter(|s| known.contains(*s))
        .map(|s| StatsScope::Queue(s.clone()))
        .collect();
    let rt = st
        .engine
        .realtime_statistics(&c.account, &ws, &scopes, None)
        .await
        .at(&c.path)?;
    let mut found = rt.iter();
    let data: Vec<Value> = sids
        .iter()
        .map(|sid| {
            let mut item = Map::new();
            item.insert("task_queue_sid".into(), json!(sid.as_str()));
            let stats = if known.contains(sid) {
                found.next().map(|r| realtime(r, REALTIME_QUEUE_BULK))
            } else {
                None
            };
            item.extend(stats.unwrap_or_else(zeroed_realtime));
            Value::Object(item)
        })
        .collect();
    let mut out = head(&st, &c, &ws, "/TaskQueues/RealTimeStatistics");
    out.insert("task_queue_response_count".into(), json!(data.len()));
    out.insert("task_queue_data".into(), Value::Array(data));
    Ok(ok(Value::Object(out)))
}

fn zeroed_realtime() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("activity_statistics".into(), json!([]));
    m.insert("longest_task_waiting_age".into(), json!(0));
    m.insert("longest_task_waiting_sid".into(), Value::Null);
    m.insert("tasks_by_priority".into(), json!({}));
    m.insert(
        "tasks_by_status".into(),
        json!({"pending": 0, "reserved": 0, "assigned": 0, "wrapping": 0}),
    );
    m.insert("total_available_workers".into(), json!(0));
    m.insert("total_eligible_workers".into(), json!(0));
    m.insert("total_tasks".into(), json!(0));
    m
}

fn bulk_queue_sids(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<TaskQueueSid>> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let raw: Vec<String> = if is_json {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::Invalid(format!("The body is not valid JSON: {e}")))?;
        match v.get("QueueSids").or_else(|| v.get("queueSids")) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::Invalid("QueueSids must be a list of TaskQueue SIDs".into())
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ApiError::Invalid("QueueSids is required".into())),
        }
    } else {
        Params::parse(body)?.list("QueueSids")
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

fn worker_selection(q: &Params) -> WorkerSelection {
    WorkerSelection {
        task_queue_sid: q.string("TaskQueueSid"),
        task_queue_name: q.string("TaskQueueName"),
        friendly_name: q.string("FriendlyName"),
    }
}

/// `/Workers/Statistics` (narrowed by `TaskQueueSid`, `TaskQueueName`, `FriendlyName`),
/// `/Workers/RealTimeStatistics` and `/Workers/CumulativeStatistics`.
pub(crate) async fn workers(
    State(st): State<AppState>,
    c: Caller,
    Path(ws): Path<String>,
    Query(q): Query,
) -> ApiResult<Response> {
    let ws = path_sid(&c.path, &ws)?;
    let selection = match Kind::of(&c.path) {
        Kind::Both => worker_selection(&q),
        _ => WorkerSelection::default(),
    };
    let target = Target {
        scope: StatsScope::Workers(selection),
        path: "/Workers".to_owned(),
        sid_field: None,
        realtime: REALTIME_WORKERS,
        cumulative: CUMULATIVE_WORKERS,
    };
    render(&st, &c, &ws, target, &q).await
}

/// `/Workers/{WK}/Statistics`: the worker's cumulative statistics only.
pub(crate) async fn worker(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, worker)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    let (ws, worker): (WorkspaceSid, WorkerSid) =
        (path_sid(&c.path, &ws)?, path_sid(&c.path, &worker)?);
    let target = Target {
        path: format!("/Workers/{worker}"),
        sid_field: Some(("worker_sid", worker.to_string())),
        scope: StatsScope::Worker(worker),
        realtime: &[],
        cumulative: CUMULATIVE_WORKERS,
    };
    render(&st, &c, &ws, target, &q).await
}

/// The three statistics resources of one workflow.
pub(crate) async fn workflow(
    State(st): State<AppState>,
    c: Caller,
    Path((ws, workflow)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Response> {
    let (ws, workflow): (WorkspaceSid, WorkflowSid) =
        (path_sid(&c.path, &ws)?, path_sid(&c.path, &workflow)?);
    let target = Target {
        path: format!("/Workflows/{workflow}"),
        sid_field: Some(("workflow_sid", workflow.to_string())),
        scope: StatsScope::Workflow(workflow),
        realtime: REALTIME_WORKFLOW,
        cumulative: CUMULATIVE_WORKFLOW,
    };
    render(&st, &c, &ws, target, &q).await
}
