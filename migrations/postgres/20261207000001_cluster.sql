-- Several nodes on one database (docs/deploy.md): who serves, and which node decides for
-- each workspace. Times are the database's own (clock_timestamp()), so the nodes' clocks
-- need not agree.

-- Every node that joined, with its last sign of life.
CREATE TABLE switchyard_nodes (
    node_id      TEXT PRIMARY KEY,
    -- Where the other nodes forward requests for its workspaces.
    url          TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Each workspace's deciding node. `epoch` is the fencing token: it grows with every change of
-- owner, and every write of the workspace checks it in its own transaction (FOR SHARE), so a
-- former owner can never commit after a takeover. No foreign key: a lease outlives nothing it
-- must, and a deleted workspace's lease is simply never claimed again.
CREATE TABLE workspace_leases (
    workspace_sid TEXT PRIMARY KEY,
    -- NULL once let go (a node that stopped cleanly).
    node_id       TEXT,
    epoch         BIGINT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX workspace_leases_node ON workspace_leases (node_id);

-- The secret nodes show each other when forwarding a request, so that a client cannot pass
-- for a node. One row, made by the first node.
CREATE TABLE switchyard_cluster (
    id     INT PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
