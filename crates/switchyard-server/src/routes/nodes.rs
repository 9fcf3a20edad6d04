//! `GET /_switchyard/Nodes`: the nodes serving this database and the workspaces each decides
//! for (several nodes on one PostgreSQL database; a single node otherwise).

use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use switchyard_core::Timestamp;

use super::ok;
use crate::error::{ApiResult, ResultExt};
use crate::resource::date;
use crate::{AppState, Caller};

/// Every node heard of lately, oldest first; only the caller's workspaces are named.
pub(crate) async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let engine = &st.engine;
    let Some(this) = engine.node_id() else {
        // One process, deciding for every workspace.
        return Ok(ok(json!({
            "clustered": false,
            "nodes": [{
                "node_id": null,
                "url": st.config.public_url,
                "live": true,
                "this_node": true,
                "workspaces": null,
            }],
        })));
    };
    let mut nodes = Vec::new();
    for node in engine.nodes().await.at(&caller.path)? {
        let mut workspaces = Vec::new();
        for ws in node.workspaces {
            if engine.workspace(&caller.account, &ws).await.is_ok() {
                workspaces.push(Value::from(ws.to_string()));
            }
        }
        nodes.push(json!({
            "node_id": node.node_id,
            "url": node.url,
            "started_at": date(Timestamp::from_millis(node.started_at)),
            "heartbeat_at": date(Timestamp::from_millis(node.heartbeat_at)),
            "live": node.live,
            "this_node": node.node_id == this,
            "workspaces": workspaces,
        }));
    }
    Ok(ok(json!({ "clustered": true, "nodes": nodes })))
}
