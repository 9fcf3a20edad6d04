//! What the engine's integration tests share: an engine with a manual clock on a database of
//! the backend under test, one account and one workspace.
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
        let url = switchyard_engine::testing::database_at(&dir.path().join("t.db"));
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

/// Faults planted behind the engine's back, in SQL of the backend the test runs on.
pub(crate) enum Faults {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A transaction holding the lock every write of `tasks` needs, until released.
pub(crate) enum Blocker {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Faults {
    pub(crate) async fn connect(url: &str) -> Faults {
        if switchyard_engine::testing::on_postgres() {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(
                "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql
                    AS $$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$",
            )
            .execute(&pool)
            .await
            .unwrap();
            Faults::Postgres(pool)
        } else {
            Faults::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        }
    }

    /// Makes every insert into `table` fail, or only those whose `attributes` contain `marker`.
    pub(crate) async fn refuse_inserts(&self, name: &str, table: &str, marker: Option<&str>) {
        let when = marker
            .map(|m| format!("WHEN (NEW.attributes LIKE '%{m}%')"))
            .unwrap_or_default();
        match self {
            Faults::Sqlite(pool) => sqlx::query(&format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} {when}
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            ))
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
            Faults::Postgres(pool) => sqlx::query(&format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW {when}
                 EXECUTE FUNCTION refuse()"
            ))
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
        };
    }

    /// Removes a trigger of [`Faults::refuse_inserts`].
    pub(crate) async fn allow_inserts(&self, name: &str, table: &str) {
        match self {
            Faults::Sqlite(pool) => sqlx::query(&format!("DROP TRIGGER {name}"))
                .execute(pool)
                .await
                .map(drop)
                .unwrap(),
            Faults::Postgres(pool) => sqlx::query(&format!("DROP TRIGGER {name} ON {table}"))
                .execute(pool)
                .await
                .map(drop)
                .unwrap(),
        };
    }

    /// Holds the lock a write of `tasks` needs (SQLite's write lock; on PostgreSQL a lock on
    /// the table that inserts wait for) until [`Blocker::release`].
    pub(crate) async fn block_writes(&self, url: &str) -> Blocker {
        use sqlx::Connection;
        match self {
            Faults::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Blocker::Sqlite(conn)
            }
            Faults::Postgres(_) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
                sqlx::query("LOCK TABLE tasks IN EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Blocker::Postgres(conn)
            }
        }
    }
}

impl Blocker {
    pub(crate) async fn release(self) {
        match self {
            Blocker::Sqlite(mut conn) => sqlx::query("COMMIT")
                .execute(&mut conn)
                .await
                .map(drop)
                .unwrap(),
            Blocker::Postgres(mut conn) => sqlx::query("COMMIT")
                .execute(&mut conn)
                .await
                .map(drop)
                .unwrap(),
        };
    }
}
