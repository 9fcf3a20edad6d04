//! What the engine's integration tests share: an engine on a SQLite file with a manual clock,
//! one account and one workspace.
// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::sync::Arc;

use switchyard_core::sid::{AccountSid, ActivitySid, TaskQueueSid, WorkflowSid, WorkspaceSid};
use switchyard_core::Timestamp;
use switchyard_engine::{
    ActivityFilter, CreateTaskQueue, CreateWorkflow, CreateWorkspace, Engine, EngineOptions,
    ManualClock, PageRequest, Store,
};

pub(crate) struct Fixture {
    pub(crate) engine: Engine,
    pub(crate) account: AccountSid,
    pub(crate) ws: WorkspaceSid,
    /// The database file's sqlx URL.
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000)));
        let engine = Engine::new(
            Store::open(&url).await.unwrap(),
            clock,
            EngineOptions::default(),
        );
        let account = engine
            .ensure_account("AC00000000000000000000000000000000".parse().unwrap())
            .await
            .unwrap();
        let ws = engine
            .create_workspace(
                &account,
                CreateWorkspace {
                    friendly_name: "W".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .sid;
        Fixture {
            engine,
            account,
            ws,
            url,
            _dir: dir,
        }
    }

    /// One of the workspace's activities, by name.
    pub(crate) async fn activity(&self, name: &str) -> ActivitySid {
        let filter = ActivityFilter {
            friendly_name: Some(name.into()),
            ..Default::default()
        };
        let page = self
            .engine
            .list_activities(&self.account, &self.ws, &filter, PageRequest::default())
            .await
            .unwrap();
        page.items[0].1.sid.clone()
    }

    pub(crate) async fn queue(&self, p: CreateTaskQueue) -> TaskQueueSid {
        let queue = self.engine.create_task_queue(&self.account, &self.ws, p);
        queue.await.unwrap().sid
    }

    /// A workflow (`p` without its configuration) whose default filter sends every task to
    /// `queue`.
    pub(crate) async fn workflow_to(&self, queue: &TaskQueueSid, p: CreateWorkflow) -> WorkflowSid {
        let p = CreateWorkflow {
            configuration: format!(
                r#"{{"task_routing":{{"default_filter":{{"queue":"{queue}"}}}}}}"#
            ),
            ..p
        };
        let workflow = self.engine.create_workflow(&self.account, &self.ws, p);
        workflow.await.unwrap().sid
    }
}
