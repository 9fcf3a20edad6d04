//! Several nodes on one PostgreSQL database (`docs/deploy.md`): full lifecycles over HTTP, the
//! load spread over many workspaces and sent to the nodes in turn, as a load balancer would,
//! with 1, 2, ... nodes in turn. Each node is a server of its own in this process (its own
//! engine, store, writer connection and listener), joined to the database's cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};
use switchyard_engine::{ClusterOptions, Engine, EngineOptions, SystemClock};
use switchyard_server::{AppState, ServerConfig};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::http::{assignment, finish, Offer, Rig};
use crate::measure::{per_sec, percentiles, settle, Meter};
use crate::{ACCOUNT, TOKEN};

/// One node: a server on the shared database.
struct Node {
    base: String,
    engine: Engine,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_node(database: &str) -> Result<Node> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let engine = Engine::open(database, SystemClock, EngineOptions::default()).await?;
    let engine = engine
        .join_cluster(ClusterOptions::new(base.clone()))
        .await?;
    let config = ServerConfig::new(base.clone()).with_account(ACCOUNT.parse()?, TOKEN);
    let state = AppState::new(engine.clone(), config).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(switchyard_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok(Node {
        base,
        engine,
        stop,
        server,
    })
}

/// Runs `duration` of lifecycles against each node count of `counts` in turn, each on a
/// database of its own, over `workspaces` workspaces sharing `workers` workers.
pub(crate) async fn run(
    duration: Duration,
    counts: &[usize],
    workspaces: usize,
    workers: usize,
    in_flight: usize,
) -> Result<Value> {
    if crate::database::postgres().is_none() {
        return Ok(json!({ "not_run": "several nodes need PostgreSQL: pass --database" }));
    }
    let mut out = serde_json::Map::new();
    for &n in counts {
        let dir = tempfile::tempdir()?;
        let database = crate::database::url(dir.path(), &format!("nodes-{n}"));
        let report = with_nodes(&database, n, duration, workspaces, workers, in_flight).await?;
        out.insert(format!("{n}_nodes"), report);
    }
    Ok(Value::Object(out))
}

async fn with_nodes(
    database: &str,
    n: usize,
    duration: Duration,
    workspaces: usize,
    workers: usize,
    in_flight: usize,
) -> Result<Value> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(database).await?);
    }
    let bases: Vec<String> = nodes.iter().map(|node| node.base.clone()).collect();

    let (tx, mut offers) = mpsc::unbounded_channel::<Offer>();
    let app = axum::Router::new()
        .route("/assignment", axum::routing::post(assignment))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let callback_url = format!("http://{}/assignment", listener.local_addr()?);
    let callbacks = tokio::spawn(async move { axum::serve(listener, app).await });

    // rigs[w][k]: workspace w reached through node k.
    let per_workspace = (workers / workspaces).max(1);
    let mut rigs: Vec<Vec<Rig>> = Vec::new();
    for w in 0..workspaces {
        let name = format!("bench-{w}");
        let rig = Rig::configure(&bases[w % n], &callback_url, &name, per_workspace).await?;
        rigs.push(
            (bases.iter())
                .map(|b| Rig {
                    api: format!("{b}/v1/Workspaces/{}", rig.workspace),
                    ..rig.clone()
                })
                .collect(),
        );
    }
    let spread = wait_for_spread(&nodes[0].engine, workspaces, n).await?;
    let index: HashMap<String, usize> = (rigs.iter().enumerate())
        .map(|(w, r)| (r[0].workspace.clone(), w))
        .collect();
    let rigs = Arc::new(rigs);

    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (done, retries, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let permits = Arc::new(Semaphore::new(in_flight));
    let finisher = {
        let (rigs, sent, latencies) = (rigs.clone(), sent.clone(), latencies.clone());
        let (done, retries, errors, permits) = (
            done.clone(),
            retries.clone(),
            errors.clone(),
            permits.clone(),
        );
        tokio::spawn(async move {
            let mut turn = 0usize;
            while let Some(offer) = offers.recv().await {
                if let Some(at) = sent.lock().expect("not poisoned").remove(&offer.n) {
                    let latency = offer.received.saturating_duration_since(at);
                    latencies.lock().expect("not poisoned").push(latency);
                }
                turn += 1;
                let Some(&w) = index.get(&offer.workspace) else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let rig = rigs[w][turn % rigs[w].len()].clone();
                let (done, retries, errors, permits) = (
                    done.clone(),
                    retries.clone(),
                    errors.clone(),
                    permits.clone(),
                );
                tokio::spawn(async move {
                    match finish(&rig, &offer, &retries).await {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    permits.add_permits(1);
                });
            }
        })
    };

    let meter = Meter::start();
    let deadline = Instant::now() + duration;
    let mut count = 0u64;
    while Instant::now() < deadline {
        match tokio::time::timeout_at(deadline.into(), permits.acquire()).await {
            Ok(permit) => permit?.forget(),
            Err(_) => break,
        }
        count += 1;
        // Workspace by workspace, and through the nodes in turn.
        let w = (count as usize) % workspaces;
        let rig = rigs[w][(count as usize / workspaces) % n].clone();
        let (sent, errors, permits) = (sent.clone(), errors.clone(), permits.clone());
        tokio::spawn(async move {
            let attributes = format!(r#"{{"n":{count}}}"#);
            sent.lock()
                .expect("not poisoned")
                .insert(count, Instant::now());
            if rig
                .post("/Tasks", &[("Attributes", &attributes)])
                .await
                .is_err()
            {
                errors.fetch_add(1, Ordering::Relaxed);
                permits.add_permits(1);
            }
        });
    }
    let completed_in_window = done.load(Ordering::Relaxed);
    let elapsed = meter.elapsed();
    let resources = meter.report();
    settle(&done, &errors, count).await;
    finisher.abort();
    callbacks.abort();
    let latencies = std::mem::take(&mut *latencies.lock().expect("not poisoned"));
    for node in nodes {
        let _ = node.stop.send(());
        node.server.await??;
        node.engine.close().await;
    }
    Ok(json!({
        "nodes": n,
        "workspaces": workspaces,
        "workers": per_workspace * workspaces,
        "in_flight": in_flight,
        "workspaces_per_node": spread,
        "tasks_created": count,
        "lifecycles_completed": done.load(Ordering::Relaxed),
        "lifecycles_per_s": per_sec(completed_in_window, elapsed),
        "errors": errors.load(Ordering::Relaxed),
        "completion_retries": retries.load(Ordering::Relaxed),
        "create_to_callback": percentiles(latencies),
        "resources": resources,
    }))
}

/// Waits until every node is live, every workspace has a node, and the spread held still for
/// a second (rendezvous hashing gives each node its share, not an equal one: with few
/// workspaces a node may have none); answers how many each node decides for.
async fn wait_for_spread(engine: &Engine, workspaces: usize, n: usize) -> Result<Vec<usize>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut still) = (Vec::new(), 0);
    while Instant::now() < deadline {
        let nodes = engine.nodes().await?;
        let counts: Vec<usize> = (nodes.iter())
            .filter(|node| node.live)
            .map(|node| node.workspaces.len())
            .collect();
        let settled = counts.len() == n && counts.iter().sum::<usize>() == workspaces;
        still = if settled && counts == last {
            still + 1
        } else {
            0
        };
        if still >= 2 {
            return Ok(counts);
        }
        last = counts;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("the workspaces did not spread over {n} nodes in 30 s: {last:?}")
}
