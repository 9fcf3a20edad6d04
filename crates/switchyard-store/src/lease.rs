//! Several nodes on one PostgreSQL database: the nodes' membership and each workspace's lease.
//!
//! A workspace is decided by one node at a time, the holder of its lease. The lease carries an
//! epoch, the fencing token: it grows with every change of holder, and every write of the
//! workspace checks it inside its own transaction ([`crate::Chain::fenced`], checked by the
//! writer with `FOR SHARE`), so a node that lost the lease while paused or cut off commits
//! nothing after the takeover. A takeover's `UPDATE` waits for a write in flight under the old
//! epoch (the row lock), so the new holder's model, loaded after it, sees every write the old
//! holder committed.
//!
//! These statements run on the pool, not through the writer: they are the node's own
//! bookkeeping, renewed on time whatever the writer is busy with. Times are the database's
//! (`clock_timestamp()`), so the nodes' clocks need not agree. SQLite has no cluster: there,
//! none of this is called.

use std::time::Duration;

use sqlx::PgPool;
use switchyard_core::sid::WorkspaceSid;

use crate::db::Pool;
use crate::{sid, Result, Store, StoreError};

/// The channel every PostgreSQL writer notifies as it commits, so that the other nodes' event
/// readers (event streams, the Worker SDK's sockets) wake.
pub(crate) const EVENTS_CHANNEL: &str = "switchyard_events";

/// A fencing token: the writes of a chain commit only while `workspace`'s lease has this epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The workspace's SID.
    pub workspace: String,
    /// The lease's epoch when the writes were decided.
    pub epoch: i64,
}

/// Who holds a workspace's lease, as [`Store::claim_lease`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This node does now, with this epoch.
    Ours(i64),
    /// Another node, live until its lease expires.
    Held {
        /// The holder.
        node_id: String,
        /// Where it takes requests.
        url: String,
    },
}

/// A node of the cluster, as the database last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Its id (new with every start).
    pub node_id: String,
    /// Where it takes requests forwarded to it.
    pub url: String,
    /// When it joined (ms since the epoch, the database's clock).
    pub started_at: i64,
    /// Its last heartbeat (ms since the epoch, the database's clock).
    pub heartbeat_at: i64,
    /// Whether its last heartbeat is recent enough for it to count as live.
    pub live: bool,
    /// The workspaces whose lease it holds, unexpired.
    pub workspaces: Vec<WorkspaceSid>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `clock_timestamp()` plus `$n` milliseconds.
fn later(n: u32) -> String {
    format!("clock_timestamp() + make_interval(secs => ${n}::bigint / 1000.0)")
}

impl Store {
    fn postgres(&self) -> Result<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Ok(p),
            Pool::Sqlite(_) => Err(StoreError::Corrupt(
                "several nodes need PostgreSQL; this store is SQLite".to_owned(),
            )),
        }
    }

    /// The secret the nodes of this database show each other, made by the first to ask.
    pub async fn cluster_secret(&self) -> Result<String> {
        let pool = self.postgres()?;
        sqlx::query(
            "INSERT INTO switchyard_cluster (id, secret)
             VALUES (1, gen_random_uuid()::text || gen_random_uuid()::text)
             ON CONFLICT (id) DO NOTHING",
        )
        .execute(pool)
        .await?;
        let (secret,): (String,) = sqlx::query_as("SELECT secret FROM switchyard_cluster")
            .fetch_one(pool)
            .await?;
        Ok(secret)
    }

    /// Enters `node_id` (reachable at `url`) into the cluster, or renews its heartbeat.
    pub async fn join_cluster(&self, node_id: &str, url: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO switchyard_nodes (node_id, url) VALUES ($1, $2)
             ON CONFLICT (node_id) DO UPDATE SET url = EXCLUDED.url,
                 heartbeat_at = clock_timestamp()",
        )
        .bind(node_id)
        .bind(url)
        .execute(self.postgres()?)
        .await?;
        Ok(())
    }

    /// The nodes that are or were reachable at `url`, but `node_id`: (node, last heartbeat in
    /// ms since the epoch).
    pub async fn nodes_at(&self, url: &str, node_id: &str) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT node_id, (extract(epoch FROM heartbeat_at) * 1000)::bigint
             FROM switchyard_nodes WHERE url = $1 AND node_id <> $2 ORDER BY node_id",
        )
        .bind(url)
        .bind(node_id)
        .fetch_all(self.postgres()?)
        .await?;
        Ok(rows)
    }

    /// Takes over, for `node_id`, the leases of the nodes that were reachable at `url`, and
    /// removes those nodes: a node that starts at an address another node had is that node
    /// restarted (its address is this one's now), so its workspaces need not wait for their
    /// leases to run out. Returns how many leases it took.
    pub async fn replace_predecessors(
        &self,
        node_id: &str,
        url: &str,
        ttl: Duration,
    ) -> Result<u64> {
        let pool = self.postgres()?;
        let taken = sqlx::query(&format!(
            "UPDATE workspace_leases SET node_id = $1, epoch = epoch + 1, expires_at = {}
             WHERE node_id IN (SELECT node_id FROM switchyard_nodes
                               WHERE url = $2 AND node_id <> $1)",
            later(3)
        ))
        .bind(node_id)
        .bind(url)
        .bind(millis(ttl))
        .execute(pool)
        .await?;
        sqlx::query("DELETE FROM switchyard_nodes WHERE url = $1 AND node_id <> $2")
            .bind(url)
            .bind(node_id)
            .execute(pool)
            .await?;
        Ok(taken.rows_affected())
    }

    /// Wakes this store's event readers ([`Store::event_signal`]) when another node commits
    /// events, as its own commits do: the writers of a cluster `NOTIFY` on
    /// [`EVENTS_CHANNEL`] with every commit. Listens until the store is dropped.
    pub async fn listen_to_other_nodes(&self) -> Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(self.postgres()?).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        let signal = std::sync::Arc::downgrade(&self.events_written);
        tokio::spawn(async move {
            loop {
                // Checked now and then, so that the listener ends with the store.
                let heard = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await;
                let Some(signal) = signal.upgrade() else {
                    return;
                };
                match heard {
                    Ok(Ok(_)) => signal.send_modify(|n| *n = n.wrapping_add(1)),
                    // Made again by the listener on the next `recv`; a commit missed meanwhile
                    // is read with the next one.
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "listening for other nodes' events");
                        signal.send_modify(|n| *n = n.wrapping_add(1));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(_) => {}
                }
            }
        });
        Ok(())
    }

    /// Renews the node's heartbeat and every lease it holds for `ttl` more; returns those
    /// leases (workspace, epoch). A lease it held that is missing was taken over. A lease it
    /// let expire that nobody took is renewed too: nobody decided for it meanwhile.
    pub async fn heartbeat(
        &self,
        node_id: &str,
        ttl: Duration,
    ) -> Result<Vec<(WorkspaceSid, i64)>> {
        let pool = self.postgres()?;
        sqlx::query(
            "UPDATE switchyard_nodes SET heartbeat_at = clock_timestamp() WHERE node_id = $1",
        )
        .bind(node_id)
        .execute(pool)
        .await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "UPDATE workspace_leases SET expires_at = {}
             WHERE workspace_sid IN (SELECT workspace_sid FROM workspace_leases
                                     WHERE node_id = $1 ORDER BY workspace_sid FOR UPDATE)
                 AND node_id = $1
             RETURNING workspace_sid, epoch",
            later(2)
        ))
        .bind(node_id)
        .bind(millis(ttl))
        .fetch_all(pool)
        .await?;
        rows.into_iter().map(|(ws, e)| Ok((sid(&ws)?, e))).collect()
    }

    /// Takes `ws`'s lease for `node_id` for `ttl` if nobody holds it (never held, let go, or
    /// expired), with the next epoch; else says who holds it. Waits at most `wait` for a write
    /// in flight under the old epoch (the row lock its fencing check holds), then reports the
    /// lease as held.
    pub async fn claim_lease(
        &self,
        ws: &WorkspaceSid,
        node_id: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Claim> {
        let pool = self.postgres()?;
        let mut tx = pool.begin().await?;
        sqlx::query(&format!("SET LOCAL lock_timeout = {}", millis(wait).max(1)))
            .execute(&mut *tx)
            .await?;
        let taken: std::result::Result<Option<(i64,)>, sqlx::Error> = sqlx::query_as(&format!(
            "INSERT INTO workspace_leases AS l (workspace_sid, node_id, epoch, expires_at)
             SELECT $1, $2, 1, {} WHERE EXISTS (SELECT 1 FROM workspaces WHERE sid = $1)
             ON CONFLICT (workspace_sid) DO UPDATE
                 SET node_id = EXCLUDED.node_id, epoch = l.epoch + 1,
                     expires_at = EXCLUDED.expires_at
                 WHERE l.node_id IS NULL OR l.expires_at < clock_timestamp()
             RETURNING epoch",
            later(3)
        ))
        .bind(ws.to_string())
        .bind(node_id)
        .bind(millis(ttl))
        .fetch_optional(&mut *tx)
        .await;
        match taken {
            Ok(Some((epoch,))) => {
                tx.commit().await?;
                return Ok(Claim::Ours(epoch));
            }
            Ok(None) => {}
            // lock_not_available: a write under the old epoch is still committing.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {}
            Err(e) => return Err(e.into()),
        }
        drop(tx);
        let holder: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT l.node_id, n.url FROM workspace_leases l
             LEFT JOIN switchyard_nodes n ON n.node_id = l.node_id
             WHERE l.workspace_sid = $1",
        )
        .bind(ws.to_string())
        .fetch_optional(pool)
        .await?;
        match holder {
            Some((Some(node_id), url)) => Ok(Claim::Held {
                node_id,
                url: url.unwrap_or_default(),
            }),
            // Let go between the two statements: whoever asks again takes it.
            _ => Ok(Claim::Held {
                node_id: String::new(),
                url: String::new(),
            }),
        }
    }

    /// Who holds `ws`'s lease unexpired, if anyone: (node, url, epoch).
    pub async fn lease_holder(&self, ws: &WorkspaceSid) -> Result<Option<(String, String, i64)>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT l.node_id, COALESCE(n.url, ''), l.epoch FROM workspace_leases l
             LEFT JOIN switchyard_nodes n ON n.node_id = l.node_id
             WHERE l.workspace_sid = $1 AND l.node_id IS NOT NULL
                 AND l.expires_at >= clock_timestamp()",
        )
        .bind(ws.to_string())
        .fetch_optional(self.postgres()?)
        .await?;
        Ok(row)
    }

    /// Hands `ws`'s lease from `node_id` (holding it at `epoch`) to `to`, with the next epoch,
    /// for `ttl`; whether it was still ours to hand. The caller has stopped deciding for it
    /// and waited for its writes.
    pub async fn hand_over_lease(
        &self,
        ws: &WorkspaceSid,
        node_id: &str,
        epoch: i64,
        to: Option<&str>,
        ttl: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE workspace_leases SET node_id = $3, epoch = epoch + 1,
                 expires_at = CASE WHEN $3 IS NULL THEN clock_timestamp() ELSE {} END
             WHERE workspace_sid = $1 AND node_id = $2 AND epoch = $5
                 AND ($3 IS NULL OR EXISTS (
                     SELECT 1 FROM switchyard_nodes WHERE node_id = $3
                     AND heartbeat_at > clock_timestamp() - make_interval(secs => $4::bigint / 1000.0)))",
            later(4)
        ))
        .bind(ws.to_string())
        .bind(node_id)
        .bind(to)
        .bind(millis(ttl))
        .bind(epoch)
        .execute(self.postgres()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Lets go of every lease `node_id` holds and leaves the cluster (a clean stop): the
    /// others take its workspaces at once. Call once its writes are done.
    pub async fn leave_cluster(&self, node_id: &str) -> Result<()> {
        // At once: a lease is never handed to a node that has gone.
        let mut tx = self.postgres()?.begin().await?;
        sqlx::query("DELETE FROM switchyard_nodes WHERE node_id = $1")
            .bind(node_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE workspace_leases SET node_id = NULL, epoch = epoch + 1,
                 expires_at = clock_timestamp()
             WHERE workspace_sid IN (SELECT workspace_sid FROM workspace_leases
                                     WHERE node_id = $1 ORDER BY workspace_sid FOR UPDATE)",
        )
        .bind(node_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the lease of a deleted workspace.
    pub async fn delete_lease(&self, ws: &WorkspaceSid) -> Result<()> {
        sqlx::query("DELETE FROM workspace_leases WHERE workspace_sid = $1")
            .bind(ws.to_string())
            .execute(self.postgres()?)
            .await?;
        Ok(())
    }

    /// Every node heard of within `forget_after`, with whether it is live (heard of within
    /// `ttl`) and the workspaces it holds; oldest first.
    pub async fn nodes(&self, ttl: Duration, forget_after: Duration) -> Result<Vec<NodeRow>> {
        let pool = self.postgres()?;
        let rows: Vec<(String, String, i64, i64, bool)> = sqlx::query_as(
            "SELECT node_id, url,
                 (extract(epoch FROM started_at) * 1000)::bigint,
                 (extract(epoch FROM heartbeat_at) * 1000)::bigint,
                 heartbeat_at > clock_timestamp() - make_interval(secs => $1::bigint / 1000.0)
             FROM switchyard_nodes
             WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $2::bigint / 1000.0)
             ORDER BY started_at, node_id",
        )
        .bind(millis(ttl))
        .bind(millis(forget_after))
        .fetch_all(pool)
        .await?;
        let leases: Vec<(String, String)> = sqlx::query_as(
            "SELECT node_id, workspace_sid FROM workspace_leases
             WHERE node_id IS NOT NULL AND expires_at >= clock_timestamp()
             ORDER BY workspace_sid",
        )
        .fetch_all(pool)
        .await?;
        let mut nodes = Vec::with_capacity(rows.len());
        for (node_id, url, started_at, heartbeat_at, live) in rows {
            let workspaces = (leases.iter())
                .filter(|(n, _)| *n == node_id)
                .map(|(_, ws)| sid(ws))
                .collect::<Result<Vec<_>>>()?;
            nodes.push(NodeRow {
                node_id,
                url,
                started_at,
                heartbeat_at,
                live,
                workspaces,
            });
        }
        Ok(nodes)
    }

    /// Workspaces nobody decides for that need a decider: a lease let go or expired, or
    /// tasks being routed and no lease at all (a database a single node served before).
    pub async fn unowned_workspaces(&self) -> Result<Vec<WorkspaceSid>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT l.workspace_sid FROM workspace_leases l
             JOIN workspaces w ON w.sid = l.workspace_sid
             WHERE l.node_id IS NULL OR l.expires_at < clock_timestamp()
             UNION
             SELECT DISTINCT t.workspace_sid FROM tasks t
             WHERE t.assignment_status IN ('pending', 'reserved')
                 AND NOT EXISTS (SELECT 1 FROM workspace_leases l
                                 WHERE l.workspace_sid = t.workspace_sid)",
        )
        .fetch_all(self.postgres()?)
        .await?;
        rows.into_iter().map(|(s,)| sid(&s)).collect()
    }
}
