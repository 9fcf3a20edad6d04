//! Several nodes on one PostgreSQL database: each workspace is decided by one node at a time,
//! the holder of its lease (`switchyard_store`'s `lease.rs`), and every write of the workspace
//! is fenced by the lease's epoch.
//!
//! A node renews its leases every [`ClusterOptions::lease`] / 10 ([`Engine::run_cluster`]),
//! learns from the renewal which it lost (taken over while it was paused or cut off: it forgets
//! their models, and its writes in flight for them fail the fencing check) and which were
//! handed to it (it loads them and recovers what the last holder left: timers, unanswered
//! reservations). Workspaces spread over the live nodes by rendezvous hashing: each workspace
//! prefers the node whose hash with it is highest, a node takes the free workspaces it is
//! preferred for, and hands those another live node is preferred for to that node. So a node
//! that starts takes its share, one that stops cleanly lets go of its leases at once
//! ([`Engine::leave_cluster`]), and one that dies loses them once they expire.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex as SyncMutex;
use std::time::{Duration, Instant};

use switchyard_core::sid::{ReservationSid, WorkspaceSid};
use switchyard_store::{Chain, Claim, Fence, NodeRow};

use crate::{Engine, Error, Result};

/// How a node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where the other nodes forward requests for the workspaces this node decides.
    pub url: String,
    /// How long a lease lasts without renewal: a node that dies loses its workspaces after
    /// this long. Renewed every tenth of it.
    pub lease: Duration,
}

impl ClusterOptions {
    /// Options with the default lease of 10 s.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterOptions {
            url: url.into(),
            lease: Duration::from_secs(10),
        }
    }
}

/// Which node decides for a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This one (always, without a cluster).
    Here,
    /// Another node, at `url`.
    Node {
        /// Its id.
        node_id: String,
        /// Where it takes requests.
        url: String,
    },
}

/// This node's part in the cluster.
pub(crate) struct Membership {
    pub(crate) node_id: String,
    options: ClusterOptions,
    /// The leases this node holds, with their epochs.
    owned: SyncMutex<HashMap<WorkspaceSid, i64>>,
    /// The live nodes as of the last tick: (id, url).
    live: SyncMutex<Vec<(String, String)>>,
    /// Set once it began to leave: it claims nothing more.
    leaving: AtomicBool,
    /// When the last renewal that succeeded was sent.
    renewed: SyncMutex<Option<Instant>>,
    /// What the nodes of this database show each other (`Engine::peer_secret`).
    secret: String,
}

impl Membership {
    pub(crate) fn epoch(&self, ws: &WorkspaceSid) -> Option<i64> {
        self.owned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ws)
            .copied()
    }

    fn owned(&self) -> HashMap<WorkspaceSid, i64> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a lease this node now holds; whether it is new to it.
    fn hold(&self, ws: &WorkspaceSid, epoch: i64) -> bool {
        let mut owned = self.owned.lock().unwrap_or_else(|e| e.into_inner());
        owned.insert(ws.clone(), epoch) != Some(epoch)
    }

    fn drop_lease(&self, ws: &WorkspaceSid) {
        self.owned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ws);
    }

    /// The live node `ws` prefers (rendezvous hashing), if any is known.
    fn preferred(&self, ws: &WorkspaceSid) -> Option<(String, String)> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let key = ws.to_string();
        (live.iter())
            .max_by_key(|(id, _)| (affinity(&key, id), id.clone()))
            .cloned()
    }

    fn tick(&self) -> Duration {
        self.options.lease / 10
    }

    /// Whether the leases it holds were renewed lately enough to be trusted without asking
    /// the database: not after a pause (SIGSTOP, a frozen VM) or a spell without the database,
    /// during which another node may have taken them over.
    fn fresh(&self) -> bool {
        let renewed = *self.renewed.lock().unwrap_or_else(|e| e.into_inner());
        renewed.is_some_and(|at| at.elapsed() < self.options.lease / 2)
    }
}

/// FNV-1a of the workspace and the node, finished with SplitMix64's mixer (FNV alone lets the
/// last bytes barely reach the high bits, and SIDs minted together differ only there): stable
/// across processes and versions, which a std hasher does not promise, so that every node
/// computes the same preference.
fn affinity(ws: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ws.bytes().chain([0xff]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Engine {
    /// Joins the cluster of every node on this PostgreSQL database: from now on this engine
    /// decides only for the workspaces whose lease it holds, and [`Engine::owner`] says which
    /// node decides for the others. Run [`Engine::run_cluster`] beside it, and
    /// [`Engine::leave_cluster`] on a clean stop.
    pub async fn join_cluster(mut self, options: ClusterOptions) -> Result<Engine> {
        let node_id = crate::mint::<switchyard_core::sid::TaskSid>()
            .to_string()
            .replacen("WT", "NO", 1);
        // A node listed at this address is this node's predecessor, gone (its port is ours
        // now), unless its heartbeat still moves: then two nodes advertise one address, and
        // requests forwarded to it would reach either.
        let before = self.store.nodes_at(&options.url, &node_id).await?;
        if !before.is_empty() {
            tokio::time::sleep(options.lease / 10 * 3 / 2).await;
            if self.store.nodes_at(&options.url, &node_id).await? != before {
                return Err(Error::Invalid(format!(
                    "another live node advertises {}: give each node its own --advertise-url",
                    options.url
                )));
            }
        }
        self.store.join_cluster(&node_id, &options.url).await?;
        // Events committed by the node deciding a workspace reach readers on this one.
        self.store.listen_to_other_nodes().await?;
        let taken = (self.store)
            .replace_predecessors(&node_id, &options.url, options.lease)
            .await?;
        if taken > 0 {
            tracing::info!(workspaces = taken, url = %options.url, "took over the workspaces of the node that had this address before");
        }
        let secret = self.store.cluster_secret().await?;
        let membership = Membership {
            secret,
            node_id,
            options,
            owned: SyncMutex::default(),
            live: SyncMutex::default(),
            leaving: AtomicBool::new(false),
            renewed: SyncMutex::new(None),
        };
        self.cluster = Some(std::sync::Arc::new(membership));
        Ok(self)
    }

    /// How long a lease lasts, if this node joined a cluster.
    pub fn lease(&self) -> Option<Duration> {
        self.cluster.as_ref().map(|m| m.options.lease)
    }

    /// The secret the nodes of this cluster show each other when one sends another a request,
    /// so that a client cannot pass for a node; `None` without a cluster.
    pub fn peer_secret(&self) -> Option<&str> {
        self.cluster.as_ref().map(|m| m.secret.as_str())
    }

    /// This node's id in its cluster, if it joined one.
    pub fn node_id(&self) -> Option<&str> {
        self.cluster.as_ref().map(|m| m.node_id.as_str())
    }

    /// Whether this node decides for `ws` now (always, without a cluster): timers, callbacks
    /// and event callbacks of a workspace run on the node that decides for it only.
    pub fn decides_for(&self, ws: &WorkspaceSid) -> bool {
        (self.cluster.as_ref()).is_none_or(|m| m.epoch(ws).is_some() && m.fresh())
    }

    /// Which node decides for `ws`; takes the workspace's lease if nobody holds it. A free
    /// workspace goes to the live node it prefers, unless `take` (a request forwarded here
    /// already, or the engine's own need): then this node takes it.
    pub async fn owner(&self, ws: &WorkspaceSid, take: bool) -> Result<Owner> {
        let Some(m) = &self.cluster else {
            return Ok(Owner::Here);
        };
        let holder = match m.epoch(ws) {
            Some(_) if m.fresh() => return Ok(Owner::Here),
            Some(held) => {
                // Not renewed lately: still this node's only if the database says so.
                let holder = self.store.lease_holder(ws).await?;
                match &holder {
                    Some((node, _, epoch)) if *node == m.node_id && *epoch == held => {
                        return Ok(Owner::Here);
                    }
                    _ => self.lease_lost(ws, Some(held)),
                }
                holder
            }
            None => self.store.lease_holder(ws).await?,
        };
        if let Some((node_id, url, epoch)) = holder {
            if node_id != m.node_id {
                return Ok(Owner::Node { node_id, url });
            }
            if m.leaving.load(Ordering::Acquire) {
                return Err(Error::Unavailable(
                    "this node is stopping; the workspace is being taken over".to_owned(),
                ));
            }
            // Handed to this node; it learns of it here before its next renewal does.
            self.adopt(ws, epoch).await?;
            return Ok(Owner::Here);
        }
        if m.leaving.load(Ordering::Acquire) {
            return Err(Error::Unavailable(
                "this node is stopping; the workspace is being taken over".to_owned(),
            ));
        }
        if !take {
            if let Some((node_id, url)) = m.preferred(ws).filter(|(id, _)| *id != m.node_id) {
                return Ok(Owner::Node { node_id, url });
            }
        }
        match self.claim(ws).await? {
            Some(()) => Ok(Owner::Here),
            None => match self.store.lease_holder(ws).await? {
                Some((node_id, url, _)) if node_id != m.node_id && !url.is_empty() => {
                    Ok(Owner::Node { node_id, url })
                }
                // No such workspace: the handler here says so (404).
                None if self.store.find_workspace(ws).await?.is_none() => Ok(Owner::Here),
                _ => Err(Error::Unavailable(
                    "the workspace is changing hands; try again".to_owned(),
                )),
            },
        }
    }

    /// The chain for a write about `ws` made outside its lock (the event-callback cursor, a
    /// callback's answer): fenced by this node's lease in a cluster. `None` when this node no
    /// longer decides for `ws`: the write is the deciding node's to make.
    pub(crate) fn bookkeeping_chain(&self, ws: &WorkspaceSid) -> Option<Chain> {
        let Some(m) = &self.cluster else {
            return Some(Chain::default());
        };
        let epoch = m.epoch(ws)?;
        Some(Chain::fenced(Fence {
            workspace: ws.to_string(),
            epoch,
        }))
    }

    /// Stops deciding for `ws`, whose lease at `epoch` (any, if `None`) another node took:
    /// forgets its model and timers. An operation holding the model's lock meanwhile finds
    /// it forgotten and starts over (`lock_with`).
    pub(crate) fn lease_lost(&self, ws: &WorkspaceSid, epoch: Option<i64>) {
        let Some(m) = &self.cluster else {
            return;
        };
        let held = m.epoch(ws);
        if held.is_none() || (epoch.is_some() && held != epoch) {
            return;
        }
        tracing::warn!(workspace = %ws, "the workspace was taken over by another node");
        m.drop_lease(ws);
        self.forget(ws);
    }

    /// Forgets the lease of a workspace deleted for good.
    pub(crate) async fn workspace_deleted(&self, ws: &WorkspaceSid) -> Result<()> {
        if let Some(m) = &self.cluster {
            m.drop_lease(ws);
            self.store.delete_lease(ws).await?;
        }
        Ok(())
    }

    /// The epoch this node decides `ws` under (`None` without a cluster), taking its lease if
    /// nobody holds it; fails with [`Error::NotOwner`] if another node does.
    pub(crate) async fn fence(&self, ws: &WorkspaceSid) -> Result<Option<i64>> {
        let Some(m) = &self.cluster else {
            return Ok(None);
        };
        match self.owner(ws, true).await? {
            Owner::Here => match m.epoch(ws) {
                Some(epoch) => Ok(Some(epoch)),
                None => Err(Error::Unavailable(
                    "the workspace is changing hands; try again".to_owned(),
                )),
            },
            Owner::Node { node_id, url } => Err(Error::NotOwner {
                workspace: ws.to_string(),
                node_id,
                url,
            }),
        }
    }

    /// Takes `ws`'s lease if nobody holds it; `Some` if this node now does.
    async fn claim(&self, ws: &WorkspaceSid) -> Result<Option<()>> {
        let Some(m) = &self.cluster else {
            return Ok(Some(()));
        };
        let wait = m.tick();
        match (self.store)
            .claim_lease(ws, &m.node_id, m.options.lease, wait)
            .await?
        {
            Claim::Ours(epoch) => {
                tracing::info!(workspace = %ws, epoch, "this node now decides for the workspace");
                self.adopt(ws, epoch).await?;
                Ok(Some(()))
            }
            Claim::Held { .. } => Ok(None),
        }
    }

    /// Starts deciding for `ws` under `epoch`: the model is loaded on first use (routing what
    /// waits, and publishing its timers, which fire here from now on), and the reservations
    /// the last holder left without an answered callback are announced again.
    async fn adopt(&self, ws: &WorkspaceSid, epoch: i64) -> Result<()> {
        let Some(m) = &self.cluster else {
            return Ok(());
        };
        // Read before this node can have created any reservation of its own there.
        let unanswered: HashSet<ReservationSid> = (self.store)
            .unanswered_reservations_of(ws)
            .await?
            .into_iter()
            .map(|r| r.sid)
            .collect();
        if !m.hold(ws, epoch) {
            return Ok(());
        }
        tokio::spawn(self.clone().recover(ws.clone(), unanswered));
        Ok(())
    }

    /// What [`Engine::adopt`] runs in the background. Boxed: locking may adopt in turn, and
    /// the compiler cannot see through that cycle that the future is `Send`.
    fn recover(
        self,
        ws: WorkspaceSid,
        unanswered: HashSet<ReservationSid>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let recovered = async {
                let workspace = self.store_workspace(&ws).await?;
                let locked = self.lock(workspace).await?;
                self.release_lock(locked, Ok(())).await?;
                self.renotify(&unanswered).await
            };
            if let Err(e) = recovered.await {
                tracing::warn!(workspace = %ws, error = %e, "taking over the workspace's routing failed; retried on its next use");
            }
        })
    }

    /// The nodes of the cluster and the workspaces each decides for (none without a cluster).
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let Some(m) = &self.cluster else {
            return Ok(Vec::new());
        };
        Ok(self
            .store
            .nodes(m.options.lease, 10 * m.options.lease)
            .await?)
    }

    /// Keeps this node's part in the cluster until the engine is dropped: renews its leases,
    /// forgets those it lost, takes up those handed to it, takes the free workspaces it is
    /// preferred for and hands the others over. Does nothing without a cluster.
    pub async fn run_cluster(&self) {
        let Some(m) = &self.cluster else {
            return;
        };
        loop {
            if m.leaving.load(Ordering::Acquire) {
                return;
            }
            if let Err(e) = self.cluster_tick().await {
                tracing::warn!(error = %e, "renewing this node's leases failed; retrying");
            }
            tokio::time::sleep(m.tick()).await;
        }
    }

    /// One round of [`Engine::run_cluster`].
    pub(crate) async fn cluster_tick(&self) -> Result<()> {
        let Some(m) = &self.cluster else {
            return Ok(());
        };
        let sent = Instant::now();
        self.store.join_cluster(&m.node_id, &m.options.url).await?;
        let held: HashMap<WorkspaceSid, i64> = (self.store)
            .heartbeat(&m.node_id, m.options.lease)
            .await?
            .into_iter()
            .collect();
        *m.renewed.lock().unwrap_or_else(|e| e.into_inner()) = Some(sent);
        for (ws, epoch) in m.owned() {
            if held.get(&ws) != Some(&epoch) {
                self.lease_lost(&ws, Some(epoch));
            }
        }
        for (ws, epoch) in &held {
            if m.epoch(ws) != Some(*epoch) {
                self.adopt(ws, *epoch).await?;
            }
        }
        let live: Vec<(String, String)> = (self.nodes().await?.into_iter())
            .filter(|n| n.live)
            .map(|n| (n.node_id, n.url))
            .collect();
        *m.live.lock().unwrap_or_else(|e| e.into_inner()) = live;
        // Within a budget, so that the next renewal is never late: what is left waits for the
        // next tick. A step cut short leaves the database ahead of this node's map at worst,
        // which the next renewal reconciles (a lease held is adopted, one gone is forgotten).
        let budget = sent + m.options.lease / 4;
        for ws in self.store.unowned_workspaces().await? {
            let mine = m.preferred(&ws).is_none_or(|(id, _)| id == m.node_id);
            if mine && !m.leaving.load(Ordering::Acquire) {
                tokio::time::timeout_at(budget.into(), self.claim(&ws))
                    .await
                    .unwrap_or(Ok(None))?;
            }
        }
        for (ws, _) in m.owned() {
            if let Some((to, _)) = m.preferred(&ws).filter(|(id, _)| *id != m.node_id) {
                tokio::time::timeout_at(budget.into(), self.hand_over(&ws, Some(&to)))
                    .await
                    .unwrap_or(Ok(()))?;
            }
        }
        Ok(())
    }

    /// Stops deciding for `ws` and hands its lease to `to` (or lets it go): under the
    /// workspace's lock, once every write submitted before is done.
    async fn hand_over(&self, ws: &WorkspaceSid, to: Option<&str>) -> Result<()> {
        let Some(m) = &self.cluster else {
            return Ok(());
        };
        let cell = {
            let mut models = (self.routing.models.lock()).unwrap_or_else(|e| e.into_inner());
            models.entry(ws.clone()).or_default().clone()
        };
        let mut guard = cell.lock_owned().await;
        self.store.settled().await;
        let Some(epoch) = m.epoch(ws) else {
            return Ok(());
        };
        let handed = (self.store)
            .hand_over_lease(ws, &m.node_id, epoch, to, m.options.lease)
            .await?;
        m.drop_lease(ws);
        guard.model = None;
        drop(guard);
        self.forget(ws);
        if handed {
            tracing::info!(workspace = %ws, to = to.unwrap_or("nobody"), "handed the workspace over");
        }
        Ok(())
    }

    /// Leaves the cluster on a clean stop: lets go of every lease once the writes submitted
    /// so far are done, so that the other nodes take the workspaces over at once.
    pub async fn leave_cluster(&self) -> Result<()> {
        let Some(m) = &self.cluster else {
            return Ok(());
        };
        if m.leaving.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Requests from now on go to the other nodes; an operation under way finishes first.
        (m.live.lock().unwrap_or_else(|e| e.into_inner())).retain(|(id, _)| *id != m.node_id);
        for (ws, _) in m.owned() {
            let cell = (self
                .routing
                .models
                .lock()
                .unwrap_or_else(|e| e.into_inner()))
            .get(&ws)
            .cloned();
            m.drop_lease(&ws);
            if let Some(cell) = cell {
                cell.lock().await.model = None;
            }
            self.forget(&ws);
        }
        self.store.settled().await;
        self.store.leave_cluster(&m.node_id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::affinity;

    #[test]
    fn affinity_is_stable_and_spreads() {
        // Fixed values: every node, whatever its build, must compute the same preference.
        assert_eq!(affinity("WS1", "NO1"), affinity("WS1", "NO1"));
        assert_ne!(affinity("WS1", "NO1"), affinity("WS1", "NO2"));
        // SIDs minted close together share their leading (time) digits; plain FNV gave one of
        // these nodes none of 12 such workspaces.
        let nodes = [
            "NO01a24d990b4b70fb9a37e3fd34fe5be1",
            "NO01a24d990b66730e96cf8b431c892bf3",
            "NO01a24d990b797601b7fe07b045c00087",
        ];
        let mut wins = [0usize; 3];
        for i in 0..300u32 {
            let ws = format!(
                "WS01a24d990c{:022x}",
                u128::from(i).wrapping_mul(0x9e37_79b9)
            );
            let best = (0..3).max_by_key(|&n| affinity(&ws, nodes[n])).unwrap();
            wins[best] += 1;
        }
        assert!(wins.iter().all(|&w| w > 70), "{wins:?}");
    }
}
