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
) WITHOUT ROWID; -- rows clustered by kind and name: a list reads consecutive pages
CREATE INDEX objects_by_node ON objects (kind, node_name);

-- Pods bound to each node, kept by triggers on every pod write, so that scheduling costs
-- O(nodes) rather than a count over every pod.
CREATE TABLE node_pods (
    node_name TEXT PRIMARY KEY NOT NULL,
    pods      INTEGER NOT NULL
);
CREATE TRIGGER node_pods_insert AFTER INSERT ON objects
WHEN NEW.kind = 'Pod' AND NEW.node_name IS NOT NULL
BEGIN
    INSERT INTO node_pods (node_name, pods) VALUES (NEW.node_name, 1)
        ON CONFLICT(node_name) DO UPDATE SET pods = pods + 1;
END;
CREATE TRIGGER node_pods_delete AFTER DELETE ON objects
WHEN OLD.kind = 'Pod' AND OLD.node_name IS NOT NULL
BEGIN
    UPDATE node_pods SET pods = pods - 1 WHERE node_name = OLD.node_name;
END;
CREATE TRIGGER node_pods_rebind AFTER UPDATE OF node_name ON objects
WHEN NEW.kind = 'Pod' AND OLD.node_name IS NOT NEW.node_name
BEGIN
    UPDATE node_pods SET pods = pods - 1 WHERE node_name = OLD.node_name;
    INSERT INTO node_pods (node_name, pods) SELECT NEW.node_name, 1 WHERE NEW.node_name IS NOT NULL
        ON CONFLICT(node_name) DO UPDATE SET pods = pods + 1;
END;

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

-- Every insert and update of an object is an event at its new revision, in the same
-- statement. A deletion's event is written by the server: it carries the object stamped
-- with the deletion's revision, which no longer exists in `objects`.
CREATE TRIGGER events_on_insert AFTER INSERT ON objects
BEGIN
    INSERT INTO events (rev, type, kind, namespace, object)
        VALUES (NEW.rv, 'ADDED', NEW.kind, NEW.namespace, NEW.body);
END;
CREATE TRIGGER events_on_update AFTER UPDATE ON objects
BEGIN
    INSERT INTO events (rev, type, kind, namespace, object, old_object)
        VALUES (NEW.rv, 'MODIFIED', NEW.kind, NEW.namespace, NEW.body, OLD.body);
END;

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
    node_name TEXT NOT NULL,
    subnet    TEXT NOT NULL,
    offset    INTEGER NOT NULL
);
-- The next allocation in a subnet continues after the last one.
CREATE TRIGGER pod_ips_cursor AFTER INSERT ON pod_ips
BEGIN
    UPDATE subnets SET ip_cursor = NEW.offset WHERE cidr = NEW.subnet;
END;

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
