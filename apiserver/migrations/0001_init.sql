-- flatnet's store. Objects are kept as JSON bodies; the columns beside them are what the
-- server must look up or keep unique. Allocation tables have the allocated value as their
-- primary key, so the database itself refuses to hand an address out twice.

-- 'revision': the last committed revision; 'compacted': events at or below it are gone;
-- 'config': the cluster configuration (JSON); '*_cursor': where allocators continue.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE objects (
    kind      TEXT NOT NULL,
    namespace TEXT NOT NULL,          -- '' for cluster-scoped kinds
    name      TEXT NOT NULL,
    uid       TEXT NOT NULL UNIQUE,
    rv        INTEGER NOT NULL,
    node_name TEXT,                   -- pods: spec.nodeName, for per-node lists and scheduling
    body      TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX objects_by_node ON objects (kind, node_name);

-- The watch history: one row per change, at its revision.
CREATE TABLE events (
    rev        INTEGER PRIMARY KEY,
    type       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    object     TEXT NOT NULL,          -- the object after the change (for DELETED: as it was)
    old_object TEXT                    -- MODIFIED: the object before, to filter watches
);
CREATE INDEX events_by_kind ON events (kind, rev);

-- Node pod subnets: one row per subnet ever leased. node_name is set while leased;
-- released_at/last_node remember a reclaimed lease so it is handed out last, and to its
-- old node first.
CREATE TABLE subnets (
    cidr        TEXT PRIMARY KEY,
    node_name   TEXT UNIQUE,
    last_node   TEXT,
    released_at INTEGER,
    ip_cursor   INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE pod_ips (
    ip        TEXT PRIMARY KEY,
    pod_uid   TEXT NOT NULL UNIQUE,
    node_name TEXT NOT NULL
);

CREATE TABLE cluster_ips (
    ip          TEXT PRIMARY KEY,
    service_uid TEXT NOT NULL
);

CREATE TABLE node_ports (
    port        INTEGER PRIMARY KEY,
    service_uid TEXT NOT NULL
);

-- Node-scoped bearer tokens, by SHA-256 of the token (the token itself is never stored).
CREATE TABLE node_tokens (
    hash      TEXT PRIMARY KEY,
    node_name TEXT NOT NULL,
    created   TEXT NOT NULL
);
