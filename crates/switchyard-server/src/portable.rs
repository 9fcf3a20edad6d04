//! A workspace's configuration as one JSON document, to export, keep in a repository, import
//! (`POST /_switchyard/Import`) or seed at start-up (`serve --seed FILE`): the workspace's
//! settings, activities, task channels, queues, workflows (queues referred to by name) and
//! workers with their channel capacities. No SIDs: an import creates new ones.
//!
//! An import creates the whole workspace or nothing: a document that fails half-way has the
//! workspace it began deleted before the error is answered, naming the bad field's path.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_core::model::{QueueOrder, Workspace};
use switchyard_core::sid::{AccountSid, ActivitySid, TaskQueueSid, WorkspaceSid};
use switchyard_engine::{
    ActivityFilter, CreateActivity, CreateTaskChannel, CreateTaskQueue, CreateWorker,
    CreateWorkflow, CreateWorkspace, Engine, Error as EngineError, Page, PageRequest,
    TaskQueueQuery, UpdateTaskChannel, UpdateWorkerChannel, UpdateWorkspace, WorkerQuery,
    WorkflowFilter,
};

use crate::error::{ApiError, ApiResult};

/// The document's `format`: what an importer checks before anything else.
pub const FORMAT: &str = "switchyard.workspace.v1";

/// A workspace's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceDoc {
    /// Always [`FORMAT`].
    pub format: String,
    /// The workspace's name; a seed skips a workspace whose name the account already has.
    pub friendly_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_filter: Option<String>,
    #[serde(default)]
    pub multi_task_enabled: bool,
    /// `FIFO` or `LIFO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prioritize_queue_order: Option<String>,
    /// The name of the activity new workers start in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_activity: Option<String>,
    /// The name of the activity a worker goes to when a reservation times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_activity: Option<String>,
    #[serde(default)]
    pub activities: Vec<ActivityDoc>,
    #[serde(default)]
    pub task_channels: Vec<TaskChannelDoc>,
    #[serde(default)]
    pub task_queues: Vec<TaskQueueDoc>,
    #[serde(default)]
    pub workflows: Vec<WorkflowDoc>,
    #[serde(default)]
    pub workers: Vec<WorkerDoc>,
}

/// An activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDoc {
    pub friendly_name: String,
    #[serde(default)]
    pub available: bool,
}

/// A task channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskChannelDoc {
    pub unique_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub channel_optimized_routing: bool,
}

/// A task queue; activities by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQueueDoc {
    pub friendly_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_workers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reserved_workers: Option<i64>,
    /// `FIFO` or `LIFO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_activity: Option<String>,
}

/// A workflow; its configuration names queues by `friendly_name` where TaskRouter has SIDs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDoc {
    pub friendly_name: String,
    pub configuration: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_assignment_callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_reservation_timeout: Option<i64>,
}

/// A worker; its activity by name, its channels by unique name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerDoc {
    pub friendly_name: String,
    #[serde(default = "empty_object")]
    pub attributes: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(default)]
    pub channels: Vec<WorkerChannelDoc>,
}

/// A worker's capacity on one task channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerChannelDoc {
    pub task_channel: String,
    pub capacity: i64,
    #[serde(default = "yes")]
    pub available: bool,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn yes() -> bool {
    true
}

/// Reads a document, naming the path of the first bad field.
pub fn parse(bytes: &[u8]) -> ApiResult<WorkspaceDoc> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let doc: WorkspaceDoc = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::Invalid(format!("The document is not valid: {inner}"))
        } else {
            ApiError::Invalid(format!("{path}: {inner}"))
        }
    })?;
    if doc.format != FORMAT {
        return Err(ApiError::Invalid(format!(
            "format: must be \"{FORMAT}\", got \"{}\"",
            doc.format
        )));
    }
    Ok(doc)
}

/// Every row of a list, page after page.
async fn all<T, F, Fut>(mut page: F) -> Result<Vec<T>, EngineError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, EngineError>>,
{
    let mut rows = Vec::new();
    let mut request = PageRequest {
        size: 1000,
        ..PageRequest::default()
    };
    loop {
        let p = page(request).await?;
        rows.extend(p.items.into_iter().map(|(_, t)| t));
        match p.next {
            Some(next) => request.cursor = next,
            None => return Ok(rows),
        }
    }
}

/// The workspace's configuration as a document.
pub async fn export(
    engine: &Engine,
    account: &AccountSid,
    ws: &WorkspaceSid,
) -> Result<WorkspaceDoc, EngineError> {
    let w = engine.workspace(account, ws).await?;
    let (no_activity_filter, all_queues) = (ActivityFilter::default(), TaskQueueQuery::default());
    let (all_workflows, all_workers) = (WorkflowFilter::default(), WorkerQuery::default());
    let activities = all(|p| engine.list_activities(account, ws, &no_activity_filter, p)).await?;
    let channels = all(|p| engine.list_task_channels(account, ws, p)).await?;
    let queues = all(|p| engine.list_task_queues(account, ws, &all_queues, p)).await?;
    let workflows = all(|p| engine.list_workflows(account, ws, &all_workflows, p)).await?;
    let workers = all(|p| engine.list_workers(account, ws, &all_workers, p)).await?;
    let queue_names: Vec<(String, String)> = (queues.iter())
        .map(|q| (q.sid.to_string(), q.friendly_name.clone()))
        .collect();
    let mut worker_docs = Vec::with_capacity(workers.len());
    for wk in workers {
        let channels = all(|p| engine.list_worker_channels(account, ws, &wk.sid, p)).await?;
        worker_docs.push(WorkerDoc {
            friendly_name: wk.friendly_name,
            attributes: serde_json::from_str(&wk.attributes).unwrap_or_else(|_| empty_object()),
            activity: Some(wk.activity_name),
            channels: (channels.into_iter())
                .map(|c| WorkerChannelDoc {
                    task_channel: c.task_channel_unique_name,
                    capacity: c.configured_capacity,
                    available: c.available,
                })
                .collect(),
        });
    }
    Ok(WorkspaceDoc {
        format: FORMAT.to_owned(),
        friendly_name: w.friendly_name,
        event_callback_url: w.event_callback_url,
        events_filter: w.events_filter,
        multi_task_enabled: w.multi_task_enabled,
        prioritize_queue_order: Some(w.prioritize_queue_order.as_str().to_owned()),
        default_activity: Some(w.default_activity_name),
        timeout_activity: Some(w.timeout_activity_name),
        activities: (activities.into_iter())
            .map(|a| ActivityDoc {
                friendly_name: a.friendly_name,
                available: a.available,
            })
            .collect(),
        task_channels: (channels.into_iter())
            .map(|c| TaskChannelDoc {
                unique_name: c.unique_name,
                friendly_name: Some(c.friendly_name),
                channel_optimized_routing: c.channel_optimized_routing,
            })
            .collect(),
        task_queues: (queues.into_iter())
            .map(|q| TaskQueueDoc {
                friendly_name: q.friendly_name,
                target_workers: Some(q.target_workers),
                max_reserved_workers: Some(q.max_reserved_workers),
                task_order: Some(q.task_order.as_str().to_owned()),
                reservation_activity: q.reservation_activity.map(|a| a.1),
                assignment_activity: q.assignment_activity.map(|a| a.1),
            })
            .collect(),
        workflows: (workflows.into_iter())
            .map(|wf| {
                let mut configuration: Value =
                    serde_json::from_str(&wf.configuration).unwrap_or(Value::Null);
                for_each_queue_ref(&mut configuration, |_, queue| {
                    if let Some((_, name)) = queue_names.iter().find(|(sid, _)| sid == queue) {
                        *queue = name.clone();
                    }
                    Ok(())
                })
                .expect("renaming never fails");
                WorkflowDoc {
                    friendly_name: wf.friendly_name,
                    configuration,
                    assignment_callback_url: wf.assignment_callback_url,
                    fallback_assignment_callback_url: wf.fallback_assignment_callback_url,
                    task_reservation_timeout: Some(wf.task_reservation_timeout),
                }
            })
            .collect(),
        workers: worker_docs,
    })
}

/// Calls `f` on every `queue` of a workflow configuration (each filter's targets and the
/// default filter), with the reference's path inside the configuration.
fn for_each_queue_ref(
    configuration: &mut Value,
    mut f: impl FnMut(String, &mut String) -> ApiResult<()>,
) -> ApiResult<()> {
    let Some(routing) = configuration.get_mut("task_routing") else {
        return Ok(());
    };
    if let Some(filters) = routing.get_mut("filters").and_then(Value::as_array_mut) {
        for (i, filter) in filters.iter_mut().enumerate() {
            let targets = filter.get_mut("targets").and_then(Value::as_array_mut);
            for (j, target) in targets.into_iter().flatten().enumerate() {
                if let Some(Value::String(queue)) = target.get_mut("queue") {
                    f(
                        format!("task_routing.filters[{i}].targets[{j}].queue"),
                        queue,
                    )?;
                }
            }
        }
    }
    if let Some(Value::String(queue)) = routing
        .get_mut("default_filter")
        .and_then(|d| d.get_mut("queue"))
    {
        f("task_routing.default_filter.queue".to_owned(), queue)?;
    }
    Ok(())
}

/// An engine error about the document's field at `path`.
fn at(path: &str) -> impl Fn(EngineError) -> ApiError + '_ {
    move |e| match e {
        EngineError::InvalidField { field, problem } => {
            ApiError::Invalid(format!("{path}.{field}: {problem}"))
        }
        EngineError::MissingField { field } => {
            ApiError::Invalid(format!("{path}.{field}: is required"))
        }
        EngineError::Invalid(m) | EngineError::Gone(m) | EngineError::ConcurrentChange(m) => {
            ApiError::Invalid(format!("{path}: {m}"))
        }
        other => ApiError::engine("/_switchyard/Import", other),
    }
}

fn order(path: &str, value: Option<&str>) -> ApiResult<Option<QueueOrder>> {
    value
        .map(|v| {
            v.parse::<QueueOrder>().map_err(|()| {
                ApiError::Invalid(format!("{path}: must be FIFO or LIFO, got \"{v}\""))
            })
        })
        .transpose()
}

/// Creates a workspace of `account` from the document, with new SIDs; on any error the
/// workspace begun is deleted again.
pub async fn import(
    engine: &Engine,
    account: &AccountSid,
    doc: &WorkspaceDoc,
) -> ApiResult<Workspace> {
    // The event callback URL comes last: an import that fails half-way must not have told
    // anyone of the workspace it then deletes.
    let create = CreateWorkspace {
        friendly_name: doc.friendly_name.clone(),
        event_callback_url: None,
        events_filter: doc.events_filter.clone(),
        multi_task_enabled: Some(doc.multi_task_enabled),
        template: None,
        prioritize_queue_order: order(
            "prioritize_queue_order",
            doc.prioritize_queue_order.as_deref(),
        )?,
    };
    let w = engine
        .create_workspace(account, create)
        .await
        .map_err(at("$"))?;
    let filled = async {
        fill(engine, account, &w.sid, doc).await?;
        if doc.event_callback_url.is_some() {
            let update = UpdateWorkspace {
                event_callback_url: doc.event_callback_url.clone(),
                ..UpdateWorkspace::default()
            };
            (engine.update_workspace(account, &w.sid, update))
                .await
                .map_err(at("event_callback_url"))?;
        }
        Ok::<(), ApiError>(())
    };
    match filled.await {
        Ok(()) => engine.workspace(account, &w.sid).await.map_err(at("$")),
        Err(e) => {
            if let Err(undo) = engine.delete_workspace(account, &w.sid).await {
                tracing::error!(workspace = %w.sid, error = %undo, "deleting a half-imported workspace failed");
            }
            Err(e)
        }
    }
}

async fn fill(
    engine: &Engine,
    account: &AccountSid,
    ws: &WorkspaceSid,
    doc: &WorkspaceDoc,
) -> ApiResult<()> {
    let no_activity_filter = ActivityFilter::default();
    // Activities: a new workspace has its defaults; those the document lists stay, the others
    // go once the workspace's default and timeout activities are the document's.
    let existing = all(|p| engine.list_activities(account, ws, &no_activity_filter, p))
        .await
        .map_err(at("activities"))?;
    let mut activities: Vec<(String, ActivitySid)> = Vec::new();
    for (i, a) in doc.activities.iter().enumerate() {
        let path = format!("activities[{i}]");
        match existing.iter().find(|e| e.friendly_name == a.friendly_name) {
            Some(e) if e.available != a.available => {
                return Err(ApiError::Invalid(format!(
                    "{path}.available: every new workspace has the activity {} with available {}",
                    e.friendly_name, e.available
                )))
            }
            Some(e) => activities.push((e.friendly_name.clone(), e.sid.clone())),
            None => {
                let create = CreateActivity {
                    friendly_name: a.friendly_name.clone(),
                    available: Some(a.available),
                };
                let created = engine
                    .create_activity(account, ws, create)
                    .await
                    .map_err(at(&path))?;
                activities.push((created.friendly_name, created.sid));
            }
        }
    }
    if doc.activities.is_empty() {
        activities = existing
            .iter()
            .map(|e| (e.friendly_name.clone(), e.sid.clone()))
            .collect();
    }
    let activity = |path: &str, name: &str| {
        (activities.iter())
            .find(|(n, _)| n == name)
            .map(|(_, sid)| sid.clone())
            .ok_or_else(|| ApiError::Invalid(format!("{path}: no activity is named \"{name}\"")))
    };
    let update = UpdateWorkspace {
        default_activity_sid: doc
            .default_activity
            .as_deref()
            .map(|n| activity("default_activity", n))
            .transpose()?,
        timeout_activity_sid: doc
            .timeout_activity
            .as_deref()
            .map(|n| activity("timeout_activity", n))
            .transpose()?,
        ..UpdateWorkspace::default()
    };
    engine
        .update_workspace(account, ws, update)
        .await
        .map_err(at("$"))?;
    for e in &existing {
        if !activities.iter().any(|(_, sid)| *sid == e.sid) {
            engine
                .delete_activity(account, ws, &e.sid)
                .await
                .map_err(at("activities"))?;
        }
    }

    // Task channels, the same way, by unique name.
    let existing = all(|p| engine.list_task_channels(account, ws, p))
        .await
        .map_err(at("task_channels"))?;
    for (i, c) in doc.task_channels.iter().enumerate() {
        let path = format!("task_channels[{i}]");
        match existing.iter().find(|e| e.unique_name == c.unique_name) {
            Some(e) => {
                let update = UpdateTaskChannel {
                    friendly_name: c.friendly_name.clone(),
                    channel_optimized_routing: Some(c.channel_optimized_routing),
                };
                engine
                    .update_task_channel(account, ws, e.sid.as_str(), update)
                    .await
                    .map_err(at(&path))?;
            }
            None => {
                let create = CreateTaskChannel {
                    friendly_name: c
                        .friendly_name
                        .clone()
                        .unwrap_or_else(|| c.unique_name.clone()),
                    unique_name: c.unique_name.clone(),
                    channel_optimized_routing: Some(c.channel_optimized_routing),
                };
                engine
                    .create_task_channel(account, ws, create)
                    .await
                    .map_err(at(&path))?;
            }
        }
    }
    if !doc.task_channels.is_empty() {
        for e in &existing {
            if !doc
                .task_channels
                .iter()
                .any(|c| c.unique_name == e.unique_name)
            {
                engine
                    .delete_task_channel(account, ws, e.sid.as_str())
                    .await
                    .map_err(at("task_channels"))?;
            }
        }
    }

    let mut queues: Vec<(String, TaskQueueSid)> = Vec::new();
    for (i, q) in doc.task_queues.iter().enumerate() {
        let path = format!("task_queues[{i}]");
        let named = |field: &str, name: &Option<String>| {
            name.as_deref()
                .map(|n| activity(&format!("{path}.{field}"), n))
                .transpose()
        };
        let create = CreateTaskQueue {
            friendly_name: q.friendly_name.clone(),
            target_workers: q.target_workers.clone(),
            max_reserved_workers: q.max_reserved_workers,
            task_order: order(&format!("{path}.task_order"), q.task_order.as_deref())?,
            reservation_activity_sid: named("reservation_activity", &q.reservation_activity)?,
            assignment_activity_sid: named("assignment_activity", &q.assignment_activity)?,
        };
        let created = engine
            .create_task_queue(account, ws, create)
            .await
            .map_err(at(&path))?;
        queues.push((created.friendly_name, created.sid));
    }

    for (i, wf) in doc.workflows.iter().enumerate() {
        let path = format!("workflows[{i}]");
        let mut configuration = wf.configuration.clone();
        for_each_queue_ref(&mut configuration, |at_path, queue| {
            // A SID stays a SID (a document written by hand may use one of the new queues').
            if queue.starts_with("WQ") && queues.iter().any(|(_, sid)| sid.as_str() == queue) {
                return Ok(());
            }
            match queues.iter().find(|(name, _)| name == queue) {
                Some((_, sid)) => {
                    *queue = sid.to_string();
                    Ok(())
                }
                None => Err(ApiError::Invalid(format!(
                    "{path}.configuration.{at_path}: no task queue is named \"{queue}\""
                ))),
            }
        })?;
        let create = CreateWorkflow {
            friendly_name: wf.friendly_name.clone(),
            configuration: configuration.to_string(),
            assignment_callback_url: wf.assignment_callback_url.clone(),
            fallback_assignment_callback_url: wf.fallback_assignment_callback_url.clone(),
            task_reservation_timeout: wf.task_reservation_timeout,
        };
        engine
            .create_workflow(account, ws, create)
            .await
            .map_err(at(&path))?;
    }

    for (i, wk) in doc.workers.iter().enumerate() {
        let path = format!("workers[{i}]");
        if !wk.attributes.is_object() {
            return Err(ApiError::Invalid(format!(
                "{path}.attributes: must be a JSON object"
            )));
        }
        let create = CreateWorker {
            friendly_name: wk.friendly_name.clone(),
            activity_sid: wk
                .activity
                .as_deref()
                .map(|n| activity(&format!("{path}.activity"), n))
                .transpose()?,
            attributes: Some(wk.attributes.to_string()),
        };
        let created = engine
            .create_worker(account, ws, create)
            .await
            .map_err(at(&path))?;
        let current = all(|p| engine.list_worker_channels(account, ws, &created.sid, p))
            .await
            .map_err(at(&path))?;
        for (j, c) in wk.channels.iter().enumerate() {
            let path = format!("{path}.channels[{j}]");
            let Some(now) = current
                .iter()
                .find(|n| n.task_channel_unique_name == c.task_channel)
            else {
                return Err(ApiError::Invalid(format!(
                    "{path}.task_channel: no task channel is named \"{}\"",
                    c.task_channel
                )));
            };
            if now.configured_capacity == c.capacity && now.available == c.available {
                continue;
            }
            let update = UpdateWorkerChannel {
                capacity: Some(c.capacity),
                available: Some(c.available),
            };
            engine
                .update_worker_channel(account, ws, &created.sid, now.sid.as_str(), update)
                .await
                .map_err(at(&path))?;
        }
    }
    Ok(())
}

/// What a seed did with one document.
#[derive(Debug)]
pub enum Seeded {
    /// The workspace was created.
    Created(Box<Workspace>),
    /// The account already has a workspace of this name: nothing was changed.
    Skipped(String),
}

/// Imports a document for `account` unless it already has a workspace of the same name
/// (`serve --seed`): starting again with the same seed changes nothing.
pub async fn seed(engine: &Engine, account: &AccountSid, bytes: &[u8]) -> ApiResult<Seeded> {
    let doc = parse(bytes)?;
    let named = switchyard_engine::WorkspaceFilter {
        friendly_name: Some(doc.friendly_name.clone()),
    };
    let existing = (engine.list_workspaces(account, &named, PageRequest::default()))
        .await
        .map_err(at("friendly_name"))?;
    if !existing.items.is_empty() {
        return Ok(Seeded::Skipped(doc.friendly_name));
    }
    import(engine, account, &doc)
        .await
        .map(|w| Seeded::Created(Box::new(w)))
}
